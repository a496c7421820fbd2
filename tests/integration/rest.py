"""Talking to the running bot the way a REST channel customer does."""

from __future__ import annotations

import httpx

from sportello.settings import Settings


def say(settings: Settings, sender: str, message: str) -> list[dict]:
    """One customer turn over Rasa's REST channel; returns the bot's messages."""
    reply = httpx.post(
        f"{settings.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        timeout=60,
    )
    reply.raise_for_status()
    return reply.json()


def texts(messages: list[dict]) -> str:
    """All the bot's text in one string, for containment checks."""
    return "\n".join(m.get("text", "") for m in messages)
