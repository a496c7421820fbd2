"""Customers' ratings: whether an answer helped, CSAT, NPS, and each article's quality.

Ratings are written by the bot's actions the moment the customer gives them, in one
transaction with the question they answer, so a crash never loses one. Which questions
to ask is decided here too: CSAT once per bot-resolved session and once per closed
ticket, NPS at most once per customer per period (``SPORTELLO_NPS_PERIOD_DAYS``).
Every question can be skipped; a skipped question is never asked again.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from customerlog import schema
from identity import profiles
from sportello.clock import format_time
from sportello.db import write_transaction

# An article needs this many helpful/not-helpful votes before its score means anything.
MIN_VOTES_FOR_REVIEW = 3
# Articles whose score is below this (after MIN_VOTES_FOR_REVIEW votes) need review.
REVIEW_BELOW = 0.5
# z for the Wilson lower bound (90% one-sided): few votes give a cautious score.
_WILSON_Z = 1.2816


class RatingError(ValueError):
    """A rating that cannot be stored (unknown kind, value out of range)."""


@dataclass(frozen=True)
class Rater:
    """Who is rating, and where: the conversation's identity at the time of the rating."""

    conversation_id: str
    customer_id: str
    channel: str | None = None
    lang: str | None = None


def check_value(kind: str, value: int) -> int:
    """``value`` if it is a valid ``kind`` rating, else :class:`RatingError`."""
    if kind not in schema.RATING_RANGES:
        raise RatingError(f"unknown rating kind {kind!r}")
    low, high = schema.RATING_RANGES[kind]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RatingError(f"a {kind} rating is a whole number from {low} to {high}")
    return value


