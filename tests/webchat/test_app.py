"""The chat page: language choice, widget wiring, no secrets, and the security headers."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sportello.settings import Settings
from sportello.web import choose_language
from tests.browser import chromium, require_browser
from tests.servers import free_port, serving
from webchat.app import PAGE_TEXT, WIDGET_JS, create_app, installed_widget_version, socket_url

TOKEN = "s3cret-rasa-token-never-in-pages"
FAKE_BUNDLE = "window.WebChat = {default: function () {}};\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, host="127.0.0.1", rasa_port=5123, rasa_token=TOKEN)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "index.js"
    path.write_text(FAKE_BUNDLE, encoding="utf-8")
    return path


@pytest.fixture
def client(settings: Settings, bundle: Path) -> TestClient:
    return TestClient(create_app(settings, widget_path=bundle))


def widget_config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="webchat-config">(.*?)</script>', html)
    assert match, "the page must carry the widget configuration"
    return json.loads(match.group(1))


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


# --- language ---------------------------------------------------------------------------


def test_page_is_italian_by_default(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<html lang="it">' in response.text
    assert PAGE_TEXT["it"]["heading"] in response.text
    assert response.headers["content-language"] == "it"
    assert widget_config(response.text)["widget"]["customData"] == {"language": "it"}


def test_query_parameter_selects_english(client: TestClient) -> None:
    response = client.get("/?lang=en")
    assert '<html lang="en">' in response.text
    assert PAGE_TEXT["en"]["heading"] in response.text
    assert PAGE_TEXT["it"]["heading"] not in response.text
    config = widget_config(response.text)
    assert config["widget"]["inputTextFieldHint"] == PAGE_TEXT["en"]["input_hint"]
    assert config["widget"]["customData"] == {"language": "en"}


def test_browser_language_selects_english(client: TestClient) -> None:
    response = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,it;q=0.5"})
    assert '<html lang="en">' in response.text
    assert response.headers["vary"] == "Accept-Language"


def test_query_parameter_wins_over_browser_language(client: TestClient) -> None:
    response = client.get("/?lang=it", headers={"Accept-Language": "en-US,en"})
    assert '<html lang="it">' in response.text


def test_page_links_to_the_other_language(client: TestClient) -> None:
    assert 'href="?lang=en"' in client.get("/").text
    assert 'href="?lang=it"' in client.get("/?lang=en").text


def test_default_language_comes_from_settings(tmp_path: Path, bundle: Path) -> None:
    settings = Settings(data_dir=tmp_path, default_lang="en")
    client = TestClient(create_app(settings, widget_path=bundle))
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "fr-FR"}).text


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "it"),
        (None, "", "it"),
        ("EN", None, "en"),
        ("de", "en", "en"),  # unsupported query value: fall through to the header
        (None, "fr-FR,fr;q=0.9", "it"),
        (None, "fr-FR,en;q=0.3,it;q=0.2", "en"),
        (None, "it;q=0.5,en;q=0.8", "en"),  # weights, not order, decide
        (None, "en;q=0,it", "it"),  # q=0 means "not this language"
        (None, "en-US;q=abc,it", "it"),  # malformed weight counts as refused
        (None, "en,it", "en"),  # equal weights: first listed wins
    ],
)
def test_choose_language(query: str | None, header: str | None, expected: str) -> None:
    assert choose_language(query, header, "it") == expected


def test_unsupported_default_falls_back_to_italian() -> None:
    assert choose_language(None, None, "de") == "it"


def test_every_page_string_exists_in_both_languages() -> None:
    assert set(PAGE_TEXT["it"]) == set(PAGE_TEXT["en"])
    for lang in ("it", "en"):
        assert all(value.strip() for value in PAGE_TEXT[lang].values())


# --- widget wiring and secrets -------------------------------------------------------------


def test_page_points_the_widget_at_rasa(client: TestClient) -> None:
    widget = widget_config(client.get("/").text)["widget"]
    assert widget["socketUrl"] == "http://127.0.0.1:5123"
    assert widget["socketPath"] == "/socket.io/"
    assert widget["initPayload"] == '/greet{"language":"it"}'
    assert widget["embedded"] is True  # opened by default, no launcher to click


def test_rasa_token_never_reaches_the_browser(client: TestClient) -> None:
    for path in ("/", "/?lang=en", "/widget.js", "/chat.css", "/healthz"):
        response = client.get(path)
        assert TOKEN not in response.text, path
        assert all(TOKEN not in value for value in response.headers.values()), path


def test_wildcard_bind_address_uses_the_host_the_browser_used(tmp_path: Path, bundle: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", rasa_host="0.0.0.0", rasa_port=5123)
    client = TestClient(create_app(settings, widget_path=bundle))
    response = client.get("/", headers={"Host": "chat.example.it:8000"})
    assert widget_config(response.text)["widget"]["socketUrl"] == "http://chat.example.it:5123"
    connect = csp_directives(response.headers["content-security-policy"])["connect-src"]
    assert "ws://chat.example.it:5123" in connect


def test_wildcard_bind_address_with_an_ipv6_host(tmp_path: Path, bundle: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", rasa_host="0.0.0.0", rasa_port=5123)
    client = TestClient(create_app(settings, widget_path=bundle))
    response = client.get("/", headers={"Host": "[::1]:8000"})
    assert widget_config(response.text)["widget"]["socketUrl"] == "http://[::1]:5123"


def test_odd_host_header_never_reaches_the_page(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", rasa_host="0.0.0.0", rasa_port=5123)
    assert socket_url(settings, "evil.example;script-src *") == "http://127.0.0.1:5123"
    assert socket_url(settings, "chat.example.it") == "http://chat.example.it:5123"


def test_an_open_chat_page_does_not_open_rasa(tmp_path: Path) -> None:
    """SPORTELLO_HOST opens the chat page only: Rasa stays on loopback unless its own
    SPORTELLO_RASA_HOST says otherwise, so the page never points browsers at a port
    that would have to be public."""
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", rasa_port=5123)
    assert socket_url(settings, "chat.example.it") == "http://127.0.0.1:5123"


def test_the_public_socket_address_is_used_with_wss(tmp_path: Path, bundle: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        host="0.0.0.0",
        rasa_port=5123,
        public_socket_url="https://chat.example.it",
    )
    client = TestClient(create_app(settings, widget_path=bundle))
    response = client.get("/", headers={"Host": "chat.example.it"})
    assert widget_config(response.text)["widget"]["socketUrl"] == "https://chat.example.it"
    connect = csp_directives(response.headers["content-security-policy"])["connect-src"]
    assert "wss://chat.example.it" in connect
    assert "ws://chat.example.it" not in connect


def test_widget_bundle_is_served(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.text == FAKE_BUNDLE
    assert "javascript" in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_missing_widget_bundle_explains_how_to_install_it(
    settings: Settings, tmp_path: Path
) -> None:
    client = TestClient(create_app(settings, widget_path=tmp_path / "not-installed.js"))
    response = client.get("/widget.js")
    assert response.status_code == 503
    assert "scripts/setup.sh" in response.text
    assert "non è installato" in response.text and "not installed" in response.text
    assert client.get("/healthz").json() == {"status": "ok", "widget": False}


def test_default_bundle_is_rasa_webchat_from_node_modules() -> None:
    assert WIDGET_JS.parts[-4:] == ("node_modules", "rasa-webchat", "lib", "index.js")


def test_healthz_reports_the_widget(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "widget": True}


def test_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/chat.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "#webchat" in response.text


# --- security headers ------------------------------------------------------------------------


def test_page_csp_allows_the_rasa_socket_and_nothing_else(client: TestClient) -> None:
    response = client.get("/")
    policy = csp_directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:5123", "ws://127.0.0.1:5123"]
    assert policy["frame-ancestors"] == ["'none'"]
    script_src = policy["script-src"]
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert not any(source.startswith("http") for source in script_src)


def test_inline_script_carries_this_responses_nonce(client: TestClient) -> None:
    first, second = client.get("/"), client.get("/")
    nonces = []
    for response in (first, second):
        script_src = csp_directives(response.headers["content-security-policy"])["script-src"]
        (nonce_source,) = [s for s in script_src if s.startswith("'nonce-")]
        nonce = nonce_source.removeprefix("'nonce-").removesuffix("'")
        assert f'<script nonce="{nonce}">' in response.text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert first.headers["cache-control"] == "no-store"


def test_every_response_has_the_base_security_headers(client: TestClient) -> None:
    for path in ("/", "/widget.js", "/chat.css", "/healthz", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert "content-security-policy" in headers, path


# --- real browser ----------------------------------------------------------------------------


@pytest.fixture
def served_page(tmp_path: Path) -> Iterator[str]:
    """The real app with the real bundle on a loopback port; Rasa deliberately absent."""
    require_browser()
    settings = Settings(data_dir=tmp_path, rasa_port=free_port(), rasa_token=TOKEN)
    with serving(create_app(settings), "chat page") as url:
        yield url


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["it", "en"])
def test_widget_renders_in_headless_chromium(served_page: str, lang: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        blocked: list[str] = []
        errors: list[str] = []
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{served_page}/?lang={lang}", wait_until="load")
        field = page.locator("#webchat .rw-widget-embedded textarea.rw-new-message")
        field.wait_for(timeout=10_000)
        assert field.get_attribute("placeholder") == PAGE_TEXT[lang]["input_hint"]
        assert page.locator("#webchat .rw-loading").inner_text() == PAGE_TEXT[lang]["connecting"]
        assert page.locator("#webchat").bounding_box()["height"] > 300
        assert errors == []
        # The bundle @imports Google Fonts; the policy blocks that on purpose (no
        # third-party requests from customers' browsers). Nothing else may be blocked.
        assert [m for m in blocked if "fonts.googleapis.com" not in m] == []


def test_english_page_greets_in_english(client: TestClient) -> None:
    widget = widget_config(client.get("/?lang=en").text)["widget"]
    assert widget["initPayload"] == '/greet{"language":"en"}'


def test_the_chat_is_kept_in_the_browser_for_the_configured_days(client: TestClient) -> None:
    page = html.unescape(client.get("/?lang=it").text)
    config = widget_config(page)
    assert config["widget"]["params"] == {"storage": "local"}
    assert config["keepDays"] == 7 and config["lang"] == "it"
    assert "resta salvata in questo browser per 7 giorni dall'ultimo messaggio" in page
    assert "Cancella questa conversazione da questo browser" in page
    english = client.get("/?lang=en").text
    assert "kept in this browser for 7 days after the last message" in english
    assert "Delete this conversation from this browser" in english
    assert '<script src="/chat.js"></script>' in page


def test_keep_days_come_from_the_settings(tmp_path: Path, bundle: Path) -> None:
    one = TestClient(create_app(Settings(data_dir=tmp_path, webchat_keep_days=1), bundle))
    page = one.get("/?lang=en").text
    assert "for one day after the last message" in page
    assert widget_config(page)["keepDays"] == 1


def test_with_keep_days_zero_the_chat_stays_in_the_tab(tmp_path: Path, bundle: Path) -> None:
    off = TestClient(create_app(Settings(data_dir=tmp_path, webchat_keep_days=0), bundle))
    page = off.get("/?lang=it").text
    assert widget_config(page)["widget"]["params"] == {"storage": "session"}
    assert "resta solo in questa scheda" in page
    assert 'id="forget-chat"' not in page


def test_the_page_script_is_served_from_this_origin(client: TestClient) -> None:
    response = client.get("/chat.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "SportelloChat" in response.text


def test_the_widget_version_is_read_from_its_package(tmp_path: Path) -> None:
    """chat.js writes the widget's record with it (the widget drops other versions)."""
    lib = tmp_path / "rasa-webchat" / "lib"
    lib.mkdir(parents=True)
    (lib / "index.js").write_text(FAKE_BUNDLE, encoding="utf-8")
    (lib.parent / "package.json").write_text('{"version": "1.0.1"}', encoding="utf-8")
    client = TestClient(create_app(Settings(data_dir=tmp_path), widget_path=lib / "index.js"))
    assert widget_config(client.get("/").text)["widgetVersion"] == "1.0.1"
    if WIDGET_JS.is_file():
        assert installed_widget_version(WIDGET_JS) == "1.0.1"  # the pinned one
