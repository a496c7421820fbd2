"""Secret keys that must survive restarts and be the same in every process.

A key comes from its setting (an environment variable) when set; otherwise a random key
is created once in ``data_dir/<name>`` with 0600 permissions and read back by every
process after that (console, action server, monitor, command line). Creating with
``O_EXCL`` makes two processes starting together agree on one key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sportello.settings import Settings

KEY_BYTES = 32
MIN_KEY_CHARS = 32


def load_key(configured: str | None, data_dir: Path, name: str) -> bytes:
    """The configured key, else the one kept in ``data_dir/name`` (created on first use)."""
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(
                f"{path} holds no usable key: delete it to generate a new one"
            ) from None
        return key.encode("ascii")
    key = secrets.token_urlsafe(KEY_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key.encode("ascii")


RASA_TOKEN_FILE = "rasa_token"
# Tokens published in Sportello's own documentation and history: anyone may know them.
KNOWN_RASA_TOKENS = frozenset({"change-me-sportello", "integration-token", "secret", "token"})
MIN_RASA_TOKEN_CHARS = 32


def rasa_token(settings: Settings) -> str:
    """The token protecting Rasa's HTTP API: ``SPORTELLO_RASA_TOKEN`` when set, else a
    random one kept in ``data_dir/rasa_token`` (0600), the same in every process."""
    return load_key(settings.rasa_token, settings.data_dir, RASA_TOKEN_FILE).decode("utf-8")


def weak_rasa_token(token: str) -> str | None:
    """Why ``token`` must not protect a running Rasa API (bilingual), or None when it may.

    Whoever holds the token can read every transcript, push messages to a live customer
    and replace the model, so a published default or a guessable length is refused.
    """
    if token in KNOWN_RASA_TOKENS:
        return (
            f"SPORTELLO_RASA_TOKEN is a published default ({token!r}): unset it to have a "
            "random one generated, or set a random one / è un valore predefinito pubblicato: "
            "toglilo per generarne uno casuale, o impostane uno casuale."
        )
    if len(token) < MIN_RASA_TOKEN_CHARS:
        return (
            f"SPORTELLO_RASA_TOKEN is too short ({len(token)} characters, at least "
            f"{MIN_RASA_TOKEN_CHARS}): unset it to have a random one generated / è troppo "
            f"corto (almeno {MIN_RASA_TOKEN_CHARS} caratteri): toglilo per generarne uno."
        )
    return None
