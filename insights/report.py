"""A whole insights report for one set of filters, and its tables as rows.

The console page, its CSV downloads, its charts and ``sportello insights`` all read a
:class:`Report`; :func:`table` turns one part of it into plain rows (column names are
stable English identifiers, the console translates the headers). In rows, rates are
fractions 0..1 rounded to 4 places, durations minutes rounded to 0.1, and a figure
without data is empty (``None``), never 0.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from customerlog.ratings import ArticleQuality
from desk import sla
from desk.tickets import configured_policy
from insights import figures
from insights.data import read_period, simulated_conversations
from insights.filters import Filters, buckets
from insights.gaps import GapCluster, knowledge_gaps
from knowledge.encoders import Encoder
from knowledge.store import get_article
from sportello.clock import utc_now

# How many articles and gap clusters a report lists.
TOP_ARTICLES = 15
TOP_GAPS = 20

TABLES = ("summary", "trend", "channels", "languages", "articles", "article_ratings", "gaps")

# The figures of a Summary, in the order tables show them, with how each is read.
SUMMARY_COLUMNS: tuple[tuple[str, Callable[[figures.Summary], Any]], ...] = (
    ("conversations", lambda s: s.conversations),
    ("customers", lambda s: s.customers),
    ("multichannel_customers", lambda s: s.multichannel_customers),
    ("contained", lambda s: s.contained),
    ("containment_rate", lambda s: _fraction(s.containment_rate)),
    ("escalated", lambda s: s.escalated),
    ("escalation_rate", lambda s: _fraction(s.escalation_rate)),
    ("first_contact_resolved", lambda s: s.first_contact_resolved),
    ("fcr_rate", lambda s: _fraction(s.fcr_rate)),
    ("csat_responses", lambda s: s.csat_responses),
    ("csat_mean", lambda s: _round(s.csat_mean, 2)),
    ("csat_satisfied_share", lambda s: _fraction(s.csat_satisfied_share)),
    ("nps_responses", lambda s: s.nps_responses),
    ("nps", lambda s: _round(s.nps, 1)),
    ("ces_responses", lambda s: s.ces_responses),
    ("ces_mean", lambda s: _round(s.ces_mean, 2)),
    ("ces_easy_share", lambda s: _fraction(s.ces_easy_share)),
    ("tickets", lambda s: s.tickets),
    ("tickets_answered", lambda s: s.tickets_answered),
    ("speed_to_answer_minutes", lambda s: _minutes(s.speed_wall)),
    ("speed_to_answer_business_minutes", lambda s: _minutes(s.speed_business)),
    ("tickets_closed", lambda s: s.tickets_closed),
    ("handling_time_minutes", lambda s: _minutes(s.handling_wall)),
    ("handling_time_business_minutes", lambda s: _minutes(s.handling_business)),
    ("sla_met", lambda s: s.sla_met),
    ("sla_breached", lambda s: s.sla_breached),
    ("sla_pending", lambda s: s.sla_pending),
    ("sla_compliance", lambda s: _fraction(s.sla_compliance)),
    ("first_response_breaches", lambda s: s.first_response_breaches),
    ("resolution_breaches", lambda s: s.resolution_breaches),
)


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _fraction(value: float | None) -> float | None:
    return _round(value, 4)


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


@dataclass
class Report:
    """Every figure of one period; ``gaps`` is None when not computed (charts that do
    not need them skip the encoder)."""

    filters: Filters
    now: datetime
    summary: figures.Summary
    trend: list[tuple[str, figures.Summary]]
    channels: list[tuple[str, figures.Summary]]
    languages: list[tuple[str, figures.Summary]]
    articles: list[figures.ArticleUsage]
    helpfulness: list[ArticleQuality]
    titles: dict[str, dict[str, str]]
    gaps: list[GapCluster] | None
    simulated: int

    @property
    def granularity(self) -> str:
        return self.filters.granularity

    def title(self, article_id: str, lang: str) -> str:
        """The article's question in ``lang`` (or its other language), else ''."""
        versions = self.titles.get(article_id, {})
        return versions.get(lang) or next(iter(versions.values()), "")


def _titles(db: sqlite_utils.Database, article_ids: set[str]) -> dict[str, dict[str, str]]:
    titles: dict[str, dict[str, str]] = {}
    for article_id in sorted(article_ids):
        for lang in ("it", "en"):
            article = get_article(db, article_id, lang)
            if article is not None:
                titles.setdefault(article_id, {})[lang] = article.question
    return titles


def build_report(
    db: sqlite_utils.Database,
    filters: Filters,
    *,
    now: datetime | None = None,
    policy: sla.SlaPolicy | None = None,
    with_gaps: bool = True,
    encoder: Encoder | None = None,
) -> Report:
    """Read the period (and, for gaps, the previous one) and compute every figure."""
    now = now or utc_now()
    policy = policy or configured_policy()
    data = read_period(db, filters, follow_up=figures.REPEAT_CONTACT_WINDOW)
    facts = figures.build_facts(data, policy, now)
    gaps = None
    if with_gaps:
        previous = read_period(db, filters.previous())
        previous_facts = figures.build_facts(previous, policy, now)
        gaps = knowledge_gaps(facts.turns, previous_facts.turns, encoder=encoder, limit=TOP_GAPS)
    articles = figures.most_used_articles(facts, TOP_ARTICLES)
    helpfulness = figures.article_helpfulness(facts)
    return Report(
        filters=filters,
        now=now,
        summary=figures.summarise(facts),
        trend=figures.breakdown(facts, filters.granularity, buckets(filters, filters.granularity)),
        channels=figures.breakdown(facts, figures.BY_CHANNEL),
        languages=figures.breakdown(facts, figures.BY_LANG),
        articles=articles,
        helpfulness=helpfulness,
        titles=_titles(db, {a.article_id for a in articles} | {q.article_id for q in helpfulness}),
        gaps=gaps,
        simulated=simulated_conversations(db, filters),
    )


