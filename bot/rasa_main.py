"""``rasa`` with its API token taken from the environment instead of the command line.

Rasa 3.6 reads the token only from ``--auth-token``, and a command line is readable by
every user of the machine (``ps``, ``/proc/<pid>/cmdline``). ``sportello run`` therefore
starts ``python -m bot.rasa_main run …`` with the token in ``SPORTELLO_RASA_TOKEN``: this
module removes it from the environment (children do not inherit it) and hands it to
Rasa's own argument parser through ``sys.argv``, which changes the interpreter's list
only, not the process's command line the kernel shows.
"""

from __future__ import annotations

import os
import sys

TOKEN_VARIABLE = "SPORTELLO_RASA_TOKEN"


def argv_with_token(argv: list[str], token: str | None) -> list[str]:
    """``argv`` with ``--auth-token`` right after the sub-command (before ``--cors``'s
    open-ended list of origins and Rasa's positional model path)."""
    if not token or len(argv) < 2:
        return argv
    return [argv[0], argv[1], "--auth-token", token, *argv[2:]]


def main() -> None:
    token = os.environ.pop(TOKEN_VARIABLE, None)
    sys.argv = argv_with_token(sys.argv, token)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
