"""``sportello insights``: the insights report and the demo data, from the command line.

A thin layer over :mod:`insights.report` and :mod:`insights.demo`::

    sportello insights --since 2026-11-01 --until 2026-11-30 --format table
    sportello insights --format csv --table gaps > gaps.csv
    sportello insights demo-data            # simulated conversations on a fresh install
"""

from __future__ import annotations

import argparse
import json

from sportello.db import open_db
from sportello.errors import CommandError
from sportello.languages import LANGUAGES


def _report(args: argparse.Namespace) -> int:
    from insights.filters import FilterError, make_filters
    from insights.report import build_report, columns, table, to_csv, to_json, to_text

    try:
        filters = make_filters(
            args.since, args.until, channel=args.channel, lang=args.lang, source=args.source
        )
    except FilterError as exc:
        raise CommandError(str(exc)) from exc
    wants_gaps = not args.no_gaps and (args.format != "csv" or args.table == "gaps")
    report = build_report(open_db(), filters, with_gaps=wants_gaps)
    if args.format == "json":
        print(json.dumps(to_json(report), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        print(to_csv(columns(args.table, report), table(report, args.table)), end="")
    else:
        print(to_text(report), end="")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from insights.demo import DemoRefused, seed_demo

    try:
        result = seed_demo(open_db(), conversations=args.conversations, force=args.force)
    except DemoRefused as exc:
        raise CommandError(
            f"{exc}; use --force to add simulated data next to it / il database contiene "
            "conversazioni reali: usa --force per aggiungere comunque i dati simulati"
        ) from exc
    if result.skipped:
        print("simulated data already present, nothing done / dati simulati già presenti")
    else:
        print(
            f"simulated {result.conversations} conversations and {result.tickets} tickets "
            f"(ids sim-...) / simulate {result.conversations} conversazioni e "
            f"{result.tickets} ticket"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``insights`` (and ``insights demo-data``) to the ``sportello`` command."""
    from insights.demo import DEFAULT_CONVERSATIONS
    from insights.filters import SOURCES
    from insights.report import TABLES

    parser = subparsers.add_parser(
        "insights", help="figures for marketing: conversations, satisfaction, speed, gaps"
    )
    parser.add_argument("--since", help="first day, YYYY-MM-DD (default: 27 days before --until)")
    parser.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument("--channel", help="only this channel (socketio, rest, ...)")
    parser.add_argument("--lang", choices=LANGUAGES, help="only conversations in this language")
    parser.add_argument("--source", choices=SOURCES, default="all", help="real or simulated data")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument(
        "--table", choices=TABLES, default="summary", help="the table printed by --format csv"
    )
    parser.add_argument(
        "--no-gaps", action="store_true", help="skip the knowledge-gap clustering (faster)"
    )
    parser.set_defaults(handler=_report)
    commands = parser.add_subparsers(dest="insights_command")
    demo = commands.add_parser(
        "demo-data", help="write simulated conversations (ids sim-...) for a first look"
    )
    demo.add_argument("--conversations", type=int, default=DEFAULT_CONVERSATIONS)
    demo.add_argument(
        "--force", action="store_true", help="even if real conversations exist (kept apart)"
    )
    demo.set_defaults(handler=_demo)
