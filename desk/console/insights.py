"""The console's insights: the figures page, its charts and its tables as CSV.

Marketing users and supervisors read them; operators get 403. Everything comes from
:mod:`insights` (the report, the charts, the filters); this module only turns the query
string into filters and the report into a page, an image or a file. The insights package
(and matplotlib) load on the first insights request only, so an operator-only console
never pays for them.

The filters' ``language`` is the customers' language; ``lang`` stays the console's own.
A bad filter falls back to the default period and says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import sqlite_utils
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from desk.console.deps import Db, InsightsReader, Now
from desk.console.display import format_duration
from desk.console.render import refusal, render, ui_text
from desk.console.text import SUPPORTED_LANGS, UI_TEXT
from sportello.clock import DISPLAY_TZ

router = APIRouter()


def _filters(request: Request, now: datetime) -> tuple[Any, str | None]:
    """The filters in the query, and what was wrong with them (None when nothing)."""
    from insights.filters import FilterError, make_filters

    query = request.query_params
    today = now.astimezone(DISPLAY_TZ).date()
    language = query.get("language") or None
    try:
        return make_filters(
            query.get("since"),
            query.get("until"),
            channel=(query.get("channel") or "")[:40] or None,
            lang=language if language in SUPPORTED_LANGS else None,
            source=query.get("source") or None,
            today=today,
        ), None
    except FilterError as exc:
        return make_filters(today=today), str(exc)


def _link(filters: Any) -> str:
    """The filters as a query string, for chart and CSV links."""
    values = {
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
        "channel": filters.channel or "",
        "language": filters.lang or "",
        "source": filters.source,
    }
    return urlencode({k: v for k, v in values.items() if v})


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, places: int = 0) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def _report(db: sqlite_utils.Database, filters: Any, now: datetime, with_gaps: bool) -> Any:
    from insights.report import build_report

    return build_report(db, filters, now=now, with_gaps=with_gaps)


@router.get("/insights", response_class=HTMLResponse)
def insights(request: Request, user: InsightsReader, db: Db, now: Now) -> HTMLResponse:
    from insights.charts import CHARTS
    from insights.data import channels_seen
    from insights.report import table

    text = ui_text(request)
    filters, problem = _filters(request, now)
    report = _report(db, filters, now, with_gaps=True)
    return render(
        request,
        "insights.html",
        notice=refusal("insights_bad_filter", why=problem) if problem else None,
        report=report,
        filters=filters,
        query=_link(filters),
        channels=channels_seen(db),
        articles=table(report, "articles", text.lang),
        article_ratings=table(report, "article_ratings", text.lang),
        charts=CHARTS,
        may_write_articles=user.works_tickets,
        write_url=lambda gap: (
            "/articles/new?"
            + urlencode({"lang": gap.lang, "question": gap.representative}, quote_via=quote)
        ),
        pct=_percent,
        num=_number,
        dur=lambda delta: format_duration(delta, text.lang) if delta is not None else "—",
    )


@router.get("/insights/charts/{name}.png")
def chart(request: Request, name: str, user: InsightsReader, db: Db, now: Now) -> Response:
    from insights import charts

    if name not in charts.CHARTS:
        return render(request, "error.html", 404, message_key="insights_unknown")
    text = ui_text(request)
    filters, _ = _filters(request, now)
    report = _report(db, filters, now, with_gaps=name in charts.NEEDS_GAPS)
    labels = {
        key[len("insights_chart_") :]: value
        for key, value in UI_TEXT[text.lang].items()
        if key.startswith("insights_chart_")
    }
    png = charts.render(report, name, {**labels, "lang": text.lang})
    return Response(png, media_type="image/png")


@router.get("/insights/{name}.csv")
def csv_table(request: Request, name: str, user: InsightsReader, db: Db, now: Now) -> Response:
    from insights.report import TABLES, columns, table, to_csv

    if name not in TABLES:
        return render(request, "error.html", 404, message_key="insights_unknown")
    text = ui_text(request)
    filters, _ = _filters(request, now)
    report = _report(db, filters, now, with_gaps=name == "gaps")
    body = to_csv(columns(name, report), table(report, name, text.lang))
    filename = f"insights-{name}-{filters.since}-{filters.until}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
