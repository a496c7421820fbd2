"""The learning loop end to end on the real stack.

Customer A asks something the knowledge base does not cover and asks for a person;
the operator answers in the console and proposes the answer for the knowledge base; a
supervisor publishes it in Italian and English; customers B and C ask paraphrases, in
both languages, and the bot answers with the new article at once (no restart, no
retraining). Ratings are logged against the right article, skipping them changes
nothing, and erasing customer A leaves nothing of them while the article survives.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from customerlog import ratings, schema, turns
from desk.tickets import get_open_ticket, get_ticket
from desk.users import create_user
from knowledge import store
from privacy import customers
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.rest import say, texts
from tests.integration.test_console_to_customer import csrf_of, logged_in

pytestmark = pytest.mark.integration

PASSWORD = "integration-password-1"
ANSWER_IT = (
    "Sì, i cani al guinzaglio sono i benvenuti in tutti i nostri negozi e nella sala "
    "degustazione. Per info scrivi a mario.rossi@example.com."
)
ANSWER_EN = "Yes, dogs on a lead are welcome in all our shops and in the tasting room."


def _payload(messages: list[dict], title_start: str) -> str:
    for message in messages:
        for button in message.get("buttons") or []:
            if button["title"].startswith(title_start):
                return button["payload"]
    raise AssertionError(f"no button {title_start!r} in {messages}")


def test_an_operator_answer_becomes_knowledge_for_the_next_customers(stack: Settings) -> None:
    db = open_db(stack.db_path)
    suffix = uuid.uuid4().hex[:6]
    operator, supervisor = f"op{suffix}", f"sup{suffix}"
    create_user(db, operator, PASSWORD, "operator")
    create_user(db, supervisor, PASSWORD, "supervisor")
    customer_a, customer_b, customer_c = (f"{n}-{suffix}" for n in ("loop-a", "loop-b", "loop-c"))

    # Customer A: a question the knowledge base cannot answer, then a person.
    say(stack, customer_a, "Posso portare il mio cane nel vostro negozio?")
    say(stack, customer_a, "voglio parlare con un operatore")
    ticket = get_open_ticket(db, customer_a)
    assert ticket is not None

    # The operator answers and proposes the answer for the knowledge base.
    console = logged_in(stack, operator, PASSWORD)
    page = console.get(f"/tickets/{ticket.id}")
    assert "Posso portare il mio cane" in page.text
    sent = console.post(
        f"/tickets/{ticket.id}/answer",
        data={
            "csrf_token": csrf_of(page),
            "text": ANSWER_IT,
            "propose": "1",
            "kb_question": "Posso portare il mio cane nei vostri negozi?",
            "kb_tags": "negozi",
        },
    )
    assert sent.status_code == 303
    assert ANSWER_IT in texts(say(stack, customer_a, "ok grazie"))
    console.post(f"/tickets/{ticket.id}/close", data={"csrf_token": csrf_of(page)})
    assert get_ticket(db, ticket.id).status == "closed"
    (draft,) = [
        a for a in store.list_articles(db, status="draft") if a.source == f"ticket:{ticket.id}"
    ]
    assert "mario.rossi@example.com" not in draft.answer, "scrubbed before anyone sees it"

    # Back from the handoff, customer A is asked once how the ticket went, and answers.
    back = say(stack, customer_a, "grazie mille")
    assert _payload(back, "5") == '/give_rating{"rating": "5"}'
    effort = say(stack, customer_a, "4")
    (csat,) = ratings.ratings_for(db, schema.TARGET_TICKET, str(ticket.id))
    assert (csat["kind"], csat["value"]) == (schema.RATING_CSAT, 4)
    # Then how easy it was (CES, 1-7), once per ticket.
    assert "quanto è stato facile risolvere il tuo problema?" in texts(effort).lower()
    assert _payload(effort, "7") == '/give_rating{"rating": "7"}'
    say(stack, customer_a, "6")
    given = {(r["kind"], r["value"]) for r in ratings.ratings_for(db, "ticket", str(ticket.id))}
    assert given == {(schema.RATING_CSAT, 4), (schema.RATING_CES, 6)}

    # A supervisor publishes it in both languages.
    review = logged_in(stack, supervisor, PASSWORD)
    article_page = review.get(f"/articles/{draft.id}")
    published = review.post(
        f"/articles/{draft.id}/publish",
        data={
            "csrf_token": csrf_of(article_page),
            "question_it": "Posso portare il mio cane nei vostri negozi?",
            "alt_it": "i cani sono ammessi in negozio?\nanimali in negozio",
            "answer_it": draft.answer,
            "question_en": "Can I bring my dog to your shops?",
            "alt_en": "are pets allowed in the shop?",
            "answer_en": ANSWER_EN,
            "tags": "negozi",
        },
    )
    assert published.status_code == 303
    assert store.get_article(db, draft.id, "en").status == "published"

    # Customers B (Italian) and C (English) ask paraphrases right away.
    reply_b = say(stack, customer_b, "i cani possono entrare nei vostri negozi?")
    assert "i cani al guinzaglio sono i benvenuti" in texts(reply_b)
    assert "mario.rossi" not in texts(reply_b)
    reply_c = say(stack, customer_c, "are dogs allowed inside your stores?")
    assert ANSWER_EN in texts(reply_c)

    # B finds it helpful (the button names the article), says goodbye, rates, skips NPS.
    say(stack, customer_b, _payload(reply_b, "👍"))
    votes = [r for r in ratings.ratings_for(db, schema.TARGET_ARTICLE, draft.id)]
    assert [(v["conversation_id"], v["value"]) for v in votes] == [(customer_b, 1)]
    goodbye = say(stack, customer_b, "grazie, arrivederci")
    assert any(m.get("buttons") for m in goodbye), "CSAT is asked once the bot resolved it"
    after_csat = say(stack, customer_b, _payload(goodbye, "5"))
    assert "0" in [b["title"] for m in after_csat for b in m.get("buttons") or []], "then NPS"
    say(stack, customer_b, "salta")
    # Skipped: the conversation goes on normally and the question is not asked again.
    again = say(stack, customer_b, "i cani sono ammessi in negozio?")
    assert "i cani al guinzaglio" in texts(again)
    bye = say(stack, customer_b, "arrivederci")
    assert "Arrivederci" in texts(bye), "the goodbye path ran"
    assert not any(m.get("buttons") for m in bye), "CSAT is asked once per session"
    requests = {
        r["kind"]: r["status"]
        for r in db[schema.REQUESTS].rows_where("conversation_id = ?", [customer_b])
    }
    assert requests == {schema.RATING_CSAT: "answered", schema.RATING_NPS: "skipped"}

    # C says it did not help: a 👎 against the same article, and a rephrase is offered.
    rejected = say(stack, customer_c, _payload(reply_c, "👎"))
    assert "rephrase" in texts(rejected)
    assert (draft.id, 0) in {
        (r["target_id"], r["value"])
        for r in ratings.ratings_for(db, schema.TARGET_ARTICLE, draft.id)
        if r["conversation_id"] == customer_c
    }

    # Rasa loaded our tracker store (it would fall back to memory silently otherwise).
    with sqlite3.connect(stack.tracker_db_path) as tracker_db:
        assert tracker_db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # The log has every turn, with the article and decision.
    turns.sync(db, stack.tracker_db_path)
    logged = turns.conversation_turns(db, customer_b)
    assert logged[0]["decision"] == schema.DECISION_ANSWERED
    assert logged[0]["article_id"] == draft.id and logged[0]["lang"] == "it"

    # Erasing customer A: nothing of A remains anywhere; the scrubbed article survives.
    exported = customers.export(db, customer_a, stack.tracker_db_path)
    assert "Posso portare il mio cane" in json.dumps(exported, ensure_ascii=False)
    left = customers.erase(db, customer_a, stack.tracker_db_path)
    assert all(count == 0 for count in left.values()), left
    for table in db.table_names():
        for row in db[table].rows:
            assert customer_a not in json.dumps(row, ensure_ascii=False, default=str), table
    assert store.get_article(db, draft.id, "it").status == "published"
    assert "i cani al guinzaglio" in texts(
        say(stack, f"loop-d-{suffix}", "i cani sono ammessi in negozio?")
    )