def _insert(
    conn: sqlite3.Connection,
    rater: Rater,
    kind: str,
    value: int,
    target_type: str,
    target_id: str,
    now: datetime,
    article_lang: str | None = None,
    session: str = "",
) -> int:
    """One row of ``ratings`` inside the caller's transaction; returns its id."""
    cursor = conn.execute(
        f"""INSERT INTO {schema.RATINGS} (kind, value, target_type, target_id, article_lang,
            session, conversation_id, customer_id, channel, lang, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            kind,
            value,
            target_type,
            target_id,
            article_lang,
            session,
            rater.conversation_id,
            rater.customer_id,
            rater.channel,
            rater.lang,
            format_time(now),
        ),
    )
    return int(cursor.lastrowid or 0)


def record(
    db: sqlite_utils.Database,
    rater: Rater,
    kind: str,
    value: int,
    target_type: str,
    target_id: str,
    now: datetime,
    *,
    article_lang: str | None = None,
    session: str = "",
) -> int:
    """Store a rating (and mark its question answered); returns the rating's id."""
    check_value(kind, value)
    with write_transaction(db) as conn:
        rating_id = _insert(
            conn, rater, kind, value, target_type, str(target_id), now, article_lang, session
        )
        conn.execute(
            f"""UPDATE {schema.REQUESTS} SET status = ?, answered_at = ?
                WHERE kind = ? AND target_type = ? AND target_id = ? AND session = ?""",
            (schema.REQUEST_ANSWERED, format_time(now), kind, target_type, str(target_id), session),
        )
        return rating_id


def record_helpful(
    db: sqlite_utils.Database,
    rater: Rater,
    article_id: str,
    helpful: bool,
    now: datetime,
    *,
    article_lang: str | None = None,
) -> int:
    """A 👍/👎 for an article; a second vote from the same conversation replaces the
    first (customers change their mind, and clicking ten times must not count ten)."""
    with write_transaction(db) as conn:
        conn.execute(
            f"""DELETE FROM {schema.RATINGS} WHERE kind = ? AND target_type = ? AND target_id = ?
                AND conversation_id = ?""",
            (schema.RATING_HELPFUL, schema.TARGET_ARTICLE, article_id, rater.conversation_id),
        )
        return _insert(
            conn,
            rater,
            schema.RATING_HELPFUL,
            int(helpful),
            schema.TARGET_ARTICLE,
            article_id,
            now,
            article_lang,
        )


def ask(
    db: sqlite_utils.Database,
    rater: Rater,
    kind: str,
    target_type: str,
    target_id: str,
    now: datetime,
    *,
    session: str = "",
) -> bool:
    """Record that a question is being asked; False if it was asked before (do not ask)."""
    with write_transaction(db) as conn:
        cursor = conn.execute(
            f"""INSERT OR IGNORE INTO {schema.REQUESTS} (kind, target_type, target_id, session,
                conversation_id, customer_id, asked_at, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                kind,
                target_type,
                str(target_id),
                session,
                rater.conversation_id,
                rater.customer_id,
                format_time(now),
                schema.REQUEST_ASKED,
            ),
        )
        return cursor.rowcount == 1


def request_status(
    db: sqlite_utils.Database, kind: str, target_type: str, target_id: str, session: str = ""
) -> str | None:
    """Where a question stands: asked, answered, skipped, or None if never asked."""
    row = db.execute(
        f"""SELECT status FROM {schema.REQUESTS}
            WHERE kind = ? AND target_type = ? AND target_id = ? AND session = ?""",
        (kind, target_type, str(target_id), session),
    ).fetchone()
    return row[0] if row else None


def skip(
    db: sqlite_utils.Database, kind: str, target_type: str, target_id: str, session: str = ""
) -> None:
    """The customer declined to answer the question."""
    with write_transaction(db) as conn:
        conn.execute(
            f"""UPDATE {schema.REQUESTS} SET status = ?
                WHERE kind = ? AND target_type = ? AND target_id = ? AND session = ?
                AND status = ?""",
            (
                schema.REQUEST_SKIPPED,
                kind,
                target_type,
                str(target_id),
                session,
                schema.REQUEST_ASKED,
            ),
        )


def nps_due(db: sqlite_utils.Database, customer_id: str, period_days: int, now: datetime) -> bool:
    """Whether the customer may be asked NPS: not asked within the last ``period_days``
    on any of their channels (the person's profile, :mod:`identity.profiles`)."""
    since = format_time(now - timedelta(days=period_days))
    profile_id = profiles.resolve(db, customer_id)
    profile = profiles.get_profile(db, profile_id) if profile_id else None
    ids = sorted({customer_id, *(profile.channel_ids if profile else [])})
    marks = ", ".join("?" for _ in ids)
    row = db.execute(
        f"SELECT 1 FROM {schema.REQUESTS} WHERE customer_id IN ({marks}) AND kind = ? "
        "AND asked_at > ? LIMIT 1",
        [*ids, schema.RATING_NPS, since],
    ).fetchone()
    return row is None


def ratings_for(
    db: sqlite_utils.Database, target_type: str, target_id: str
) -> list[dict[str, object]]:
    """Every rating of one target, oldest first."""
    return list(
        db.query(
            f"SELECT * FROM {schema.RATINGS} WHERE target_type = ? AND target_id = ? ORDER BY id",
            [target_type, str(target_id)],
        )
    )


@dataclass(frozen=True)
class ArticleQuality:
    """An article's helpful/not-helpful votes and the score they give it."""

    article_id: str
    helpful: int
    not_helpful: int

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def score(self) -> float:
        """Wilson lower bound of the helpful share: 2 of 2 scores below 40 of 45."""
        return wilson_lower_bound(self.helpful, self.votes)

    @property
    def needs_review(self) -> bool:
        return self.votes >= MIN_VOTES_FOR_REVIEW and self.score < REVIEW_BELOW


def wilson_lower_bound(positive: int, total: int, z: float = _WILSON_Z) -> float:
    """The cautious estimate of a proportion: low when there are few votes."""
    if total <= 0:
        return 0.0
    p = positive / total
    denominator = 1 + z * z / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - spread) / denominator)


def article_quality(db: sqlite_utils.Database) -> list[ArticleQuality]:
    """Every rated article's votes and score, worst first."""
    rows = db.execute(
        f"""SELECT target_id, SUM(value), SUM(1 - value) FROM {schema.RATINGS}
            WHERE kind = ? AND target_type = ? GROUP BY target_id""",
        [schema.RATING_HELPFUL, schema.TARGET_ARTICLE],
    ).fetchall()
    qualities = [ArticleQuality(str(a), int(h or 0), int(n or 0)) for a, h, n in rows]
    return sorted(qualities, key=lambda q: (q.score, -q.votes, q.article_id))


def review_list(db: sqlite_utils.Database) -> list[ArticleQuality]:
    """Articles customers keep finding unhelpful: rewrite or retire them."""
    return [quality for quality in article_quality(db) if quality.needs_review]
