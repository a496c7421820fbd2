"""How the services are configured for a given set of settings."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from sportello.services import RASA_BIN, ServiceError, build_services, rasa_env, write_endpoints
from sportello.settings import PROJECT_ROOT, Settings


def test_endpoints_point_rasa_at_this_action_server_and_tracker(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, action_port=6123)
    endpoints = yaml.safe_load(write_endpoints(settings).read_text())
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:6123/webhook"
    assert endpoints["tracker_store"] == {
        "type": "bot.tracker_store.SQLiteTrackerStore",
        "dialect": "sqlite",
        "db": str(tmp_path / "tracker.db"),
    }


def test_a_postgresql_tracker_url_makes_rasa_write_there(tmp_path: Path) -> None:
    """With SPORTELLO_TRACKER_URL set, Rasa writes where the customer log reads."""
    url = "postgresql+psycopg2://rasa:p%40ss%3Aword@db.internal:5433/rasa_prod?sslmode=require"
    path = write_endpoints(Settings(data_dir=tmp_path, tracker_url=url))
    assert yaml.safe_load(path.read_text())["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "db.internal",
        "port": 5433,
        "db": "rasa_prod",
        "username": "rasa",
        "password": "p@ss:word",
        "query": {"sslmode": "require"},
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the password is in it


def test_a_sqlite_tracker_url_names_another_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared" / "tracker.db"
    settings = Settings(data_dir=tmp_path, tracker_url=f"sqlite:///{elsewhere}")
    store = yaml.safe_load(write_endpoints(settings).read_text())["tracker_store"]
    assert store["type"] == "bot.tracker_store.SQLiteTrackerStore"
    assert store["db"] == str(elsewhere)


def test_an_unsupported_tracker_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="SPORTELLO_TRACKER_URL"):
        write_endpoints(Settings(data_dir=tmp_path, tracker_url="mongodb://db/rasa"))


def test_rasa_api_is_token_protected_and_token_not_given_to_the_web_page(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rasa_token="s3cret")
    services = {s.name: s for s in build_services(settings, tmp_path / "model.tar.gz")}
    rasa_argv = services["Rasa server"].argv
    assert rasa_argv[rasa_argv.index("--auth-token") + 1] == "s3cret"
    assert "--enable-api" in rasa_argv
    assert "s3cret" not in " ".join(services["chat page"].argv)


def test_rasa_runs_with_its_usage_telemetry_off_even_when_its_user_enabled_it(
    tmp_path: Path,
) -> None:
    """Rasa 3.6 switches telemetry on for a user on first use; Sportello's Rasa processes
    must not report to Rasa's servers whatever that user's configuration says."""
    services = {s.name: s for s in build_services(Settings(data_dir=tmp_path), tmp_path / "m")}
    assert services["Rasa server"].env["RASA_TELEMETRY_ENABLED"] == "false"
    home = tmp_path / "home"
    (home / ".config" / "rasa").mkdir(parents=True)
    (home / ".config" / "rasa" / "global.yml").write_text("metrics:\n  enabled: true\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    said = {}
    for name, extra in (("user", {}), ("sportello", rasa_env())):
        run = [str(RASA_BIN), "telemetry"]
        said[name] = subprocess.run(
            run, env={**env, **extra}, capture_output=True, text=True, timeout=120
        ).stdout
    assert "currently enabled" in said["user"]  # the check can tell the two apart
    assert "currently disabled" in said["sportello"]
    make = subprocess.run(
        ["make", "-s", "--eval", "show-telemetry: ; @echo $$RASA_TELEMETRY_ENABLED",
         "show-telemetry"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert make.stdout.strip() == "false"  # make train / make rasa-test run rasa directly


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
