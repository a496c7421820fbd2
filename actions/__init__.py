"""Sportello's custom actions for the Rasa action server (rasa-sdk, Python 3.11).

``actions.actions`` holds the thin Rasa-facing classes; the behaviour lives in the
libraries they call (``knowledge`` for answers, ``desk`` for handoff tickets).
"""
