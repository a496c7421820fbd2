"""People who log in to the operator console, their roles and their passwords.

Passwords are never stored: each user has a random 16-byte salt and the scrypt hash of
the password with it (``hashlib.scrypt``, N=2**14, r=8, p=1: about 16 MB and tens of
milliseconds per check, which makes offline guessing expensive). The parameters are stored
with the hash (``scrypt$N$r$p$salt$hash``) so they can be raised later without breaking old
hashes. Hashes are compared in constant time, and logging in as a user who does not exist
costs the same scrypt work, so response time does not reveal which usernames exist.

Roles: ``operator`` and ``supervisor`` work tickets (a supervisor may also answer and close
tickets claimed by someone else); ``marketing`` reads insights only. Usernames are stored
lower-case: ``Anna`` and ``anna`` are the same person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from sportello.clock import MICROSECONDS, format_time, utc_now
from sportello.languages import LANGUAGES

TABLE = "users"

ROLE_OPERATOR = "operator"
ROLE_SUPERVISOR = "supervisor"
ROLE_MARKETING = "marketing"
ROLES = (ROLE_OPERATOR, ROLE_SUPERVISOR, ROLE_MARKETING)
# Roles allowed to read, claim, answer and close tickets.
TICKET_ROLES = frozenset({ROLE_OPERATOR, ROLE_SUPERVISOR})

MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase; bounds the work one login request can cause.
MAX_PASSWORD_LENGTH = 1024
# 2-32 characters, starting with a letter or digit: safe in URLs, logs and the CLI.
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
LANGS = LANGUAGES

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why (English)."""


class InvalidUsername(UserError):
    pass


class WeakPassword(UserError):
    pass


class UnknownRole(UserError):
    pass


class UserExists(UserError):
    pass


class UnknownUser(UserError):
    pass


@dataclass(frozen=True)
class User:
    """A console user as the rest of the code sees one: never the password hash.

    ``password_changed_at`` changes whenever the password does; console sessions carry it,
    so changing a password ends every session opened with the old one.
    """

    username: str
    role: str
    lang: str | None
    created_at: str
    password_changed_at: str

    @property
    def works_tickets(self) -> bool:
        return self.role in TICKET_ROLES

    @property
    def is_supervisor(self) -> bool:
        return self.role == ROLE_SUPERVISOR

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(
            username=row["username"],
            role=row["role"],
            lang=row["lang"],
            created_at=row["created_at"],
            password_changed_at=row["password_changed_at"],
        )


def _now() -> str:
    """Now, stored to the microsecond: sessions carry ``password_changed_at`` and must stop
    matching after a password change, even one made in the same second."""
    return format_time(utc_now(), MICROSECONDS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalize_username(username: str) -> str:
    """The stored form of a username; raises :class:`InvalidUsername` if it cannot be one."""
    name = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise InvalidUsername(
            "username must be 2-32 characters: letters a-z, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password_strength(password: str) -> None:
    """Raise :class:`WeakPassword` unless the password is at least 10 characters long."""
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        raise WeakPassword(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        expected_bytes = _unb64(expected)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected_bytes),
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected_bytes)


# Checked against when the username is unknown, so that case costs the same scrypt work.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_user(
    db: sqlite_utils.Database,
    username: str,
    password: str,
    role: str,
    *,
    lang: str | None = None,
) -> User:
    """Add a user; ``lang`` ("it"/"en") is the console language they prefer, None = browser's.

    Raises :class:`InvalidUsername`, :class:`WeakPassword`, :class:`UnknownRole` or
    :class:`UserExists` (all :class:`UserError`).
    """
    name = normalize_username(username)
    check_password_strength(password)
    if role not in ROLES:
        raise UnknownRole(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if lang is not None and lang not in LANGS:
        raise UserError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    now = _now()
    row = {
        "username": name,
        "password_hash": hash_password(password),
        "role": role,
        "lang": lang,
        "created_at": now,
        "password_changed_at": now,
    }
    try:
        with db.conn:
            db.conn.execute(
                f"INSERT INTO {TABLE} (username, password_hash, role, lang, created_at, "
                "password_changed_at) VALUES (:username, :password_hash, :role, :lang, "
                ":created_at, :password_changed_at)",
                row,
            )
    except sqlite3.IntegrityError as exc:
        raise UserExists(f"user {name!r} already exists") from exc
    return User.from_row(row)


def _row(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    rows = list(db[TABLE].rows_where("username = ?", [username.strip().lower()], limit=1))
    return rows[0] if rows else None


def get_user(db: sqlite_utils.Database, username: str) -> User | None:
    """The user with this name (any case), or None."""
    row = _row(db, username)
    return User.from_row(row) if row else None


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None (unknown user and wrong password alike)."""
    row = _row(db, username) if len(password) <= MAX_PASSWORD_LENGTH else None
    if row is None:
        verify_password(password[:MAX_PASSWORD_LENGTH], _DUMMY_HASH)
        return None
    if not verify_password(password, row["password_hash"]):
        return None
    return User.from_row(row)


def list_users(db: sqlite_utils.Database) -> list[User]:
    """Every user, by username."""
    return [User.from_row(row) for row in db[TABLE].rows_where(order_by="username")]


def set_password(db: sqlite_utils.Database, username: str, password: str) -> None:
    """Replace the user's password (ending their open console sessions).

    Raises :class:`WeakPassword` or :class:`UnknownUser`.
    """
    check_password_strength(password)
    with db.conn:
        cursor = db.conn.execute(
            f"UPDATE {TABLE} SET password_hash = ?, password_changed_at = ? WHERE username = ?",
            [hash_password(password), _now(), username.strip().lower()],
        )
    if cursor.rowcount == 0:
        raise UnknownUser(f"no user named {username!r}")
