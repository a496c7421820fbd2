"""The insights page in headless Chromium: it renders with every chart loaded.

The console is served by uvicorn on a free loopback port over the demo data; a
supervisor logs in through the form. The screenshot is saved as
test-artifacts/console-insights.png.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlite_utils

from desk import users
from desk.console.app import create_app
from desk.console.text import UI_TEXT
from insights.demo import seed_demo
from sportello.settings import Settings
from tests.browser import chromium
from tests.desk.console.conftest import PASSWORD
from tests.servers import serving

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
TEXT = UI_TEXT["en"]


def test_insights_page_renders_its_charts_in_chromium(
    settings: Settings, db: sqlite_utils.Database
) -> None:
    seed_demo(db, now=NOW, conversations=200)
    users.create_user(db, "sara", PASSWORD, "supervisor", lang="en")
    app = create_app(settings, clock=lambda: NOW, failure_delay=0)
    with serving(app, "console") as url, chromium() as browser:
        page = browser.new_page(locale="en-GB", viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/insights")
        page.fill("input[name=username]", "sara")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/insights")
        page.select_option("select[name=source]", "simulated")
        page.fill("input[name=since]", "2026-10-26")
        page.fill("input[name=until]", "2026-11-22")
        page.click("#insights-filters button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "since=2026-10-26" in page.url and "source=simulated" in page.url
        assert page.locator("h1").first.inner_text() == TEXT["insights_title"]
        assert page.locator("#simulated-notice").is_visible()
        charts = page.locator("img.chart")
        assert charts.count() == 6
        for index in range(charts.count()):
            chart = charts.nth(index)
            chart.scroll_into_view_if_needed()
            loaded = chart.evaluate("img => img.complete && img.naturalWidth > 0")
            assert loaded, chart.get_attribute("src")
            assert chart.bounding_box()["width"] > 300
        assert page.locator("a.write-article").count() > 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-insights.png"), full_page=True)
        assert not problems, problems
