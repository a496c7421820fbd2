"""Console users: validated names, scrypt-hashed passwords, roles, password changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from desk.users import (
    ROLES,
    InvalidUsername,
    UnknownRole,
    UnknownUser,
    UserExists,
    WeakPassword,
    authenticate,
    create_user,
    get_user,
    hash_password,
    list_users,
    set_password,
    verify_password,
)
from tests.databases import open_db

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sportello.db")


def test_created_user_can_authenticate(db: sqlite_utils.Database) -> None:
    created = create_user(db, "Anna.Rossi", PASSWORD, "operator")
    assert created.username == "anna.rossi"
    assert created.role == "operator"
    user = authenticate(db, "anna.rossi", PASSWORD)
    assert user == created
    assert authenticate(db, "ANNA.ROSSI", PASSWORD) == created


def test_wrong_password_and_unknown_user_are_refused_alike(db: sqlite_utils.Database) -> None:
    create_user(db, "anna", PASSWORD, "operator")
    assert authenticate(db, "anna", PASSWORD + "x") is None
    assert authenticate(db, "anna", "") is None
    assert authenticate(db, "nobody", PASSWORD) is None
    assert authenticate(db, "anna", "x" * 5000) is None


def test_password_is_stored_salted_and_hashed(db: sqlite_utils.Database) -> None:
    create_user(db, "anna", PASSWORD, "operator")
    create_user(db, "bruno", PASSWORD, "operator")
    anna = db["users"].get("anna")["password_hash"]
    bruno = db["users"].get("bruno")["password_hash"]
    assert PASSWORD not in anna
    assert anna.startswith("scrypt$")
    assert anna != bruno, "the same password must hash differently for different users"


def test_verify_password_rejects_malformed_hashes() -> None:
    stored = hash_password(PASSWORD)
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD, "")
    assert not verify_password(PASSWORD, "md5$abc")
    assert not verify_password(PASSWORD, stored.replace("scrypt", "bcrypt"))
    assert not verify_password(PASSWORD, "scrypt$x$8$1$salt$hash")


@pytest.mark.parametrize(
    "username", ["", "a", "-anna", "anna rossi", "anna/../x", "ànna", "a" * 33, "anna<script>"]
)
def test_invalid_usernames_are_refused(db: sqlite_utils.Database, username: str) -> None:
    with pytest.raises(InvalidUsername):
        create_user(db, username, PASSWORD, "operator")


@pytest.mark.parametrize("password", ["", "short", "123456789", " " * 12])
def test_weak_passwords_are_refused(db: sqlite_utils.Database, password: str) -> None:
    with pytest.raises(WeakPassword):
        create_user(db, "anna", password, "operator")
    assert get_user(db, "anna") is None


def test_ten_characters_is_enough(db: sqlite_utils.Database) -> None:
    create_user(db, "anna", "0123456789", "operator")
    assert authenticate(db, "anna", "0123456789") is not None


def test_unknown_role_is_refused(db: sqlite_utils.Database) -> None:
    with pytest.raises(UnknownRole):
        create_user(db, "anna", PASSWORD, "admin")


def test_duplicate_username_is_refused_whatever_the_case(db: sqlite_utils.Database) -> None:
    create_user(db, "anna", PASSWORD, "operator")
    with pytest.raises(UserExists):
        create_user(db, "ANNA", PASSWORD + "2", "supervisor")
    assert authenticate(db, "anna", PASSWORD) is not None


def test_roles_decide_who_works_tickets(db: sqlite_utils.Database) -> None:
    for role in ROLES:
        create_user(db, f"user-{role}", PASSWORD, role)
    by_role = {user.role: user for user in list_users(db)}
    assert by_role["operator"].works_tickets
    assert by_role["supervisor"].works_tickets and by_role["supervisor"].is_supervisor
    assert not by_role["marketing"].works_tickets


def test_list_users_sorted_without_hashes(db: sqlite_utils.Database) -> None:
    create_user(db, "zeno", PASSWORD, "marketing")
    create_user(db, "anna", PASSWORD, "supervisor", lang="en")
    users = list_users(db)
    assert [u.username for u in users] == ["anna", "zeno"]
    assert users[0].lang == "en"
    assert not hasattr(users[0], "password_hash")


def test_set_password_replaces_the_old_one(db: sqlite_utils.Database) -> None:
    before = create_user(db, "anna", PASSWORD, "operator")
    set_password(db, "Anna", "a brand new passphrase")
    assert authenticate(db, "anna", PASSWORD) is None
    after = authenticate(db, "anna", "a brand new passphrase")
    assert after is not None
    assert after.password_changed_at != before.password_changed_at


def test_set_password_validates(db: sqlite_utils.Database) -> None:
    create_user(db, "anna", PASSWORD, "operator")
    with pytest.raises(WeakPassword):
        set_password(db, "anna", "short")
    with pytest.raises(UnknownUser):
        set_password(db, "nobody", "long enough password")
    assert authenticate(db, "anna", PASSWORD) is not None
