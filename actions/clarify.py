"""Asking which article the customer meant, when the knowledge base is unsure.

Between "sure" and "nothing fits" (knowledge.search: ``SearchResult.suggestions``) the
bot offers the likeliest articles ("Forse cercavi…" / "Did you mean…") and a "none of
these". Each button's payload names its article, like the rating buttons do:
``/choose_article{"article": "<id>"}``; "none" is ``/none_of_these``. The offered
articles are kept in the ``kb_suggestions`` slot (id and question of each, JSON), so a
customer may also type the number, an ordinal or the question itself
(actions.wording.parse_choice), which is how text-only channels choose.

The web chat shows buttons; every other channel also gets the choices as a numbered
list in the text, because the front end of a REST or callback integration, or a
messaging app, may show text only.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

SLOT_SUGGESTIONS = "kb_suggestions"
NONE_PAYLOAD = "/none_of_these"
NONE_TITLE = {"it": "Nessuna di queste", "en": "None of these"}
# Channels whose front end is Sportello's own and shows buttons (webchat/).
BUTTON_ONLY_CHANNELS = frozenset({"socketio"})


def offered(tracker: Tracker) -> list[tuple[str, str]]:
    """The (article id, question) pairs the bot offered last, if the offer is open."""
    raw = tracker.get_slot(SLOT_SUGGESTIONS)
    try:
        pairs = json.loads(raw) if raw else []
    except (TypeError, ValueError):
        return []
    if not isinstance(pairs, list):
        return []
    return [
        (str(pair[0]), str(pair[1])) for pair in pairs if isinstance(pair, list) and len(pair) == 2
    ]


def words_before(tracker: Tracker, slot: str, value: str | None = None) -> str:
    """What the customer wrote just before ``slot`` was last set (to ``value``, if
    given): the words the bot was answering then. "" when the slot was last cleared, or
    the message was a button's payload rather than words.
    """
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") != "slot" or event.get("name") != slot:
            continue
        if value is not None and event.get("value") != value:
            continue
        if not event.get("value"):
            return ""
        for earlier in reversed(events[:index]):
            if earlier.get("event") == "user":
                text = str(earlier.get("text") or "")
                return "" if text.startswith("/") else text
        return ""
    return ""


def asked(tracker: Tracker) -> str:
    """The customer's message the open offer answers: the last one before the offer.

    A customer who then picks an article has told us how they ask for it
    (knowledge.phrasings).
    """
    return words_before(tracker, SLOT_SUGGESTIONS)


def choice_buttons(hits: list[Any], lang: str) -> list[dict[str, str]]:
    """One button per offered article (payload names it), then "none of these"."""
    buttons = [
        {
            "title": hit.question,
            "payload": "/choose_article" + json.dumps({"article": hit.id}, ensure_ascii=False),
        }
        for hit in hits
    ]
    buttons.append({"title": NONE_TITLE.get(lang, NONE_TITLE["it"]), "payload": NONE_PAYLOAD})
    return buttons


def numbered(hits: list[Any], lang: str) -> str:
    """The choices as numbered lines, for channels that may show text only."""
    lines = [f"{i}. {hit.question}" for i, hit in enumerate(hits, start=1)]
    lines.append(f"{len(hits) + 1}. {NONE_TITLE.get(lang, NONE_TITLE['it'])}")
    return "\n".join(lines)


def offer(
    dispatcher: CollectingDispatcher, hits: list[Any], lang: str, channel: str | None
) -> list[EventType]:
    """Ask which of ``hits`` the customer meant; the events remember the offer."""
    buttons = choice_buttons(hits, lang)
    if channel in BUTTON_ONLY_CHANNELS:
        dispatcher.utter_message(response="utter_kb_clarify", buttons=buttons)
    else:
        dispatcher.utter_message(
            response="utter_kb_clarify_numbered", buttons=buttons, choices=numbered(hits, lang)
        )
    pairs = [[hit.id, hit.question] for hit in hits]
    return [SlotSet(SLOT_SUGGESTIONS, json.dumps(pairs, ensure_ascii=False))]


def picks_none(text: object, offer_size: int) -> bool:
    """True when a typed reply picks the numbered "none of these" line."""
    words = str(text or "").strip().strip(".").split()
    return len(words) == 1 and words[0].isdigit() and int(words[0]) == offer_size + 1
