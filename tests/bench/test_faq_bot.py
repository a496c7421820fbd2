"""The whole-bot FAQ benchmark reads what the bot did from its buttons, and counts it."""

from __future__ import annotations

from bench import quality
from bench.faq_bot import Tally, Turn, read_turn, render, score


def buttons(*payloads: str) -> list[dict]:
    return [{"text": "…", "buttons": [{"title": p, "payload": p} for p in payloads]}]


def test_an_answer_is_read_from_its_thumbs_up_payload():
    messages = buttons('/answer_helpful{"article": "resi"}', '/reject_answer{"article": "resi"}')
    assert read_turn(messages) == Turn(answered="resi", offered=[])


def test_a_clarification_lists_the_offered_articles_in_order():
    messages = buttons(
        '/choose_article{"article": "b"}',
        '/choose_article{"article": "a"}',
        "/none_of_these",
    )
    assert read_turn(messages) == Turn(answered=None, offered=["b", "a"])


def test_anything_else_gives_no_article_and_bad_payloads_are_ignored():
    assert read_turn([{"text": "Mi dispiace…"}]) == Turn()
    assert read_turn(buttons("/affirm", "/deny", "/choose_article{oops", "/answer_helpful")) == (
        Turn()
    )


class FakeCustomer:
    """Answers a click with the chosen article, as the bot does."""

    def __init__(self, answers_with: str | None = None) -> None:
        self.picked: list[str] = []
        self.answers_with = answers_with

    def pick(self, article_id: str) -> Turn:
        self.picked.append(article_id)
        return Turn(answered=self.answers_with or article_id)


def test_scoring_counts_right_wrong_and_clarified_answers():
    tally = Tally()
    gold = frozenset({"a"})
    score(FakeCustomer(), Turn(answered="a"), gold, tally)
    score(FakeCustomer(), Turn(answered="b"), gold, tally)
    clicked = FakeCustomer()
    score(clicked, Turn(offered=["c", "a"]), gold, tally)
    score(FakeCustomer(), Turn(offered=["c", "d"]), gold, tally)
    score(FakeCustomer(answers_with="c"), Turn(offered=["a", "c"]), gold, tally)
    score(FakeCustomer(), Turn(), gold, tally)
    assert clicked.picked == ["a"]
    assert (tally.n_in, tally.right, tally.wrong, tally.clarified, tally.reached) == (6, 1, 1, 3, 2)
    rates = tally.rates()
    assert rates["no_answer"] == 1 / 6


def test_scoring_unanswerable_questions_counts_any_article_as_given():
    tally = Tally()
    for turn in (Turn(), Turn(answered="a"), Turn(offered=["a", "b"]), Turn()):
        score(FakeCustomer(), turn, frozenset(), tally)
    assert (tally.n_out, tally.no_article_out) == (4, 2)


def test_the_report_averages_our_own_sets_against_the_targets():
    own, other = quality.HEADLINE_MEAN[:2]
    rows = {
        own: Tally(n_in=10, right=8, wrong=1, clarified=1, reached=9, n_out=5, no_article_out=4),
        other: Tally(n_in=100, right=80, wrong=10, clarified=10, reached=90),  # no oos
        "QA4FAQ-it": Tally(n_in=4, right=1, wrong=3),
    }
    follow = {own: Tally(n_in=2, right=1, reached=2)}
    info = {
        "date": "2026-12-05 10:00 UTC",
        "machine": "2 cores",
        "seconds": 60.0,
        "command": ".venv/bin/python -m bench.faq_bot",
        "load_before": "1",
        "load_after": "1",
    }
    text = render(rows, follow, info)
    assert "| QA4FAQ-it | 4 | 25.0% | 75.0% |" in text
    assert "each set counts once" in text
    assert "answered right **80.0%** (≥ 75%)" in text
    assert "reached within one clarification **90.0%** (≥ 92%)" in text
    assert "unanswerable given no article **80.0%** (≥ 80%)" in text
    assert "### Follow-up questions" in text
    assert "Command: `.venv/bin/python -m bench.faq_bot`" in text
