"""The console's customer pages: one person across channels, merge and undo."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlite_utils
from fastapi.testclient import TestClient

from customerlog import turns
from desk import tickets
from identity import profiles
from identity.contacts import Contact
from tests.desk.console.conftest import logged_in, page_token

AT = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def seen(db: sqlite_utils.Database, conversation: str, channel: str, *found: Contact) -> str:
    return profiles.record(
        db,
        conversation_id=conversation,
        channel_id=conversation,
        channel=channel,
        contacts=found,
        at=AT,
    )


def said(db: sqlite_utils.Database, conversation: str, channel: str, text: str, reply: str) -> None:
    turns.record_turn(
        db,
        conversation_id=conversation,
        channel=channel,
        at=AT.isoformat(),
        kind="customer",
        text=text,
        reply=reply,
    )


def test_the_ticket_page_shows_the_customers_history_on_every_channel(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    anna = Contact("email", "anna@example.com", True)
    seen(db, "conv-1", "socketio", anna)
    seen(db, "wa-1", "callback", anna)  # linked by the verified address
    said(db, "wa-1", "callback", "Ho scritto anche su WhatsApp <b>ieri</b>", "Ti rispondiamo qui")
    said(db, "conv-1", "socketio", "Il pacco è arrivato rotto", "Passo a un operatore")
    logged_in(client, "anna")
    page = client.get(f"/tickets/{ticket.id}").text
    assert 'id="customer-history"' in page
    assert "Ho scritto anche su WhatsApp &lt;b&gt;ieri&lt;/b&gt;" in page  # escaped
    assert "<b>ieri</b>" not in page
    assert "wa-1" in page and "callback" in page
    assert "anna@example.com" in page and "verificato" in page
    assert "stessa e-mail verificata" in page  # the link and why it was made


def test_an_operator_merges_a_suggested_profile_and_undoes_it(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    seen(db, "conv-1", "socketio", Contact("phone", "+393331234567", True))
    other = seen(db, "tg-9", "telegram", Contact("phone", "+393331234567", False))
    logged_in(client, "anna")
    page = client.get(f"/tickets/{ticket.id}").text
    assert other in page and "merge-suggestion" in page  # typed number: only suggested
    mine = profiles.resolve(db, "conv-1")
    assert mine != other

    merged = client.post(
        f"/customers/{mine}/merge",
        data={
            "csrf_token": page_token(client, f"/tickets/{ticket.id}"),
            "other": "tg-9",
            "back_to": f"/tickets/{ticket.id}",
        },
    )
    assert merged.status_code == 303 and merged.headers["location"] == f"/tickets/{ticket.id}"
    assert profiles.resolve(db, "tg-9") == mine
    [link] = profiles.merges_of(db, mine)
    assert (link.actor, link.reason) == ("anna", "operator")

    undone = client.post(
        f"/customers/{mine}/links/{link.id}/undo",
        data={"csrf_token": page_token(client, f"/customers/{mine}"), "back_to": "//evil.example"},
    )
    assert undone.status_code == 303 and undone.headers["location"] == f"/customers/{mine}"
    assert profiles.resolve(db, "tg-9") == other
    assert profiles.merges_of(db, mine)[0].undone_by == "anna"
    again = client.post(
        f"/customers/{mine}/links/{link.id}/undo",
        data={"csrf_token": page_token(client, f"/customers/{mine}")},
    )
    assert again.status_code == 409 and "già annullato" not in again.text  # a clear refusal
    assert "Annullamento non riuscito" in again.text


def test_merging_an_unknown_id_is_refused_clearly(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    mine = seen(db, "conv-1", "socketio")
    logged_in(client, "anna")
    refused = client.post(
        f"/customers/{mine}/merge",
        data={
            "csrf_token": page_token(client, f"/customers/{mine}"),
            "other": "<script>x</script>",
        },
    )
    assert refused.status_code == 422
    assert "Unione non riuscita" in refused.text and "<script>x" not in refused.text


def test_customer_pages_need_a_ticket_worker_and_a_token(
    client: TestClient,
    other_client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
) -> None:
    mine = seen(db, "conv-1", "socketio")
    seen(db, "other", "rest")
    logged_in(client, "mara")  # marketing
    assert client.get(f"/customers/{mine}").status_code == 403
    assert client.post(f"/customers/{mine}/merge", data={"other": "other"}).status_code == 403
    logged_in(other_client, "anna")
    assert other_client.get("/customers/nobody").status_code == 404
    forged = other_client.post(
        f"/customers/{mine}/merge", data={"csrf_token": "x", "other": "other"}
    )
    assert forged.status_code == 403
    assert profiles.resolve(db, "other") != mine
