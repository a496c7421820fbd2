"""How the services are configured for a given set of settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from sportello.services import build_services, write_endpoints
from sportello.settings import Settings


def test_endpoints_point_rasa_at_this_action_server_and_tracker(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, action_port=6123)
    endpoints = yaml.safe_load(write_endpoints(settings).read_text())
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:6123/webhook"
    assert endpoints["tracker_store"] == {
        "type": "bot.tracker_store.SQLiteTrackerStore",
        "dialect": "sqlite",
        "db": str(tmp_path / "tracker.db"),
    }


def test_rasa_api_is_token_protected_and_token_not_given_to_the_web_page(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rasa_token="s3cret")
    services = {s.name: s for s in build_services(settings, tmp_path / "model.tar.gz")}
    rasa_argv = services["Rasa server"].argv
    assert rasa_argv[rasa_argv.index("--auth-token") + 1] == "s3cret"
    assert "--enable-api" in rasa_argv
    assert "s3cret" not in " ".join(services["chat page"].argv)


def test_services_get_the_settings_ports(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, rasa_port=7001, action_port=7002, web_port=7003, console_port=7004
    )
    urls = [s.health_url for s in build_services(settings, tmp_path / "m.tar.gz")]
    assert urls == [
        "http://127.0.0.1:7002/health",
        "http://127.0.0.1:7001/",
        "http://127.0.0.1:7003/healthz",
        "http://127.0.0.1:7004/healthz",
        None,  # the SLA monitor has no HTTP side
    ]


def test_every_app_service_reads_the_same_sla_policy(tmp_path: Path) -> None:
    policy = tmp_path / "sla.toml"
    settings = Settings(data_dir=tmp_path, sla_file=policy)
    services = build_services(settings, tmp_path / "m.tar.gz")
    app_services = [s for s in services if s.name != "Rasa server"]
    assert all(s.env["SPORTELLO_SLA_FILE"] == str(policy) for s in app_services)
