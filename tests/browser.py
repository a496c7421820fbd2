"""Headless Debian Chromium for the tests, driven by Playwright.

``make test`` sets ``SPORTELLO_REQUIRE_BROWSER=1``: there a missing Chromium or widget is
a failure, not a skip, so CI can never pass without having run the browser tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from webchat.app import WIDGET_JS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def require_browser() -> None:
    """Skip (or, under ``make test``, fail) when Chromium or the widget is missing."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append("chromium not installed: run scripts/setup.sh --browser")
    if not WIDGET_JS.is_file():
        missing.append("rasa-webchat not installed: run scripts/setup.sh")
    if not missing:
        return
    if os.environ.get("SPORTELLO_REQUIRE_BROWSER") == "1":
        pytest.fail("; ".join(missing))
    pytest.skip("; ".join(missing))


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser, closed on exit."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
