"""The supervisor restarts a service that stops, and gives up on one that keeps stopping."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from stack.services import MAX_RESTARTS, Service, ServiceError, supervise


def _service(tmp_path: Path, code: str) -> Service:
    return Service(
        name="worker",
        argv=[sys.executable, "-c", code],
        health_url=None,
        log_path=tmp_path / "worker.log",
    )


def test_a_stopped_service_is_started_again(tmp_path: Path) -> None:
    service = _service(tmp_path, "import time; time.sleep(60)")
    service.start()
    first_pid = service.process.pid
    stop = threading.Event()
    restarted: list[Service] = []

    def on_restart(s: Service) -> None:
        restarted.append(s)
        stop.set()

    service.process.kill()
    try:
        supervise([service], stop, poll_s=0.05, on_restart=on_restart)
        assert restarted == [service]
        assert service.running and service.process.pid != first_pid
    finally:
        service.stop()


def test_a_service_that_keeps_stopping_is_given_up_on(tmp_path: Path) -> None:
    service = _service(tmp_path, "import sys; print('started', flush=True); sys.exit(3)")
    service.start()
    with pytest.raises(ServiceError, match="keeps stopping"):
        supervise([service], threading.Event(), poll_s=0.01, ready_timeout=5)
    starts = (tmp_path / "worker.log").read_text().split()
    assert starts.count("started") == 1 + MAX_RESTARTS


def test_nothing_is_restarted_after_stop(tmp_path: Path) -> None:
    service = _service(tmp_path, "pass")
    service.start()
    service.process.wait()
    stop = threading.Event()
    stop.set()
    supervise([service], stop, poll_s=0.01)
    assert not service.running
