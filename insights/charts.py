"""The insights charts, drawn on the server with matplotlib and served as PNG images.

The console allows no scripts (its Content-Security-Policy), so charts are images
from an authenticated route rather than a JavaScript library. Figures are built with
matplotlib's object API (``Figure`` + the Agg canvas), never ``pyplot``: pyplot keeps
global state, and the console renders charts from several request threads at once.

Every text on a chart comes from ``labels`` (the console passes its Italian or
English strings), so this module holds no language.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from insights.report import Report

CHARTS = ("conversations", "rates", "satisfaction", "speed", "articles", "gaps")
# Charts that need the knowledge-gap clustering (the others skip the encoder).
NEEDS_GAPS = frozenset({"gaps"})

WIDTH, HEIGHT, DPI = 7.2, 3.2, 100
BLUE, GREEN, RED, AMBER, GREY = "#1f5fbf", "#1e7a3c", "#a3161b", "#c98a00", "#8a94a6"
MAX_BARS = 10
MAX_LABEL = 48


def _figure(height: float = HEIGHT) -> Figure:
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _bucket_axis(axes, labels: list[str]) -> None:
    """Show at most ~12 bucket labels, rotated, so a month of days stays readable."""
    step = max(1, len(labels) // 12)
    axes.set_xticks(range(0, len(labels), step))
    axes.set_xticklabels(
        [labels[i][5:] if len(labels[i]) == 10 else labels[i] for i in range(0, len(labels), step)],
        rotation=45,
        ha="right",
        fontsize=8,
    )


def _empty(figure: Figure, labels: Mapping[str, str]) -> None:
    figure.text(0.5, 0.5, labels["no_data"], ha="center", va="center", color=GREY)


def conversations_chart(report: Report, labels: Mapping[str, str]) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    names = [label for label, _ in report.trend]
    contained = [s.contained for _, s in report.trend]
    escalated = [s.escalated for _, s in report.trend]
    axes.bar(range(len(names)), contained, color=GREEN, label=labels["contained"])
    axes.bar(range(len(names)), escalated, bottom=contained, color=AMBER, label=labels["escalated"])
    axes.set_title(labels["conversations_title"], fontsize=11, loc="left")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _bucket_axis(axes, names)
    axes.legend(fontsize=8, frameon=False, loc="upper left")
    return figure


def _line(axes, values: list[float | None], **style: object) -> None:
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", markersize=3, **style)


def rates_chart(report: Report, labels: Mapping[str, str]) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    names = [label for label, _ in report.trend]
    _line(
        axes,
        [s.containment_rate for _, s in report.trend],
        color=GREEN,
        label=labels["containment"],
    )
    _line(axes, [s.fcr_rate for _, s in report.trend], color=BLUE, label=labels["fcr"])
    _line(
        axes, [s.escalation_rate for _, s in report.trend], color=AMBER, label=labels["escalation"]
    )
    axes.set_ylim(0, 1.05)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_title(labels["rates_title"], fontsize=11, loc="left")
    axes.set_xlim(-0.5, max(len(names) - 0.5, 0.5))
    _bucket_axis(axes, names)
    axes.legend(fontsize=8, frameon=False, loc="lower left", ncols=3)
    return figure


def satisfaction_chart(report: Report, labels: Mapping[str, str]) -> Figure:
    figure = _figure()
    csat_axes, nps_axes = figure.subplots(1, 2)
    names = [label for label, _ in report.trend]
    _line(csat_axes, [s.csat_mean for _, s in report.trend], color=BLUE)
    csat_axes.set_ylim(1, 5.2)
    csat_axes.set_title(labels["csat_title"], fontsize=10, loc="left")
    _bucket_axis(csat_axes, names)
    _line(nps_axes, [s.nps for _, s in report.trend], color=GREEN)
    nps_axes.axhline(0, color=GREY, linewidth=0.8)
    nps_axes.set_ylim(-100, 100)
    nps_axes.set_title(labels["nps_title"], fontsize=10, loc="left")
    _bucket_axis(nps_axes, names)
    for axes in (csat_axes, nps_axes):
        axes.set_xlim(-0.5, max(len(names) - 0.5, 0.5))
    return figure


def speed_chart(report: Report, labels: Mapping[str, str]) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    names = [label for label, _ in report.trend]

    def minutes(value) -> float:
        return value.total_seconds() / 60 if value is not None else 0.0

    positions = range(len(names))
    axes.bar(
        [p - 0.2 for p in positions],
        [minutes(s.speed_wall) for _, s in report.trend],
        width=0.4,
        color=GREY,
        label=labels["speed_wall"],
    )
    axes.bar(
        [p + 0.2 for p in positions],
        [minutes(s.speed_business) for _, s in report.trend],
        width=0.4,
        color=BLUE,
        label=labels["speed_business"],
    )
    axes.set_ylabel(labels["minutes"], fontsize=8)
    sla_axes = axes.twinx()
    _line(sla_axes, [s.sla_compliance for _, s in report.trend], color=GREEN, label=labels["sla"])
    sla_axes.set_ylim(0, 1.05)
    sla_axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_title(labels["speed_title"], fontsize=11, loc="left")
    _bucket_axis(axes, names)
    handles = axes.get_legend_handles_labels()
    more = sla_axes.get_legend_handles_labels()
    axes.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        fontsize=8,
        frameon=False,
        loc="upper left",
        ncols=3,
    )
    return figure


def _horizontal(
    figure: Figure, names: list[str], series: list[tuple[list[int], str, str]], title: str
) -> None:
    axes = figure.add_subplot()
    rows = list(range(len(names)))[::-1]
    height = 0.8 / len(series)
    for index, (values, colour, label) in enumerate(series):
        offsets = [r + 0.4 - height * (index + 0.5) for r in rows]
        axes.barh(offsets, values, height=height, color=colour, label=label)
    axes.set_yticks(rows)
    axes.set_yticklabels([_short(n) for n in names], fontsize=8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=11, loc="left")
    if len(series) > 1:
        axes.legend(fontsize=8, frameon=False, loc="lower right")


def articles_chart(report: Report, labels: Mapping[str, str]) -> Figure:
    top = report.articles[:MAX_BARS]
    figure = _figure(max(HEIGHT, 0.8 + 0.28 * len(top)))
    if not top:
        _empty(figure, labels)
        return figure
    names = [report.title(a.article_id, labels["lang"]) or a.article_id for a in top]
    _horizontal(
        figure,
        names,
        [([a.answers for a in top], BLUE, labels["answers"])],
        labels["articles_title"],
    )
    return figure


def gaps_chart(report: Report, labels: Mapping[str, str]) -> Figure:
    top = (report.gaps or [])[:MAX_BARS]
    figure = _figure(max(HEIGHT, 0.8 + 0.32 * len(top)))
    if not top:
        _empty(figure, labels)
        return figure
    _horizontal(
        figure,
        [gap.representative for gap in top],
        [
            ([gap.size for gap in top], RED, labels["this_period"]),
            ([gap.previous for gap in top], GREY, labels["previous_period"]),
        ],
        labels["gaps_title"],
    )
    return figure


_DRAW: dict[str, Callable[[Report, Mapping[str, str]], Figure]] = {
    "conversations": conversations_chart,
    "rates": rates_chart,
    "satisfaction": satisfaction_chart,
    "speed": speed_chart,
    "articles": articles_chart,
    "gaps": gaps_chart,
}


def render(report: Report, name: str, labels: Mapping[str, str]) -> bytes:
    """One of :data:`CHARTS` as PNG bytes; ``labels`` holds every text it shows."""
    return _png(_DRAW[name](report, labels))
