"""How much a week of customers teaches the bot: plain FAQs before and after learning.

Run ``.venv/bin/python -m bench.learning`` (``--quick``: a few questions per set). For
each of our FAQ-shaped knowledge bases (one question and one answer per article, as a
company imports it) it starts the real stack on loopback with that knowledge base and:

1. **before**: asks every reported (test) question as a new REST conversation and
   scores it as :mod:`bench.faq_bot` does (answered right, reached within one
   clarification, answered wrong, out-of-scope given no article);
2. **a simulated week**: the *fit* (val) questions, never the test ones, are asked by
   customers who behave as the product expects: a right answer is rated 👍; when the
   right article is among the "Forse cercavi…" choices the customer picks it and rates
   it 👍; otherwise they ask for a person, and an operator answers the ticket on the
   console with the right article, through the ticket page's "send this article" form.
   Each of the three proposes the customer's wording as a phrasing;
3. a supervisor approves, in one bulk action on the console's Articles page, every
   proposal that came from the week's conversations and tickets only (a wording a
   test question left while being measured is never approved);
4. **after**: the same test questions again, as new conversations.

Nothing is restarted or retrained between the steps. The figures replace the
``learning`` section of BENCHMARKS.md (date, machine, command).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import faq_bot, quality
from bench.sections import load_average, measured, pct, run_info, write_section
from bench.stacks import seeded_stack
from desk.tickets import get_open_ticket
from desk.users import create_user
from knowledge import phrasings
from knowledge.store import get_article
from sportello.settings import PROJECT_ROOT, Settings
from stack.database import prepare
from stack.services import train_model

BENCHMARKS = PROJECT_ROOT / "BENCHMARKS.md"
SECTION = "learning"
PASSWORD = "bench-learning-password-1"
ASK_PERSON = {"it": "voglio parlare con un operatore", "en": "I want to talk to a person"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SUGGESTED = re.compile(r'class="suggestion" data-article="([^"]+)"')
LOADERS = (quality.load_demo_plain, quality.load_transit, quality.load_immuni)


@dataclass
class Week:
    """What the simulated week's customers and operators did."""

    questions: int = 0
    answered_right: int = 0
    picked: int = 0
    to_operator: int = 0
    suggested_right: int = 0  # the ticket page suggested the right article
    no_ticket: int = 0
    approved: int = 0


class Console:
    """The operator console, used over HTTP as its forms post."""

    def __init__(self, settings: Settings, username: str) -> None:
        self.http = httpx.Client(
            base_url=f"http://{settings.host}:{settings.console_port}", timeout=60
        )
        page = self.http.get("/login")
        self.check(
            self.http.post(
                "/login",
                data={"username": username, "password": PASSWORD, "csrf_token": self.token(page)},
            )
        )

    @staticmethod
    def check(reply: httpx.Response) -> None:
        """A form post succeeds with a redirect (303), as a browser sees it."""
        if reply.status_code != 303:
            raise RuntimeError(f"{reply.request.url}: {reply.status_code} {reply.text[:200]}")

    @staticmethod
    def token(page: httpx.Response) -> str:
        match = _CSRF.search(page.text)
        if match is None:
            raise RuntimeError(f"no form on {page.url}")
        return match.group(1)

    def send_article(self, ticket_id: int, article_id: str, answer: str) -> bool:
        """Answer the ticket with the article; True if the page had suggested it."""
        page = self.http.get(f"/tickets/{ticket_id}")
        suggested = article_id in _SUGGESTED.findall(page.text)
        self.check(
            self.http.post(
                f"/tickets/{ticket_id}/answer",
                data={"csrf_token": self.token(page), "text": answer, "article_id": article_id},
            )
        )
        return suggested

    def approve(self, ids: list[int]) -> None:
        page = self.http.get("/articles")
        data = {"csrf_token": self.token(page), "decision": "approve"}
        self.check(
            self.http.post("/articles/phrasings", data={**data, "proposal": [str(i) for i in ids]})
        )


def payload(intent: str, article_id: str) -> str:
    """A button's payload naming an article, as the bot's rating buttons carry it."""
    return intent + json.dumps({"article": article_id}, ensure_ascii=False)


def measure(client: httpx.Client, settings: Settings, queries: list[quality.Query]):
    tally = faq_bot.Tally()
    for query in queries:
        faq_bot.ask(client, settings, query, tally)
    return tally


