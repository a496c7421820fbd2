"""The ``sportello`` command: a thin layer over the library.

Each subcommand parses its arguments, calls one library function and prints the
outcome; behaviour lives in the packages. Commands are grouped (``sportello kb ...``);
a new group is one ``_add_<group>_commands(subparsers)`` function registered in
:func:`build_parser`. A command that opens the database gets it migrated to the current
schema first (:func:`stack.database.prepare`); one that does not sets ``database=False``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from cli.insights import register as add_insights_commands
from sportello.db import open_db
from sportello.errors import CommandError
from sportello.languages import LANGUAGES
from stack.database import migrate, pending, prepare


# ---- kb ------------------------------------------------------------------------------------
def _kb_import(args: argparse.Namespace) -> int:
    """Exit 0 only when every row was imported: a script or a person notices a skipped row
    (the good rows are imported all the same, in one transaction)."""
    from knowledge.importer import ImportFormatError, import_file

    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"file not found / file non trovato: {path}")
    try:
        report = import_file(open_db(), path, fmt=args.format)
    except ImportFormatError as exc:
        raise CommandError(str(exc)) from exc
    for error in report.errors:
        print(f"{path.name}: {error}", file=sys.stderr)
    print(
        f"imported {report.imported}, skipped {report.skipped} / "
        f"importati {report.imported}, scartati {report.skipped}"
    )
    if report.imported and not args.no_index:
        _print_indexed(_index(args.quiet))
    if report.skipped:
        print(
            f"error / errore: {report.skipped} skipped, fix them and import the file again / "
            f"{report.skipped} scartati, correggili e importa di nuovo il file",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_result(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        return
    if not result.results:
        print("no answer / nessuna risposta")
        return
    verdict = "abstain / non risponde" if result.abstain else "answer / risponde"
    print(f"{verdict}")
    for hit in result.results:
        print(f"  {hit.score:.3f}  [{hit.id} {hit.lang}] {hit.question}")


def _kb_search(args: argparse.Namespace) -> int:
    from knowledge.search import get_searcher

    searcher = get_searcher()
    if args.jsonl:
        # One question per line; the models load once for the whole stream.
        for line in sys.stdin.buffer:
            text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
            _print_result(searcher.search(text, lang=args.lang, k=args.k), as_json=True)
        return 0
    if args.question is None:
        raise CommandError("give a question, or --jsonl to read questions from stdin")
    _print_result(searcher.search(args.question, lang=args.lang, k=args.k), as_json=args.json)
    return 0


def _index(quiet: bool, rebuild: bool = False) -> int:
    """Bring the search index up to date with SQLite now, with a progress bar; returns
    the phrasings embedded (with ``rebuild``, all of them).

    ``kb import`` and ``kb seed-demo`` call it, as ``rasa train`` follows new data: a
    stack that starts (or a running one that next searches) then reads the index
    instead of embedding a whole FAQ while its first customer waits (which took over
    a minute for the demo on a busy machine).
    """
    from tqdm import tqdm

    from knowledge.index import wanted_phrasings
    from knowledge.search import Searcher
    from knowledge.store import list_articles

    searcher = Searcher()
    if rebuild:
        total = len(wanted_phrasings(list_articles(open_db(), status="published")))
    else:
        total = searcher.pending()
    # No bar with --quiet, nor when stderr is not a terminal (logs, scripts): tqdm's None.
    with tqdm(
        total=total, unit="phrasing", desc="indexing", disable=True if quiet else None
    ) as bar:
        if rebuild:
            return searcher.rebuild(progress=bar.update)
        searcher.refresh(progress=bar.update)
    return total


def _kb_index(args: argparse.Namespace) -> int:
    _print_indexed(_index(args.quiet))
    return 0


def _kb_rebuild(args: argparse.Namespace) -> int:
    count = _index(args.quiet, rebuild=True)
    print(f"indexed {count} phrasings / frasi indicizzate: {count}")
    return 0


def _print_indexed(count: int) -> None:
    print(f"indexed {count} new phrasings / nuove frasi indicizzate: {count}")


def _kb_seed_demo(args: argparse.Namespace) -> int:
    from knowledge.importer import import_file
    from knowledge.store import list_articles

    db = open_db()
    if list_articles(db, status=None) and not args.force:
        print(
            "knowledge base not empty, nothing done / base di conoscenza non vuota, nulla da fare"
        )
        return 0
    demo = resources.files("knowledge") / "demo" / "articles.jsonl"
    with resources.as_file(demo) as path:
        if not path.is_file():
            raise CommandError(f"demo articles missing / articoli demo mancanti: {path}")
        report = import_file(db, path)
    for error in report.errors:
        print(f"demo articles: {error}", file=sys.stderr)
    print(f"imported {report.imported} demo articles / articoli demo importati: {report.imported}")
    if report.imported and not args.no_index:
        _print_indexed(_index(args.quiet))
    return 1 if report.errors else 0


def _kb_stats(args: argparse.Namespace) -> int:
    from knowledge.store import count_articles

    counts = count_articles(open_db())
    print(json.dumps(counts, indent=2, sort_keys=True))
    return 0


def _kb_check(args: argparse.Namespace) -> int:
    from knowledge.check import check, render_text
    from knowledge.search import get_searcher

    report = check(open_db(), get_searcher())
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else render_text(report))
    return 0


def _kb_calibrate(args: argparse.Namespace) -> int:
    from knowledge.fitting import (
        TooFewQuestions,
        evidence_for,
        fit_cut_offs,
        read_labelled_questions,
    )
    from knowledge.search import get_searcher
    from knowledge.store import list_articles

    try:
        queries = read_labelled_questions(Path(args.file))
    except (OSError, ValueError) as error:
        raise CommandError(f"{args.file}: {error}") from error
    known = {a.id for a in list_articles(open_db(), status="published")}
    unknown = sorted({a for q in queries for a in q.gold} - known)
    if unknown:
        raise CommandError(
            f"articles not in the knowledge base / articoli assenti: {', '.join(unknown[:10])}"
        )
    searcher = get_searcher()
    try:
        cut_offs = fit_cut_offs(evidence_for(searcher, queries), searcher.calibration)
    except TooFewQuestions as error:
        raise CommandError(str(error)) from error
    if args.json:
        print(json.dumps(asdict(cut_offs), indent=2, sort_keys=True))
        return 0
    print(
        f"{cut_offs.answerable} answerable and {cut_offs.unanswerable} unanswerable questions;"
        " rates on the half not fitted on (two folds) /"
        " percentuali sulla metà non usata per la stima:"
    )
    print(f"{'':34}{'shipped':>10}{'fitted':>10}")
    for key, label in _CALIBRATE_RATES:
        if key in cut_offs.fitted:
            print(f"{label:34}{cut_offs.shipped[key]:>10.1%}{cut_offs.fitted[key]:>10.1%}")
    print("\nTo use them, set in the environment / per usarli, imposta:")
    print(f"SPORTELLO_KB_THRESHOLD={cut_offs.threshold:.4f}")
    print(f"SPORTELLO_KB_CLARIFY_THRESHOLD={cut_offs.clarify_threshold:.4f}")
    return 0


_CALIBRATE_RATES = (
    ("answered_right", "answered right / risposte giuste"),
    ("answered_wrong", "answered wrong / risposte sbagliate"),
    ("reached", "right article reached / raggiunte"),
    ("no_article_out", "unanswerable: no article / nessun articolo"),
)


def _kb_phrasings(args: argparse.Namespace) -> int:
    from knowledge import phrasings

    db = open_db()
    if args.approve or args.reject:
        approved = phrasings.approve(db, args.approve, args.by)
        rejected = phrasings.reject(db, args.reject, args.by)
        print(
            f"approved {approved}, rejected {rejected} / approvate {approved}, rifiutate {rejected}"
        )
        return 0
    for p in phrasings.list_proposals(db):
        print(f"{p.id}\t{p.article_id}\t{p.lang}\t{p.votes}\t{p.source}\t{p.text}")
    return 0


def _add_index_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-index",
        action="store_true",
        help="leave the search index to the next search (default: index the new articles now)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_kb_commands(subparsers: argparse._SubParsersAction) -> None:
    from knowledge.importer import FORMATS

    kb = subparsers.add_parser("kb", help="knowledge base: import, search, rebuild the index")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)

    p = kb_sub.add_parser(
        "import",
        help="import articles from a .jsonl, .csv, .xlsx, .md or FAQ .html file "
        "(exit 1 if any row is skipped)",
    )
    p.add_argument("file")
    p.add_argument("--format", choices=FORMATS, help="default: from the file name")
    _add_index_options(p)
    p.set_defaults(handler=_kb_import)

    p = kb_sub.add_parser("search", help="search the knowledge base")
    p.add_argument("question", nargs="?")
    p.add_argument("--lang", choices=LANGUAGES, help="default: detected from the question")
    p.add_argument("-k", type=int, default=5, help="results to show (default 5)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the result as one JSON object")
    mode.add_argument(
        "--jsonl", action="store_true", help="read questions from stdin, one per line"
    )
    p.set_defaults(handler=_kb_search)

    p = kb_sub.add_parser(
        "index", help="index what changed since the last indexing (quick when nothing did)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_kb_index)

    p = kb_sub.add_parser("rebuild", help="rebuild the search index from the database")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_kb_rebuild)

    p = kb_sub.add_parser("seed-demo", help="import the demo articles when the base is empty")
    p.add_argument("--force", action="store_true", help="import even if articles exist")
    _add_index_options(p)
    p.set_defaults(handler=_kb_seed_demo)

    p = kb_sub.add_parser("stats", help="count articles by status and language")
    p.set_defaults(handler=_kb_stats)

    p = kb_sub.add_parser("check", help="articles the bot may confuse or miss, and what would help")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(handler=_kb_check)

    p = kb_sub.add_parser(
        "calibrate",
        help="fit the answer and choice cut-offs to this knowledge base from labelled questions",
    )
    p.add_argument("file", help=".jsonl or .csv: a question and its article id (empty: none)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(handler=_kb_calibrate)

    p = kb_sub.add_parser(
        "phrasings", help="customers' wordings proposed for articles: list, approve, reject"
    )
    p.add_argument("--approve", type=int, nargs="+", default=[], metavar="ID")
    p.add_argument("--reject", type=int, nargs="+", default=[], metavar="ID")
    p.add_argument("--by", default="cli", help="reviewer name kept in the history")
    p.set_defaults(handler=_kb_phrasings)


# ---- users ---------------------------------------------------------------------------------
def _users_add(args: argparse.Namespace) -> int:
    from desk.users import UserError, create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password / password: ")
        if getpass.getpass("again / ripeti: ") != password:
            raise CommandError("the passwords differ / le password non coincidono")
    try:
        user = create_user(open_db(), args.username, password, args.role, lang=args.lang)
    except UserError as exc:
        raise CommandError(str(exc)) from exc
    print(f"user {user.username} ({user.role}) created / utente creato")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from desk.users import list_users

    for user in list_users(open_db()):
        print(f"{user.username}\t{user.role}")
    return 0


def _add_users_commands(subparsers: argparse._SubParsersAction) -> None:
    from desk.users import ROLES

    users = subparsers.add_parser("users", help="operator console users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    p = users_sub.add_parser("add", help="create a console user (asks for the password)")
    p.add_argument("username")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--lang", choices=LANGUAGES, help="console language (default: browser's)")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    p.set_defaults(handler=_users_add)
    p = users_sub.add_parser("list", help="list console users")
    p.set_defaults(handler=_users_list)


# ---- tickets -------------------------------------------------------------------------------
TICKET_FIELDS = ("id", "status", "priority", "created_at", "first_response_due", "breached")


def _tickets_list(args: argparse.Namespace) -> int:
    from desk.tickets import list_tickets

    tickets = list_tickets(open_db(), status=args.status)
    rows = [{name: getattr(t, name) for name in TICKET_FIELDS} for t in tickets]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        print("\t".join(str(row[name]) for name in TICKET_FIELDS))
    return 0


def _add_tickets_commands(subparsers: argparse._SubParsersAction) -> None:
    tickets = subparsers.add_parser("tickets", help="tickets handed to operators")
    tickets_sub = tickets.add_subparsers(dest="tickets_command", required=True)
    p = tickets_sub.add_parser("list", help="list tickets")
    p.add_argument("--status", choices=("open", "claimed", "closed"))
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(handler=_tickets_list)


# ---- mail ---------------------------------------------------------------------------------
def _mail_test(args: argparse.Namespace) -> int:
    from desk import mailbox, mailer
    from sportello import clock
    from sportello.settings import get_settings

    try:
        settings = get_settings()
        message_id = mailbox.send_test(settings, args.address, args.lang, clock.utc_now())
    except mailer.MailError as exc:
        raise CommandError(f"test mail not sent / e-mail di prova non inviata: {exc}") from exc
    print(f"sent / inviata: {args.address} {message_id}")
    print(mailbox.resume_links_status(settings))
    return 0


def _mail_outbox(args: argparse.Namespace) -> int:
    from desk import mailbox

    mails = mailbox.outbox(open_db(), status=args.status)
    fields = ("id", "ticket_id", "kind", "status", "attempts", "sent_at", "last_error")
    rows = [{name: getattr(mail, name) for name in fields} for mail in mails]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        print("\t".join(str(row[name] or "") for name in fields))
    return 0


def _mail_poll(args: argparse.Namespace) -> int:
    from desk import mail_inbound
    from sportello import clock
    from sportello.settings import get_settings

    settings = get_settings()
    if not settings.imap_url:
        raise CommandError("SPORTELLO_IMAP_URL is not set / non è impostato")
    try:
        handled = mail_inbound.poll(open_db(), settings, clock.utc_now())
    except mail_inbound.MailboxError as exc:
        raise CommandError(str(exc)) from exc
    for item in handled:
        print(f"{item.outcome}\t{item.ticket_id or ''}\t{item.detail or ''}")
    print(f"read {len(handled)} / lette {len(handled)}")
    return 0


def _add_mail_commands(subparsers: argparse._SubParsersAction) -> None:
    mail = subparsers.add_parser("mail", help="e-mail to customers: test, outbox, replies")
    mail_sub = mail.add_subparsers(dest="mail_command", required=True)
    p = mail_sub.add_parser("test", help="send a test mail and say what failed, if anything")
    p.add_argument("address")
    p.add_argument("--lang", choices=LANGUAGES, default="it")
    p.set_defaults(handler=_mail_test, database=False)
    p = mail_sub.add_parser("outbox", help="the mails owed to customers and their state")
    p.add_argument("--status", choices=("pending", "sending", "sent", "failed", "cancelled"))
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(handler=_mail_outbox)
    p = mail_sub.add_parser("poll", help="read customers' replies from the mailbox now")
    p.set_defaults(handler=_mail_poll)


# ---- customer -----------------------------------------------------------------------------
def _customer_export(args: argparse.Namespace) -> int:
    from privacy.customers import export

    data = export(open_db(), args.customer_id)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"written / scritto: {args.output}")
    else:
        print(text)
    return 0


def _customer_erase(args: argparse.Namespace) -> int:
    from privacy.customers import erase

    if not args.yes:
        raise CommandError(
            "erasure cannot be undone: add --yes / la cancellazione è definitiva: aggiungi --yes"
        )
    left = erase(open_db(), args.customer_id)
    for place, count in left.items():
        print(f"{place}\t{count}")
    if any(left.values()):
        raise CommandError("some data remains / restano dei dati")
    print("erased: nothing remains / cancellato: non resta nulla")
    return 0


def _customer_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from customerlog.turns import sync
    from identity import profiles

    db = open_db()
    sync(db)
    live = profiles.resolve(db, args.customer_id)
    profile = profiles.get_profile(db, live) if live else None
    if profile is None:
        raise CommandError(f"unknown customer / cliente sconosciuto: {args.customer_id}")
    data = asdict(profile)
    data["suggestions"] = [asdict(s) for s in profiles.suggestions(db, profile.id)]
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def _customer_merge(args: argparse.Namespace) -> int:
    from identity import profiles

    try:
        merge_id = profiles.merge(open_db(), args.keep, args.other, actor=args.by)
    except profiles.IdentityError as exc:
        raise CommandError(str(exc)) from exc
    print(f"merged / uniti: link {merge_id} (undo: sportello customer unmerge {merge_id})")
    return 0


def _customer_unmerge(args: argparse.Namespace) -> int:
    from identity import profiles

    try:
        separated = profiles.undo(open_db(), args.link, actor=args.by)
    except profiles.IdentityError as exc:
        raise CommandError(str(exc)) from exc
    print(f"separated / separati: {separated}")
    return 0


def _customer_sign(args: argparse.Namespace) -> int:
    from identity.contacts import identity_secret, signed_metadata

    details = {
        kind: value
        for kind, value in (
            ("customer_id", args.customer_id),
            ("email", args.email),
            ("phone", args.phone),
        )
        if value
    }
    if not details:
        raise CommandError("give --email, --phone or --customer-id / indica almeno un dato")
    try:
        signed = signed_metadata(identity_secret(), valid_for_s=args.valid_hours * 3600, **details)
        print(json.dumps(signed, ensure_ascii=False))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return 0


def _add_customer_commands(subparsers: argparse._SubParsersAction) -> None:
    customer = subparsers.add_parser(
        "customer", help="a customer across channels: show, merge, sign, export, erase"
    )
    customer_sub = customer.add_subparsers(dest="customer_command", required=True)
    p = customer_sub.add_parser("show", help="a customer's profile: channels, contacts, links")
    p.add_argument("customer_id", help="profile id, channel (customer) id or conversation id")
    p.set_defaults(handler=_customer_show)
    p = customer_sub.add_parser("merge", help="two ids are the same person (undo: unmerge)")
    p.add_argument("keep", help="any id of the customer who stays")
    p.add_argument("other", help="any id of the customer merged into the first")
    p.add_argument("--by", default="cli", help="who decided (kept in the link's history)")
    p.set_defaults(handler=_customer_merge)
    p = customer_sub.add_parser("unmerge", help="undo a link (automatic ones too)")
    p.add_argument("link", type=int, help="the link number (customer show lists them)")
    p.add_argument("--by", default="cli", help="who decided")
    p.set_defaults(handler=_customer_unmerge)
    p = customer_sub.add_parser(
        "sign", help="the signed metadata a company's server sends for a signed-in customer"
    )
    p.add_argument("--email")
    p.add_argument("--phone")
    p.add_argument("--customer-id", dest="customer_id")
    p.add_argument(
        "--valid-hours",
        type=float,
        default=24.0,
        help="how long the signatures are valid (at most 31 days) / validità in ore",
    )
    p.set_defaults(handler=_customer_sign, database=False)
    p = customer_sub.add_parser("export", help="everything held about a customer, as JSON")
    p.add_argument("customer_id", help="profile id, channel (customer) id or conversation id")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.set_defaults(handler=_customer_export)
    p = customer_sub.add_parser("erase", help="delete everything held about a customer")
    p.add_argument("customer_id", help="profile id, channel (customer) id or conversation id")
    p.add_argument("--yes", action="store_true", help="confirm (erasure cannot be undone)")
    p.set_defaults(handler=_customer_erase)


# ---- log -----------------------------------------------------------------------------------
def _log_sync(args: argparse.Namespace) -> int:
    from customerlog.turns import sync

    print(f"logged turns / turni registrati: {sync(open_db())}")
    return 0


def _log_purge(args: argparse.Namespace) -> int:
    from privacy.retention import purge
    from sportello.clock import utc_now
    from sportello.settings import get_settings

    days = args.days or get_settings().log_retention_days
    purged = purge(open_db(), days, utc_now())
    print(
        f"older than {days} days / più vecchi di {days} giorni: turns {purged.turns}, "
        f"tracker events {purged.tracker_events}, ticket messages {purged.ticket_messages}, "
        f"tickets emptied {purged.tickets_emptied}"
    )
    return 0


def _add_log_commands(subparsers: argparse._SubParsersAction) -> None:
    log = subparsers.add_parser("log", help="the customer log")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    p = log_sub.add_parser("sync", help="log the conversations' new turns now")
    p.set_defaults(handler=_log_sync)
    p = log_sub.add_parser("purge", help="delete conversation logs older than the retention")
    p.add_argument("--days", type=int, help="override SPORTELLO_LOG_RETENTION_DAYS")
    p.set_defaults(handler=_log_purge)


# ---- run -----------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    from sportello.settings import get_settings
    from stack.services import ServiceError, serve

    try:
        serve(get_settings())
    except ServiceError as exc:
        raise CommandError(str(exc)) from exc
    return 0


def _add_run_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="train if stale and start the Rasa server, action server and chat page"
    )
    # The stack migrates the database before it starts the services.
    p.set_defaults(handler=_run, database=False)


# ---- migrate -------------------------------------------------------------------------------
def _migrate(args: argparse.Namespace) -> int:
    db = open_db()
    names = pending(db) if args.pending else migrate(db)
    verb = "pending / in sospeso" if args.pending else "applied / applicata"
    for name in names:
        print(f"{verb}: {name}")
    if not names:
        print("schema up to date / schema aggiornato")
    return 0


def _add_migrate_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "migrate", help="apply the database's pending schema migrations (every start-up does)"
    )
    p.add_argument("--pending", action="store_true", help="list them, apply nothing")
    p.set_defaults(handler=_migrate, database=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sportello", description="Sportello: first-level customer support assistant."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_kb_commands(subparsers)
    _add_users_commands(subparsers)
    _add_tickets_commands(subparsers)
    _add_mail_commands(subparsers)
    _add_customer_commands(subparsers)
    _add_log_commands(subparsers)
    _add_run_command(subparsers)
    _add_migrate_command(subparsers)
    add_insights_commands(subparsers)
    from bench.cli import register as add_bench_commands  # light: the benchmarks load on use

    add_bench_commands(subparsers)
    subparsers.choices["bench"].set_defaults(database=False)  # each bench makes its own
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # What the commands create in the data folder (database, index, keys) is private:
    # it holds customers' conversations.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "database", True):
            # The schema, once per command: what every process does at start-up.
            prepare().close()
        return args.handler(args)
    except CommandError as exc:
        print(f"error / errore: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
