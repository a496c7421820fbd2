"""The customer log's fixtures: an empty data directory, its database and a fake tracker
store beside it (privacy's export, erasure and retention act on what the log keeps)."""

from tests.customerlog.conftest import data_dir, db, tracker

__all__ = ["data_dir", "db", "tracker"]