# ---- tables ------------------------------------------------------------------------------


def _summary_rows(key: str, groups: list[tuple[str, figures.Summary]]) -> list[dict[str, Any]]:
    return [
        {key: label, **{name: read(summary) for name, read in SUMMARY_COLUMNS}}
        for label, summary in groups
    ]


def table(report: Report, name: str, lang: str = "it") -> list[dict[str, Any]]:
    """One of :data:`TABLES` as rows (dicts with the same keys, in column order);
    ``lang`` picks the language of article titles."""
    if name == "summary":
        return [{"figure": key, "value": read(report.summary)} for key, read in SUMMARY_COLUMNS]
    if name == "trend":
        return _summary_rows(report.granularity, report.trend)
    if name == "channels":
        return _summary_rows("channel", report.channels)
    if name == "languages":
        return _summary_rows("lang", report.languages)
    if name == "articles":
        return [
            {
                "article_id": a.article_id,
                "title": report.title(a.article_id, lang),
                "answers": a.answers,
                "conversations": a.conversations,
                "share": _fraction(a.share),
            }
            for a in report.articles
        ]
    if name == "article_ratings":
        return [
            {
                "article_id": q.article_id,
                "title": report.title(q.article_id, lang),
                "helpful": q.helpful,
                "not_helpful": q.not_helpful,
                "helpful_share": _fraction(q.helpful / q.votes if q.votes else None),
                "score": _fraction(q.score),
                "needs_review": q.needs_review,
            }
            for q in report.helpfulness
        ]
    if name == "gaps":
        return [
            {
                "rank": rank,
                "questions": gap.size,
                "previous_period": gap.previous,
                "trend": gap.trend,
                "conversations": gap.conversations,
                "lang": gap.lang,
                "representative": gap.representative,
                "examples": " | ".join(gap.examples),
            }
            for rank, gap in enumerate(report.gaps or [], start=1)
        ]
    raise KeyError(name)


def columns(name: str, report: Report) -> list[str]:
    """A table's column names, also when it has no rows."""
    rows = table(report, name)
    if rows:
        return list(rows[0])
    empty = {
        "summary": ["figure", "value"],
        "trend": [report.granularity, *(c for c, _ in SUMMARY_COLUMNS)],
        "channels": ["channel", *(c for c, _ in SUMMARY_COLUMNS)],
        "languages": ["lang", *(c for c, _ in SUMMARY_COLUMNS)],
        "articles": ["article_id", "title", "answers", "conversations", "share"],
        "article_ratings": [
            "article_id",
            "title",
            "helpful",
            "not_helpful",
            "helpful_share",
            "score",
            "needs_review",
        ],
        "gaps": [
            "rank",
            "questions",
            "previous_period",
            "trend",
            "conversations",
            "lang",
            "representative",
            "examples",
        ],
    }
    return empty[name]


# A text cell starting with one of these is a formula to Excel, LibreOffice and Google
# Sheets (OWASP, "CSV injection"): "=HYPERLINK(...)" typed by a customer would run on a
# marketing colleague's computer.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """``value`` safe for a spreadsheet: a text that would be evaluated gets a leading
    apostrophe (shown as text, not computed); numbers stay numbers. Carriage returns
    become line feeds: the csv module does not quote a lone CR when the line ends with
    LF, and a spreadsheet would split the row there."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + text if value.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text (comma-separated, a header line, empty for no data); text cells
    a spreadsheet would evaluate are neutralised (:func:`neutralise_cell`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def to_json(report: Report, lang: str = "it") -> dict[str, Any]:
    """The whole report as JSON-ready data: the filters and every table."""
    f = report.filters
    return {
        "filters": {
            "since": f.since.isoformat(),
            "until": f.until.isoformat(),
            "channel": f.channel,
            "lang": f.lang,
            "source": f.source,
            "time_zone": f.zone,
        },
        "generated_at": report.now.isoformat(timespec="seconds"),
        "simulated_conversations": report.simulated,
        **{
            name: table(report, name, lang)
            for name in TABLES
            if name != "gaps" or report.gaps is not None
        },
    }


def to_text(report: Report, lang: str = "it") -> str:
    """Every table as aligned plain text, for a terminal."""
    f = report.filters
    lines = [
        f"insights {f.since} .. {f.until}"
        + (f"  channel={f.channel}" if f.channel else "")
        + (f"  lang={f.lang}" if f.lang else "")
        + (f"  source={f.source}" if f.source != "all" else "")
    ]
    if report.simulated:
        lines.append(
            f"NOTE: {report.simulated} simulated conversations (ids sim-...) included / "
            f"incluse {report.simulated} conversazioni simulate"
        )
    for name in TABLES:
        if name == "gaps" and report.gaps is None:
            continue
        lines += ["", f"== {name} =="]
        header = columns(name, report)
        rows = [[_cell(row.get(c)) for c in header] for row in table(report, name, lang)]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
        widths = [min(w, 60) for w in widths]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for row in rows:
            cells = (c[:w].ljust(w) for c, w in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
