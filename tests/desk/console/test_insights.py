"""The insights page: who may read it, what it shows, its charts, CSV downloads and filters.

The data is the simulated demo (insights.demo) written at a fixed "now", so the page,
the CSVs and the charts read the same rows the library computes from.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlite_utils
from fastapi.testclient import TestClient

from desk import tickets
from desk.console.app import create_app
from desk.console.text import UI_TEXT
from insights.demo import seed_demo
from insights.filters import make_filters
from insights.report import TABLES, build_report
from sportello.settings import Settings
from tests.desk.console.conftest import logged_in, page_token

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
CHART_NAMES = ("conversations", "rates", "satisfaction", "speed", "articles", "gaps")


@pytest.fixture
def seeded(db: sqlite_utils.Database) -> sqlite_utils.Database:
    seed_demo(db, now=NOW, conversations=160)
    return db


@pytest.fixture
def client(settings: Settings, seeded: sqlite_utils.Database, people: dict) -> TestClient:
    return TestClient(
        create_app(settings, clock=lambda: NOW, failure_delay=0), follow_redirects=False
    )


def test_operators_cannot_read_insights(client: TestClient) -> None:
    logged_in(client, "anna")
    for path in ("/insights", "/insights/trend.csv", "/insights/charts/rates.png"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "image/png" not in response.headers["content-type"]


@pytest.mark.parametrize("username", ["mara", "sara"])
def test_marketing_and_supervisors_see_figures_charts_and_tables(
    client: TestClient, seeded: sqlite_utils.Database, username: str
) -> None:
    logged_in(client, username)
    page = client.get("/insights?lang=en")
    assert page.status_code == 200
    html = page.text
    report = build_report(seeded, make_filters(today=NOW.date()), now=NOW, with_gaps=False)
    # The figures on the page are the library's.
    figures = html[html.index('id="figures"') : html.index('id="charts"')]
    assert f"<strong>{report.summary.conversations}</strong>" in figures
    assert f"{100 * report.summary.containment_rate:.1f}%" in figures
    assert f"{report.summary.csat_mean:.2f}" in figures
    # Charts are images from the console itself, one per chart, with the filters.
    sources = re.findall(r'<img class="chart" src="([^"]+)"', html)
    assert [urlsplit(s).path for s in sources] == [f"/insights/charts/{n}.png" for n in CHART_NAMES]
    assert all("since=" in s and "until=" in s for s in sources)
    # Every table has its CSV link; the simulated data is announced.
    for name in TABLES:
        assert f'href="/insights/{name}.csv?' in html, name
    assert 'id="simulated-notice"' in html
    assert "<script" not in html.lower()


def test_every_chart_is_a_png(client: TestClient) -> None:
    logged_in(client, "mara")
    for name in CHART_NAMES:
        response = client.get(f"/insights/charts/{name}.png?since=2026-10-26&until=2026-11-22")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n"), name
    assert client.get("/insights/charts/nonsense.png").status_code == 404


def test_every_table_downloads_as_csv_with_the_page_filters(
    client: TestClient, seeded: sqlite_utils.Database
) -> None:
    logged_in(client, "mara")
    query = "since=2026-11-02&until=2026-11-15&channel=socketio&language=it"
    for name in TABLES:
        response = client.get(f"/insights/{name}.csv?{query}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/csv")
        assert (
            f"insights-{name}-2026-11-02-2026-11-15.csv" in response.headers["content-disposition"]
        )
        assert next(csv.reader(io.StringIO(response.text))), f"{name} has a header row"
    filters = make_filters("2026-11-02", "2026-11-15", channel="socketio", lang="it")
    expected = build_report(seeded, filters, now=NOW, with_gaps=False).summary.conversations
    summary = client.get(f"/insights/summary.csv?{query}").text
    rows = {row["figure"]: row["value"] for row in csv.DictReader(io.StringIO(summary))}
    assert int(rows["conversations"]) == expected > 0
    trend = list(csv.DictReader(io.StringIO(client.get(f"/insights/trend.csv?{query}").text)))
    assert [row["day"] for row in trend][:2] == ["2026-11-02", "2026-11-03"]
    assert len(trend) == 14
    assert client.get("/insights/nonsense.csv").status_code == 404


def test_source_filter_leaves_simulated_data_out(client: TestClient) -> None:
    logged_in(client, "mara")
    real = client.get("/insights/summary.csv?source=real").text
    rows = {row["figure"]: row["value"] for row in csv.DictReader(io.StringIO(real))}
    assert rows["conversations"] == "0"
    assert 'id="simulated-notice"' not in client.get("/insights?source=real").text


def test_a_bad_date_falls_back_to_the_default_period_and_says_so(client: TestClient) -> None:
    logged_in(client, "mara")
    page = client.get("/insights?since=yesterday&lang=en")
    assert page.status_code == 200
    assert "Invalid filter" in page.text
    assert 'value="2026-10-27"' in page.text  # the last 28 days up to the clock's today


def test_gap_rows_link_to_writing_the_missing_article(client: TestClient) -> None:
    logged_in(client, "sara")
    html = client.get("/insights?since=2026-10-26&until=2026-11-22").text
    links = re.findall(r'<a class="button write-article" href="([^"]+)"', html)
    assert links, "the demo's knowledge gaps are listed with a button"
    first = urlsplit(links[0].replace("&amp;", "&"))
    assert first.path == "/articles/new"
    params = parse_qs(first.query)
    assert params["lang"][0] in ("it", "en")
    assert params["question"][0] in unescape(html), "the button carries the row's question"
    assert UI_TEXT["it"]["insights_write_article"] in unescape(html)


def test_marketing_sees_gaps_without_the_write_button(client: TestClient) -> None:
    logged_in(client, "mara")
    html = client.get("/insights?since=2026-10-26&until=2026-11-22").text
    assert 'id="table-gaps"' in html
    assert "write-article" not in html


def test_marketing_cannot_open_tickets_or_change_articles(
    client: TestClient, seeded: sqlite_utils.Database
) -> None:
    ticket, _ = tickets.open_ticket(seeded, "conv-real-1", lang="it", now=NOW)
    logged_in(client, "mara")
    token = page_token(client)
    assert client.get("/queue").status_code == 403
    assert client.get(f"/tickets/{ticket.id}").status_code == 403
    for action in ("claim", "answer", "close"):
        response = client.post(
            f"/tickets/{ticket.id}/{action}", data={"csrf_token": token, "text": "hi"}
        )
        assert response.status_code == 403, action
    assert tickets.get_ticket(seeded, ticket.id).status == tickets.STATUS_OPEN
    assert client.get("/articles").status_code == 403
    assert client.get("/articles/new?lang=it&question=x").status_code == 403
    response = client.post(
        "/articles/new",
        data={"csrf_token": token, "lang": "it", "question": "Q?", "answer": "A."},
    )
    assert response.status_code == 403
    for action in ("publish", "reject", "retire"):
        response = client.post(f"/articles/spedizione-costi/{action}", data={"csrf_token": token})
        assert response.status_code == 403, action


def test_a_marketing_user_lands_on_insights(client: TestClient) -> None:
    logged_in(client, "mara")
    assert client.get("/").headers["location"] == "/insights"
