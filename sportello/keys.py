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
