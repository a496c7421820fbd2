from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from identity import contacts
from identity.contacts import Contact

SECRET = b"s3cret-for-tests"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Anna.Rossi@Example.COM ", "anna.rossi@example.com"),
        ("anna@example", None),
        ("not an address", None),
        (42, None),
        ("a" * 300 + "@example.com", None),
    ],
)
def test_email_normalisation(raw: object, expected: str | None) -> None:
    assert contacts.normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("333 123 4567", "+393331234567"),
        ("+39 333-123-4567", "+393331234567"),
        ("0039 333 1234567", "+393331234567"),
        ("(02) 1234 5678", "+390212345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("12", None),
        ("call me", None),
        ("5551234567", None),  # no country code and not an Italian number
        (True, None),
    ],
)
def test_phone_normalisation(raw: object, expected: str | None) -> None:
    assert contacts.normalise_phone(raw) == expected


def test_a_signature_is_hmac_sha256_of_kind_normalised_value_and_expiry() -> None:
    message = b"email:anna@example.com:1780000000"
    expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    assert contacts.sign(SECRET, "email", " ANNA@example.com", 1780000000) == expected
    # Same value, another kind: another signature (an e-mail cannot pass as an id).
    assert contacts.sign(SECRET, "customer_id", "anna@example.com", 1780000000) != expected
    # Another expiry: another signature (it cannot be stretched).
    assert contacts.sign(SECRET, "email", "anna@example.com", 1790000000) != expected


def test_a_signature_expires() -> None:
    """A leaked signature (a shared page, a log) stops working by itself."""
    signed = contacts.signed_metadata(
        SECRET, valid_for_s=3600, now=1_780_000_000, customer_id="crm-4711", email="a@b.it"
    )
    assert signed["identity_expires"] == 1_780_003_600
    assert contacts.verified_customer_id(signed, SECRET, now=1_780_003_599) == "crm-4711"
    assert contacts.verified_customer_id(signed, SECRET, now=1_780_003_600) is None
    assert contacts.from_metadata(signed, SECRET, now=1_780_003_600)[0].verified is False
    stretched = {**signed, "identity_expires": 1_790_000_000}
    assert contacts.verified_customer_id(stretched, SECRET, now=1_780_000_000) is None
    unbounded = contacts.signed_metadata(
        SECRET, valid_for_s=contacts.MAX_VALIDITY_S + 60, now=1_780_000_000, customer_id="x"
    )
    assert contacts.verified_customer_id(unbounded, SECRET, now=1_780_000_000) is None
    assert (
        contacts.verified_customer_id(
            {k: v for k, v in signed.items() if k != "identity_expires"}, SECRET
        )
        is None
    )


def test_signed_details_are_verified_and_unsigned_or_forged_ones_are_not() -> None:
    metadata = contacts.signed_metadata(SECRET, email="anna@example.com", phone="333 1234567")
    assert contacts.from_metadata(metadata, SECRET) == [
        Contact("email", "anna@example.com", True),
        Contact("phone", "+393331234567", True),
    ]
    forged = {**metadata, "email": "bruno@example.com"}
    assert contacts.from_metadata(forged, SECRET)[0] == Contact("email", "bruno@example.com", False)
    assert contacts.from_metadata(metadata, b"another-key")[0].verified is False
    assert contacts.from_metadata({"email": "anna@example.com"}, SECRET)[0].verified is False
    for junk in (None, "x", [], {"email": ["a"]}, {"email_signature": 5, "email": "a@b.it"}):
        assert all(not c.verified for c in contacts.from_metadata(junk, SECRET))


def test_a_customer_id_counts_only_when_signed() -> None:
    signed = contacts.signed_metadata(SECRET, customer_id="crm-4711")
    assert contacts.verified_customer_id(signed, SECRET) == "crm-4711"
    assert contacts.verified_customer_id({"customer_id": "crm-4711"}, SECRET) is None
    assert contacts.verified_customer_id({**signed, "customer_id": "crm-1"}, SECRET) is None
    assert contacts.verified_customer_id("crm-4711", SECRET) is None


def test_details_typed_in_the_chat_are_never_verified() -> None:
    found = contacts.from_text("scrivetemi a Anna.Rossi@example.com o al 333 123 4567, grazie")
    assert found == [
        Contact("email", "anna.rossi@example.com", False),
        Contact("phone", "+393331234567", False),
    ]
    assert contacts.from_text("quanto costa spedire 2 kg?") == []
    assert contacts.from_text("") == []


def test_observed_prefers_the_signed_version_of_a_detail() -> None:
    metadata = contacts.signed_metadata(SECRET, email="anna@example.com")
    found = contacts.observed(metadata, "la mia mail è anna@example.com", SECRET)
    assert found == [Contact("email", "anna@example.com", True)]


def test_the_secret_is_created_once_and_shared(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sportello.settings import get_settings

    monkeypatch.delenv("SPORTELLO_IDENTITY_SECRET")
    get_settings.cache_clear()
    first = contacts.identity_secret()
    assert (data_dir / contacts.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    contacts._secret.cache_clear()
    assert contacts.identity_secret() == first
