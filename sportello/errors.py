"""Errors every layer may raise and every edge knows how to show.

On the floor so that any command module (:mod:`cli.main`, :mod:`cli.insights`) can
raise them without importing the module that catches them.
"""

from __future__ import annotations


class CommandError(Exception):
    """A failure to report to the operator in one line (exit status 1), not a traceback.

    The message is shown as it is after ``error / errore:``: write it in both languages
    where an operator may read it.
    """
