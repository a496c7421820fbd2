"""The desk's schema history: tickets (``tickets``, ``ticket_messages``, ``ticket_events``,
``ticket_conversations``), console ``users``, e-mail (``mail_outbox``, ``mail_inbox``),
operator alerts (``alerts``, ``alert_state``), and the ``customer_log`` view, the
timeline of the log's turns and the operators' answers.

Applied once by :mod:`stack.database` at start-up, after the customer log's migrations
(the desk reads the log; the log knows nothing of the desk). A migration that has been
released is never edited: a schema change is a new numbered function at the end of this
file. Table names are written out here, not taken from the modules' constants, so that a
migration keeps meaning what it meant when it was released.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("desk")

# Columns added to tickets after the first release, with their defaults: a database
# made by an earlier release gains the ones it lacks in 0001_initial.
_TICKET_COLUMNS_ADDED: dict[str, tuple[str, object]] = {
    "priority": ("TEXT", "normal"),
    "assigned_to": ("TEXT", None),
    "first_response_due": ("TEXT", None),
    "resolution_due": ("TEXT", None),
    "first_response_at": ("TEXT", None),
    "closed_at": ("TEXT", None),
    "closed_by": ("TEXT", None),
    "escalation_level": ("INTEGER", 0),
    "at_risk": ("INTEGER", 0),
    "breached": ("INTEGER", 0),
    "customer_email": ("TEXT", None),
    "resume_delivered": ("INTEGER", 0),
}

_ROLES = ("operator", "supervisor", "marketing")

# Turns (the customer log's) and operators' answers in one timeline per conversation.
_VIEW_SQL = """
CREATE VIEW IF NOT EXISTS customer_log AS
SELECT conversation_id, customer_id, channel, lang, at, kind, text, reply, decision,
       article_id, confidence, ticket_id
FROM log_turns
UNION ALL
SELECT t.conversation_id, t.customer_id, t.channel, t.lang, m.created_at, 'operator_answer',
       '', m.text, NULL, NULL, NULL, t.id
FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
WHERE m.role = 'operator'
"""


@migrations(name="0001_initial")
def initial(db: sqlite_utils.Database) -> None:
    """The schema of the release before numbered migrations (6c15e6c).

    The floor: it accepts a fresh database and one made by an earlier release. Tickets
    from the first release (no SLA columns, an index allowing one ``open`` ticket per
    conversation) gain the missing columns with their defaults and the index covering
    open *and* claimed tickets; existing rows are kept.
    """
    _tickets(db)
    _users(db)
    _mail(db)
    _alerts(db)
    db.execute(_VIEW_SQL)


def _tickets(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS tickets (
                id INTEGER PRIMARY KEY,
                conversation_id TEXT NOT NULL,
                customer_id TEXT,
                channel TEXT,
                lang TEXT NOT NULL,
                reason TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at TEXT NOT NULL,
                transcript TEXT NOT NULL DEFAULT '[]'
            )"""
    )
    existing = {row[1] for row in db.execute("PRAGMA table_info(tickets)")}
    for column, (sql_type, default) in _TICKET_COLUMNS_ADDED.items():
        if column in existing:
            continue
        default_sql = "" if default is None else f" NOT NULL DEFAULT {default!r}"
        db.execute(f"ALTER TABLE tickets ADD COLUMN {column} {sql_type}{default_sql}")
    # One active ticket per conversation, enforced by SQLite itself. The first
    # release's index covered only status 'open'; claimed tickets count too.
    db.execute("DROP INDEX IF EXISTS tickets_one_open_per_conversation")
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS tickets_one_active_per_conversation "
        "ON tickets(conversation_id) WHERE status IN ('open', 'claimed')"
    )
    db.execute("CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status, created_at)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS ticket_messages (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                role TEXT NOT NULL,
                text TEXT NOT NULL,
                author TEXT,
                created_at TEXT NOT NULL,
                delivered INTEGER NOT NULL DEFAULT 1,
                delivered_at TEXT
            )"""
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS ticket_messages_ticket ON ticket_messages(ticket_id, id)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS ticket_messages_outbox ON ticket_messages(delivered) "
        "WHERE delivered = 0"
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS ticket_events (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                kind TEXT NOT NULL,
                detail TEXT,
                actor TEXT,
                created_at TEXT NOT NULL
            )"""
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS ticket_events_ticket ON ticket_events(ticket_id, kind, detail)"
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS ticket_conversations (
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                conversation_id TEXT NOT NULL,
                channel TEXT,
                joined_at TEXT NOT NULL,
                PRIMARY KEY (ticket_id, conversation_id)
            )"""
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS ticket_conversations_conversation "
        "ON ticket_conversations(conversation_id)"
    )


def _users(db: sqlite_utils.Database) -> None:
    roles = ", ".join(f"'{role}'" for role in _ROLES)
    db.execute(
        f"""CREATE TABLE IF NOT EXISTS users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ({roles})),
            lang TEXT,
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL
        )"""
    )


def _mail(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS mail_outbox (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                source TEXT NOT NULL,
                recipient TEXT NOT NULL,
                lang TEXT NOT NULL,
                message_id TEXT NOT NULL UNIQUE,
                in_reply_to TEXT,
                refs TEXT,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                last_error TEXT,
                UNIQUE (kind, source)
            )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox(status, next_attempt_at)")
    db.execute("CREATE INDEX IF NOT EXISTS mail_outbox_ticket ON mail_outbox(ticket_id, id)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS mail_inbox (
                id INTEGER PRIMARY KEY,
                message_key TEXT NOT NULL UNIQUE,
                received_at TEXT NOT NULL,
                sender TEXT,
                ticket_id INTEGER,
                outcome TEXT NOT NULL,
                detail TEXT
            )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS mail_inbox_ticket ON mail_inbox(ticket_id, id)")


def _alerts(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS alerts (
                id INTEGER PRIMARY KEY,
                event_id INTEGER NOT NULL,
                audience TEXT NOT NULL,
                ticket_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                detail TEXT,
                priority TEXT NOT NULL,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                next_attempt_at TEXT,
                last_error TEXT,
                UNIQUE (event_id, audience)
            )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS alerts_unsent ON alerts(audience, sent_at)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS alert_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "last_event_id INTEGER NOT NULL)"
    )
