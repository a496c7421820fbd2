"""A free loopback port for the services a benchmark (or a test) starts.

Here rather than in ``tests/`` so that the benchmarks run outside a checkout, where the
test helpers are not installed; ``tests/servers.py`` re-exports it for the tests.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
