"""One customer across channels, on the real stack.

Anna is signed in on the company's site: its web chat sends her e-mail address signed
with the identity secret (``customData``), over Rasa's real socket.io channel. Later she
writes from a messaging app whose integration (Rasa's callback channel) signs the same
address. Sportello must see one customer: the open ticket follows her to the new
channel, the operator's answer is pushed there, the console shows one history, and
erasing her removes both conversations. An operator's merge and its undo run through
the console's forms.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from customerlog import turns
from desk import sla, tickets
from desk.delivery import deliver_ticket_updates
from desk.users import create_user
from identity import profiles
from identity.contacts import identity_secret, signed_metadata
from privacy import customers
from sportello.settings import PROJECT_ROOT, Settings
from tests.databases import open_db
from tests.integration.callback import CallbackReceiver
from tests.integration.rest import say
from tests.integration.test_console_to_customer import csrf_of, logged_in

pytestmark = pytest.mark.integration

POLICY = sla.load_policy(None)  # the stack runs on the default business hours
SOCKETIO_CLIENT = PROJECT_ROOT / "tests" / "integration" / "socketio_client.py"


def web_chat(
    rasa_bin: Path, settings: Settings, session: str, messages: list[tuple[str, dict]]
) -> tuple[str, list[str]]:
    """Talk over socket.io like the web widget; returns the conversation id the server
    confirmed (it issues and signs session ids) and each message's replies, joined."""
    lines = "".join(json.dumps({"message": m, "customData": d}) + "\n" for m, d in messages)
    done = subprocess.run(
        [str(rasa_bin.with_name("python")), str(SOCKETIO_CLIENT), settings.rasa_url, session],
        input=lines,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return lines[0]["session"], ["\n".join(line["replies"]) for line in lines]


def messaging_app(settings: Settings, sender: str, text: str, metadata: dict) -> None:
    """The messaging integration forwards a message to Rasa's callback channel."""
    reply = httpx.post(
        f"{settings.rasa_url}/webhooks/callback/webhook",
        json={"sender": sender, "message": text, "metadata": metadata},
        timeout=60,
    )
    assert (reply.status_code, reply.text) == (200, "success")


def test_web_and_messaging_app_are_one_customer_until_erased(
    stack: Settings, callback_receiver: CallbackReceiver, rasa_bin: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"anna.{tag}@example.com"
    signed = signed_metadata(identity_secret(stack), email=email)
    web, app = f"web-{tag}", f"wa-{tag}"
    db = open_db(stack.db_path)

    # On the web: a question the bot answers, then a person.
    web, (answered, handed) = web_chat(
        rasa_bin,
        stack,
        web,
        [
            ("quanto costa la spedizione?", {"language": "it", **signed}),
            ("voglio parlare con un operatore", {"language": "it", **signed}),
        ],
    )
    assert "spedizione" in answered.lower()
    assert "operatore" in handed
    ticket = tickets.get_open_ticket(db, web)
    assert ticket is not None and ticket.channel == "socketio"

    # From the messaging app, the same signed address: the ticket follows her there.
    before = datetime.now(timezone.utc)
    messaging_app(stack, app, "ciao, ci sono novità sul mio ordine?", signed)
    told = "\n".join(callback_receiver.next_texts(app, 1))
    after = datetime.now(timezone.utc)
    assert f"n. {ticket.id}" in told and "ancora aperta" in told
    # Outside business hours (evenings, weekends, the lunch break) she is also told
    # when the desk opens again: one more message before the operator's answer.
    open_then = {sla.is_open(POLICY, before), sla.is_open(POLICY, after)}
    moved = tickets.get_ticket(db, ticket.id)
    assert (moved.conversation_id, moved.channel) == (app, "callback")
    assert tickets.ticket_messages(db, ticket.id)[-1].text == "ciao, ci sono novità sul mio ordine?"
    assert len([t for t in tickets.list_tickets(db) if t.conversation_id in (web, app)]) == 1

    # The operator's answer is pushed to where she is now.
    tickets.answer_ticket(db, ticket.id, "giulia", "Il tuo ordine parte domani.")
    assert deliver_ticket_updates(db, stack, ticket.id)
    answer = "Il tuo ordine parte domani."
    pushed = callback_receiver.next_texts(app, 1)
    if pushed != [answer]:
        assert open_then != {True}, f"told the desk is closed during business hours: {pushed}"
        assert pushed[0].startswith("Il servizio clienti in questo momento è chiuso"), pushed
        pushed = callback_receiver.next_texts(app, 1)
    else:
        assert open_then != {False}, "outside business hours, not told when the desk opens"
    assert pushed == [answer]

    # One customer, one history.
    turns.sync(db, stack.tracker_db_path)
    person = profiles.resolve(db, web)
    assert person is not None and profiles.resolve(db, app) == person
    profile = profiles.get_profile(db, person)
    assert profile is not None and {web, app} <= set(profile.conversation_ids)
    assert {c["channel"] for c in profile.channels} == {"socketio", "callback"}
    assert [c["verified"] for c in profile.contacts if c["value"] == email] == [1, 1]

    create_user(db, f"op-{tag}", "integration-password-1", "operator")
    console = logged_in(stack, f"op-{tag}", "integration-password-1")
    page = console.get(f"/tickets/{ticket.id}").text
    for said in ("quanto costa la spedizione?", "ci sono novità sul mio ordine?"):
        assert said in page
    assert web in page and app in page and person in page

    # Erasing her, by either id, removes both conversations everywhere.
    left = customers.erase(db, app, stack.tracker_db_path)
    assert left and not any(left.values()), left
    for table in db.table_names():
        dump = json.dumps([list(row.values()) for row in db[table].rows], ensure_ascii=False)
        assert email not in dump and web not in dump and app not in dump, table
    with turns.tracker_store(stack.tracker_db_path) as conn:
        assert conn is not None
        held = conn.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id IN (?, ?)", [web, app]
        ).fetchone()
        assert held == (0,)


def test_an_operator_merges_two_channels_and_undoes_it_in_the_console(stack: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    first, second = f"rest-a-{tag}", f"rest-b-{tag}"
    say(stack, first, "quanto costa la spedizione?")
    say(stack, second, "how much is shipping?")
    db = open_db(stack.db_path)
    turns.sync(db, stack.tracker_db_path)
    a, b = profiles.resolve(db, first), profiles.resolve(db, second)
    assert a and b and a != b

    create_user(db, f"sup-{tag}", "integration-password-1", "supervisor")
    console = logged_in(stack, f"sup-{tag}", "integration-password-1")
    page = console.get(f"/customers/{a}")
    merged = console.post(
        f"/customers/{a}/merge", data={"csrf_token": csrf_of(page), "other": second}
    )
    assert merged.status_code == 303
    assert profiles.resolve(db, second) == a
    page = console.get(f"/customers/{a}")
    assert "how much is shipping?" in page.text  # the merged channel's history shows
    [link] = profiles.merges_of(db, a)
    undone = console.post(
        f"/customers/{a}/links/{link.id}/undo", data={"csrf_token": csrf_of(page)}
    )
    assert undone.status_code == 303
    assert profiles.resolve(db, second) == b
    assert "how much is shipping?" not in console.get(f"/customers/{a}").text
