"""Start-up objects are frozen once, after a collection (sportello/heap.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from sportello.settings import PROJECT_ROOT


def test_freezing_collects_first_and_happens_once_per_process() -> None:
    script = """
import gc, json, weakref
from sportello import heap

class Cycle:
    pass

gc.disable()  # no automatic collection: only the one before freezing may free it
garbage = Cycle()
garbage.me = garbage  # a cycle: only the collector can free it
alive = weakref.ref(garbage)
del garbage
first = heap.freeze_startup_objects()
print(json.dumps({"first": first, "again": heap.freeze_startup_objects(),
                  "frozen": gc.get_freeze_count(), "cycle_kept": alive() is not None}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["first"] is True and result["again"] is False
    assert result["frozen"] > 1000
    assert result["cycle_kept"] is False  # collected before the freeze, not kept alive by it
