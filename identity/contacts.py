"""E-mail addresses and phone numbers that identify a customer, and whether to trust them.

A channel id (a web visitor's browser, a messaging account) says nothing about who the
person is. Two kinds of contact details do:

- **verified**: the company's own site or messaging integration, where the customer is
  logged in, sends the address or number in the message metadata *with its signature*,
  ``HMAC-SHA256(identity secret, "<kind>:<normalised value>:<expires>")`` in hex, where
  ``expires`` is the Unix time (whole seconds) in the metadata's ``identity_expires`` — the scheme
  Intercom and Zendesk use for identity verification. Anyone can put ``"email": "..."``
  in a web widget's metadata; only the company's server can sign it. Verified details
  link channels automatically.
- **unverified**: written by the customer in the chat, or sent without a valid
  signature. They are kept as suggestions for an operator, never linked automatically:
  anyone can type someone else's address.

The same holds for the company's own customer id (``customer_id``, e.g. the CRM's): a
conversation is attributed to it only when it is signed, otherwise to the conversation
id, so nobody can write into someone else's history by naming their id.

A signature is valid until ``identity_expires`` and for at most
:data:`MAX_VALIDITY_S` ahead: one that leaked (a shared page, a log, a browser's
history) stops working by itself, without rotating the secret for everyone.

Metadata, top level (what the web widget's ``customData`` or an integration's
``metadata`` carries); ``sportello customer sign`` prints signatures::

    {"identity_expires": 1780086400,
     "customer_id": "crm-4711", "customer_id_signature": "<hex>",
     "email": "anna@example.com", "email_signature": "<hex>",
     "phone": "+39 333 123 4567", "phone_signature": "<hex>"}
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sportello.keys import load_key
from sportello.pii import EMAIL, PHONE, find_personal_data, is_email, normalise_phone
from sportello.settings import Settings, get_settings

KIND_EMAIL = "email"
KIND_PHONE = "phone"
KINDS = (KIND_EMAIL, KIND_PHONE)
# Signed like contacts, but an id rather than a contact detail.
KIND_CUSTOMER_ID = "customer_id"
MAX_CUSTOMER_ID_CHARS = 200
SECRET_FILE = "identity_secret"
# Metadata field: until when (Unix seconds) the signatures in the metadata are valid.
EXPIRES = "identity_expires"
DEFAULT_VALIDITY_S = 24 * 3600
MAX_VALIDITY_S = 31 * 24 * 3600


@dataclass(frozen=True)
class Contact:
    """An e-mail address or phone number, normalised, and whether it was verified."""

    kind: str
    value: str
    verified: bool


def normalise_email(text: object) -> str | None:
    """The address lower-cased and trimmed, or None when it is not an address."""
    if not isinstance(text, str):
        return None
    value = text.strip().lower()
    return value if is_email(value) else None


def normalise_customer_id(text: object) -> str | None:
    """The id as sent (trimmed), or None when empty or too long to be an id."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        return None
    value = str(text).strip()
    return value if 0 < len(value) <= MAX_CUSTOMER_ID_CHARS else None


NORMALISERS = {
    KIND_EMAIL: normalise_email,
    KIND_PHONE: normalise_phone,
    KIND_CUSTOMER_ID: normalise_customer_id,
}


def identity_secret(settings: Settings | None = None) -> bytes:
    """The key signatures are checked with (see :data:`Settings.identity_secret`)."""
    settings = settings or get_settings()
    return _secret(settings.identity_secret, settings.data_dir)


@lru_cache(maxsize=8)
def _secret(configured: str | None, data_dir: Path) -> bytes:
    return load_key(configured, data_dir, SECRET_FILE)


def _signature(secret: bytes, kind: str, normalised: str, expires: int) -> str:
    message = f"{kind}:{normalised}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, kind: str, value: str, expires: int) -> str:
    """The signature a company's server sends with a customer's detail or id (hex),
    valid until ``expires`` (Unix seconds, sent as ``identity_expires``)."""
    normalised = NORMALISERS[kind](value)
    if normalised is None:
        raise ValueError(f"not a valid {kind}: {value!r}")
    return _signature(secret, kind, normalised, expires)


def _expiry(metadata: dict, now: float) -> int | None:
    """The metadata's ``identity_expires`` when still in force (and not further ahead
    than :data:`MAX_VALIDITY_S`), else None."""
    raw = metadata.get(EXPIRES)
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    try:
        expires = int(raw)
    except ValueError:
        return None
    return expires if now < expires <= now + MAX_VALIDITY_S else None


def _signed(metadata: dict, kind: str, secret: bytes, now: float) -> tuple[str | None, bool]:
    """The metadata's normalised ``kind`` value and whether its signature is right and
    still valid."""
    value = NORMALISERS[kind](metadata.get(kind))
    if value is None:
        return None, False
    signature = metadata.get(f"{kind}_signature")
    expires = _expiry(metadata, now)
    verified = (
        expires is not None
        and isinstance(signature, str)
        and hmac.compare_digest(signature.strip().lower(), _signature(secret, kind, value, expires))
    )
    return value, verified


def signed_metadata(
    secret: bytes,
    *,
    valid_for_s: float = DEFAULT_VALIDITY_S,
    now: float | None = None,
    **details: str,
) -> dict[str, str | int]:
    """Metadata carrying ``details`` (customer_id, email, phone) with their signatures,
    valid for ``valid_for_s`` from ``now``: what a company's server puts in the widget's
    ``customData`` or its messages."""
    expires = int((time.time() if now is None else now) + valid_for_s)
    metadata: dict[str, str | int] = {EXPIRES: expires}
    for kind, value in details.items():
        metadata[kind] = value
        metadata[f"{kind}_signature"] = sign(secret, kind, value, expires)
    return metadata


def verified_customer_id(metadata: object, secret: bytes, now: float | None = None) -> str | None:
    """The company's customer id from the metadata, only when correctly signed and the
    signature has not expired (``now``: Unix seconds, default the clock)."""
    if not isinstance(metadata, dict):
        return None
    at = time.time() if now is None else now
    value, verified = _signed(metadata, KIND_CUSTOMER_ID, secret, at)
    return value if verified else None


def from_metadata(metadata: object, secret: bytes, now: float | None = None) -> list[Contact]:
    """The details a channel sent about the customer; verified when correctly signed
    and not expired."""
    if not isinstance(metadata, dict):
        return []
    at = time.time() if now is None else now
    found = []
    for kind in KINDS:
        value, verified = _signed(metadata, kind, secret, at)
        if value is not None:
            found.append(Contact(kind, value, verified))
    return found


def from_text(text: str) -> list[Contact]:
    """Addresses and numbers the customer wrote in the chat (never verified)."""
    if not text or ("@" not in text and not any(ch.isdigit() for ch in text)):
        return []
    found: list[Contact] = []
    for finding in find_personal_data(text[:4000]):
        kind = {EMAIL: KIND_EMAIL, PHONE: KIND_PHONE}.get(finding.kind)
        value = NORMALISERS[kind](finding.text) if kind else None
        if kind and value and Contact(kind, value, False) not in found:
            found.append(Contact(kind, value, False))
    return found


def observed(metadata: Any, text: str, secret: bytes, now: float | None = None) -> list[Contact]:
    """Everything one customer message tells about who wrote it, verified first
    (signatures checked at ``now``, the message's Unix time; default the clock)."""
    signed = from_metadata(metadata, secret, now)
    typed = [
        c for c in from_text(text) if (c.kind, c.value) not in {(s.kind, s.value) for s in signed}
    ]
    return signed + typed