def live_a_week(
    client: httpx.Client,
    settings: Settings,
    operator: Console,
    queries: list[quality.Query],
    week: Week,
) -> set[str]:
    """The week's customers; returns the conversation and ticket refs they left."""
    db = prepare(settings.db_path)
    refs: set[str] = set()
    for query in queries:
        if not query.gold:
            continue
        gold = sorted(query.gold)[0]
        lang = query.lang or "it"
        week.questions += 1
        customer = faq_bot.Customer(client, settings)
        refs.add(customer.sender)
        turn = customer.say(query.text)
        if turn.answered in query.gold:
            week.answered_right += 1
            customer.say(payload("/answer_helpful", turn.answered))
            continue
        if gold in turn.offered and customer.pick(gold).answered == gold:
            week.picked += 1
            customer.say(payload("/answer_helpful", gold))
            continue
        if turn.answered is not None:
            customer.say(payload("/reject_answer", turn.answered))
        customer.say(ASK_PERSON.get(lang, ASK_PERSON["it"]))
        ticket = get_open_ticket(db, customer.sender)
        article = get_article(db, gold, lang) or get_article(db, gold, "it")
        if ticket is None or article is None:
            week.no_ticket += 1
            continue
        refs.add(f"ticket:{ticket.id}")
        week.to_operator += 1
        week.suggested_right += operator.send_article(ticket.id, gold, article.answer)
    return refs


def run_set(model: Path, dataset: quality.Dataset, cap: int) -> tuple[dict, Week]:
    """Before, the week, approval, after: one knowledge base on one running stack."""
    test = faq_bot._sample(next(iter(dataset.report.values())), cap, dataset.name)
    fit = faq_bot._sample(next(iter(dataset.fit.values())), cap, f"{dataset.name}-week")
    week = Week()
    with (
        seeded_stack(model, dataset.articles, "sportello-learning-") as (settings, db),
        httpx.Client(timeout=120) as client,
    ):
        create_user(db, "operator", PASSWORD, "operator")
        create_user(db, "supervisor", PASSWORD, "supervisor")
        faq_bot.Customer(client, settings).say("informazioni sul servizio clienti")
        before = measure(client, settings, test)
        print(f"  before: {before.rates()}", file=sys.stderr, flush=True)
        refs = live_a_week(client, settings, Console(settings, "operator"), fit, week)
        learned = [p.id for p in phrasings.list_proposals(db) if p.refs and set(p.refs) <= refs]
        Console(settings, "supervisor").approve(learned)
        week.approved = len(learned)
        after = measure(client, settings, test)
        print(f"  after: {after.rates()}", file=sys.stderr, flush=True)
    return {"before": before, "after": after, "test": len(test)}, week


def render(rows: dict[str, tuple[dict, Week]], info: dict) -> str:
    lines = [
        "## Learning customers' words: plain FAQs after a simulated week",
        "",
        *measured(info),
        "Each plain FAQ runs on a fresh real stack. The test questions are asked (new"
        " REST conversations) before and after a simulated week in which *other*"
        " customers (the fit/val questions, never the test ones) pick the right article"
        " among the choices and rate it 👍, or ask for a person and get the right article"
        " from an operator through the ticket page; a supervisor then approves the"
        " week's proposed phrasings in bulk. No restart, no retraining.",
        "",
        "| knowledge base | week: customers | answered right | picked a choice | to an"
        " operator (ticket page suggested it) | phrasings approved | test questions"
        " | answered right before → after | reached within one clarification"
        " | answered wrong | unanswerable given no article |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (result, week) in rows.items():
        b, a = result["before"].rates(), result["after"].rates()
        lines.append(
            f"| {name} | {week.questions} | {week.answered_right} | {week.picked}"
            f" | {week.to_operator} ({week.suggested_right}) | {week.approved}"
            f" | {result['test']}"
            f" | {pct(b['answered_right'])} → **{pct(a['answered_right'])}**"
            f" | {pct(b['reached'])} → {pct(a['reached'])}"
            f" | {pct(b['answered_wrong'])} → {pct(a['answered_wrong'])}"
            f" | {pct(b['no_article_out'])} → {pct(a['no_article_out'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.learning", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a few questions per set")
    parser.add_argument("--model", type=Path, help="Rasa model to use (default: train if stale)")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    args = parser.parse_args(argv)
    began, load_before = time.monotonic(), load_average()
    model = args.model or train_model()
    cap = faq_bot.QUICK_CAP if args.quick else faq_bot.FULL_CAP
    rows: dict[str, tuple[dict, Week]] = {}
    for loader in LOADERS:
        dataset = loader(args.quick)
        if dataset is None:
            continue
        print(f"{dataset.name}", file=sys.stderr, flush=True)
        rows[dataset.name] = run_set(model, dataset, cap)
    command = ".venv/bin/python -m bench.learning" + (" --quick" if args.quick else "")
    info = run_info(command, began, load_before)
    text = render(rows, info)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS, SECTION, text)
        print(f"wrote the {SECTION} section of {BENCHMARKS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
