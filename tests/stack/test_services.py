"""How the services are configured for a given set of settings."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.rasa_main import argv_with_token
from sportello.keys import MIN_RASA_TOKEN_CHARS, rasa_token, weak_rasa_token
from sportello.settings import PROJECT_ROOT, Settings
from stack.services import (
    ServiceError,
    build_services,
    exposure_problems,
    rasa_env,
    secure_data_dir,
    serve,
    write_endpoints,
)


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
    """The token reaches Rasa through its environment: a command line is public (ps)."""
    settings = Settings(data_dir=tmp_path, rasa_token="s3cret")
    services = {s.name: s for s in build_services(settings, tmp_path / "model.tar.gz")}
    rasa = services["Rasa server"]
    assert rasa.env["SPORTELLO_RASA_TOKEN"] == "s3cret"
    assert rasa.argv[1:3] == ["-m", "bot.rasa_main"]
    assert "--enable-api" in rasa.argv
    assert all("s3cret" not in " ".join(s.argv) for s in services.values())


def test_without_a_configured_token_a_random_one_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    token = rasa_token(settings)
    assert len(token) >= MIN_RASA_TOKEN_CHARS and weak_rasa_token(token) is None
    assert stat.S_IMODE((tmp_path / "rasa_token").stat().st_mode) == 0o600
    assert rasa_token(Settings(data_dir=tmp_path)) == token  # every process agrees
    rasa = {s.name: s for s in build_services(settings, tmp_path / "m")}["Rasa server"]
    assert rasa.env["SPORTELLO_RASA_TOKEN"] == token


@pytest.mark.parametrize("token", ["change-me-sportello", "short-but-not-default"])
def test_sportello_run_refuses_a_known_or_short_token(tmp_path: Path, token: str) -> None:
    [problem] = exposure_problems(Settings(data_dir=tmp_path, rasa_token=token))
    assert "SPORTELLO_RASA_TOKEN" in problem
    with pytest.raises(ServiceError, match="SPORTELLO_RASA_TOKEN"):
        serve(Settings(data_dir=tmp_path, rasa_token=token))


def test_the_wrapper_passes_the_token_to_rasa_before_the_origins() -> None:
    argv = ["rasa_main.py", "run", "--cors", "http://127.0.0.1:8000"]
    assert argv_with_token(argv, "T" * 40) == [
        "rasa_main.py", "run", "--auth-token", "T" * 40, "--cors", "http://127.0.0.1:8000",
    ]  # fmt: skip
    assert argv_with_token(argv, None) == argv


def test_every_service_stays_on_loopback_by_default(tmp_path: Path) -> None:
    services = {s.name: s for s in build_services(Settings(data_dir=tmp_path), tmp_path / "m")}
    binds = {
        "action server": "--host",
        "Rasa server": "--interface",
        "chat page": "--host",
        "operator console": "--host",
    }
    for name, flag in binds.items():
        argv = services[name].argv
        assert argv[argv.index(flag) + 1] == "127.0.0.1", name


def test_an_open_chat_page_does_not_open_the_other_services(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        host="0.0.0.0",
        public_chat_url="https://chat.example.it/",
        public_socket_url="https://chat.example.it",
    )
    services = {s.name: s for s in build_services(settings, tmp_path / "m")}
    for name, flag in [("action server", "--host"), ("Rasa server", "--interface")]:
        assert services[name].argv[services[name].argv.index(flag) + 1] == "127.0.0.1"
    console = services["operator console"].argv
    assert console[console.index("--host") + 1] == "127.0.0.1"


def test_rasa_accepts_cross_origin_calls_from_the_chat_page_only(tmp_path: Path) -> None:
    def origins(settings: Settings) -> list[str]:
        argv = {s.name: s for s in build_services(settings, tmp_path / "m")}["Rasa server"].argv
        return argv[argv.index("--cors") + 1 :]

    assert "*" not in origins(Settings(data_dir=tmp_path))
    assert "http://127.0.0.1:8000" in origins(Settings(data_dir=tmp_path))
    public = Settings(data_dir=tmp_path, public_chat_url="https://chat.example.it/shop")
    assert origins(public) == ["https://chat.example.it"]


def test_an_open_chat_page_needs_its_public_addresses(tmp_path: Path) -> None:
    token = "x" * 40
    problems = exposure_problems(Settings(data_dir=tmp_path, host="0.0.0.0", rasa_token=token))
    assert any("SPORTELLO_PUBLIC_CHAT_URL" in p for p in problems)
    assert any("SPORTELLO_PUBLIC_SOCKET_URL" in p for p in problems)
    proxied = Settings(
        data_dir=tmp_path,
        host="0.0.0.0",
        rasa_token=token,
        public_chat_url="https://chat.example.it",
        public_socket_url="https://chat.example.it",
    )
    assert exposure_problems(proxied) == []
    assert exposure_problems(Settings(data_dir=tmp_path)) == []  # make run, out of the box


def test_rasa_runs_with_its_usage_telemetry_off_even_when_its_user_enabled_it(
    tmp_path: Path, rasa_bin: Path
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
        run = [str(rasa_bin), "telemetry"]
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


def test_the_data_folder_is_made_private_also_when_an_older_version_left_it_open(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "index").mkdir(parents=True)
    (data / "sportello.db").write_bytes(b"")
    (data / "index" / "faiss.index").write_bytes(b"")
    for path in (data, data / "index"):
        path.chmod(0o755)
    for path in (data / "sportello.db", data / "index" / "faiss.index"):
        path.chmod(0o644)
    secure_data_dir(Settings(data_dir=data))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "index").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "sportello.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "index" / "faiss.index").stat().st_mode) == 0o600
