"""Write the SQL dump of a populated database made by a release before numbered migrations.

The dump (``sportello-<commit>.sql``) is what tests/sportello/test_migrations.py upgrades.
It was made by that release's own code, its ``ensure_schema`` functions, so run this with
the release checked out first on the path::

    git archive 6c15e6c | tar -x -C /tmp/oldrel
    PYTHONPATH=/tmp/oldrel python tests/sportello/data/dump_release.py 6c15e6c

Every table gets rows (accents, NULLs and JSON included), written the way that release
wrote them: articles through its store (so the history and counter triggers fire), the
rest as rows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from customerlog import schema as log_schema
from desk import alerts, mailbox, tickets, users
from identity import schema as identity_schema
from knowledge import phrasings, store
from sportello.db import open_db

T0 = "2026-11-02T09:15:00+00:00"
T1 = "2026-11-02T10:40:00+00:00"


def populate(db) -> None:
    for schema in (store, phrasings, identity_schema, tickets, users, mailbox, alerts):
        schema.ensure_schema(db)
    log_schema.ensure_schema(db)
    store.upsert_articles(
        db,
        [
            store.Article(
                id="spedizione",
                lang="it",
                question="Quanto costa la spedizione?",
                answer="La spedizione è gratuita sopra i 50 €.",
                alt_questions=["costi di spedizione", "spese di consegna"],
                tags=["ordini"],
                source="faq.csv",
                updated_by="anna",
            ),
            store.Article(
                id="spedizione",
                lang="en",
                question="How much is shipping?",
                answer="Shipping is free over €50.",
            ),
            store.Article(
                id="resi",
                lang="it",
                question="Come faccio un reso?",
                answer="Entro 30 giorni dal sito.",
                status="draft",
            ),
        ],
    )
    store.upsert_article(
        db,
        store.Article(
            id="resi",
            lang="it",
            question="Come faccio un reso?",
            answer="Entro 30 giorni, dalla pagina «I miei ordini».",
            status="published",
            updated_by="marco",
        ),
    )
    db["phrasing_proposals"].insert_all(
        [
            {"article_id": "spedizione", "lang": "it", "text": "quanto pago per la consegna",
             "norm": "quanto pago per la consegna", "source": "pick", "status": "proposed",
             "votes": 2, "refs": '["conv-1", "conv-2"]', "first_at": T0, "last_at": T1,
             "decided_by": None, "decided_at": None},
            {"article_id": "resi", "lang": "it", "text": "voglio restituire un paio di scarpe",
             "norm": "voglio restituire un paio di scarpe", "source": "helpful",
             "status": "approved", "votes": 1, "refs": '["conv-3"]', "first_at": T0,
             "last_at": T0, "decided_by": "anna", "decided_at": T1},
        ]
    )  # fmt: skip
    db["identity_profiles"].insert_all(
        [
            {"id": "cust-1", "created_at": T0, "merged_into": None},
            {"id": "cust-2", "created_at": T0, "merged_into": "cust-1"},
        ]
    )
    db["identity_channels"].insert_all(
        [
            {"channel_id": "web-1", "profile_id": "cust-1", "channel": "socketio",
             "first_seen": T0, "last_seen": T1},
            {"channel_id": "tg-7", "profile_id": "cust-1", "channel": "telegram",
             "first_seen": T0, "last_seen": T0},
        ]
    )  # fmt: skip
    db["identity_conversations"].insert(
        {"conversation_id": "conv-1", "channel_id": "web-1", "channel": "socketio",
         "first_seen": T0, "last_seen": T1}
    )  # fmt: skip
    db["identity_contacts"].insert(
        {"channel_id": "web-1", "kind": "email", "value": "lucia@example.it", "verified": 1,
         "first_seen": T0, "last_seen": T1}
    )  # fmt: skip
    db["identity_merges"].insert(
        {"kept": "cust-1", "absorbed": "cust-2", "moved": '["tg-7"]', "reason": "operator",
         "actor": "anna", "at": T1, "undone_at": None, "undone_by": None}
    )  # fmt: skip
    db["identity_blocks"].insert({"channel_a": "web-9", "channel_b": "tg-9"})
    db["tickets"].insert_all(
        [
            {"conversation_id": "conv-1", "customer_id": "web-1", "channel": "socketio",
             "lang": "it", "reason": "asked_for_human", "status": "closed", "created_at": T0,
             "transcript": '[{"role": "customer", "text": "Il pacco non è arrivato"}]',
             "priority": "high", "assigned_to": "anna", "first_response_due": T1,
             "resolution_due": T1, "first_response_at": T0, "closed_at": T1,
             "closed_by": "anna", "escalation_level": 1, "at_risk": 1, "breached": 0,
             "customer_email": "lucia@example.it", "resume_delivered": 1},
            {"conversation_id": "conv-2", "customer_id": None, "channel": "rest",
             "lang": "en", "reason": "kb_abstained", "status": "open", "created_at": T1,
             "transcript": "[]", "priority": "normal", "assigned_to": None,
             "first_response_due": T1, "resolution_due": T1, "first_response_at": None,
             "closed_at": None, "closed_by": None, "escalation_level": 0, "at_risk": 0,
             "breached": 0, "customer_email": None, "resume_delivered": 0},
        ]
    )  # fmt: skip
    db["ticket_messages"].insert_all(
        [
            {"ticket_id": 1, "role": "customer", "text": "Il pacco non è arrivato",
             "author": None, "created_at": T0, "delivered": 1, "delivered_at": None},
            {"ticket_id": 1, "role": "operator", "text": "Lo ricontrolliamo subito.",
             "author": "anna", "created_at": T1, "delivered": 1, "delivered_at": T1},
            {"ticket_id": 2, "role": "operator", "text": "On its way.", "author": "marco",
             "created_at": T1, "delivered": 0, "delivered_at": None},
        ]
    )  # fmt: skip
    db["ticket_events"].insert_all(
        [
            {"ticket_id": 1, "kind": "created", "detail": "asked_for_human/high",
             "actor": None, "created_at": T0},
            {"ticket_id": 1, "kind": "closed", "detail": None, "actor": "anna",
             "created_at": T1},
            {"ticket_id": 2, "kind": "created", "detail": "kb_abstained/normal",
             "actor": None, "created_at": T1},
        ]
    )  # fmt: skip
    db["ticket_conversations"].insert(
        {"ticket_id": 1, "conversation_id": "conv-1", "channel": "socketio", "joined_at": T0}
    )
    db["users"].insert(
        {"username": "anna", "password_hash": "scrypt$16384$8$1$c2FsdA$aGFzaA",
         "role": "supervisor", "lang": "it", "created_at": T0, "password_changed_at": T0}
    )  # fmt: skip
    db["mail_outbox"].insert(
        {"ticket_id": 1, "kind": "answer", "source": "2", "recipient": "lucia@example.it",
         "lang": "it", "message_id": "<t1.2@example.it>", "in_reply_to": None, "refs": None,
         "status": "sent", "attempts": 1, "next_attempt_at": None, "created_at": T1,
         "sent_at": T1, "last_error": None}
    )  # fmt: skip
    db["mail_inbox"].insert(
        {"message_key": "<r1@example.it>", "received_at": T1, "sender": "lucia@example.it",
         "ticket_id": 1, "outcome": "added", "detail": None}
    )  # fmt: skip
    db["alerts"].insert(
        {"event_id": 1, "audience": "operators", "ticket_id": 1, "kind": "created",
         "detail": "asked_for_human/high", "priority": "high", "created_at": T0,
         "sent_at": T0, "next_attempt_at": None, "last_error": None}
    )  # fmt: skip
    db["alert_state"].insert({"id": 1, "last_event_id": 3})
    db["log_turns"].insert_all(
        [
            {"event_id": 11, "conversation_id": "conv-1", "customer_id": "web-1",
             "channel": "socketio", "lang": "it", "at": T0, "kind": "customer",
             "text": "quanto costa la spedizione?", "intent": "faq",
             "intent_confidence": 0.93, "reply": "La spedizione è gratuita sopra i 50 €.",
             "decision": "answered", "article_id": "spedizione", "confidence": 0.88,
             "ticket_id": None},
            {"event_id": None, "conversation_id": "conv-1", "customer_id": "web-1",
             "channel": "socketio", "lang": "it", "at": T1, "kind": "system", "text": "",
             "intent": None, "intent_confidence": None, "reply": "", "decision": None,
             "article_id": None, "confidence": None, "ticket_id": 1},
        ]
    )  # fmt: skip
    db["ratings"].insert_all(
        [
            {"kind": "helpful", "value": 1, "target_type": "article", "target_id": "spedizione",
             "article_lang": "it", "session": None, "conversation_id": "conv-1",
             "customer_id": "web-1", "channel": "socketio", "lang": "it", "at": T0},
            {"kind": "csat", "value": 5, "target_type": "ticket", "target_id": "1",
             "article_lang": None, "session": None, "conversation_id": "conv-1",
             "customer_id": "web-1", "channel": "socketio", "lang": "it", "at": T1},
        ]
    )  # fmt: skip
    db["rating_requests"].insert(
        {"kind": "csat", "target_type": "ticket", "target_id": "1", "session": "",
         "conversation_id": "conv-1", "customer_id": "web-1", "asked_at": T1,
         "status": "answered", "answered_at": T1}
    )  # fmt: skip
    db["log_state"].insert({"name": "last_event_id", "value": 11})


def main(commit: str) -> None:
    out = Path(__file__).with_name(f"sportello-{commit}.sql")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "sportello.db")
        populate(db)
        out.write_text("\n".join(db.conn.iterdump()) + "\n", encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
