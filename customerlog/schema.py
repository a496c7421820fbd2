"""The customer log's tables: the one place that says what is logged and what it means.

Everything a customer did with the assistant, in SQLite (``sportello.db``), readable as
it is with ``sqlite-utils`` or Datasette. Four sources feed it:

``log_turns`` — one row per customer message (or desk-triggered event), projected from
Rasa's tracker store by :mod:`customerlog.turns`:

=================  ==========================================================================
column             meaning
=================  ==========================================================================
id                 row id
event_id           the tracker store's id of the user event (unique: re-projecting is safe;
                   empty for turns written by :func:`customerlog.turns.record_turn`)
conversation_id    Rasa's sender id: one chat on one channel
customer_id        the person as the channel knows them: the company's customer id when the
                   metadata carries it signed (identity.contacts), else the
                   conversation id
channel            Rasa input channel (``socketio``, ``rest``, ``callback``…)
lang               language of the conversation at this turn (``it``/``en``)
at                 when the customer wrote (UTC, ISO 8601)
kind               ``customer`` (typed or clicked by the customer), ``operator`` (an
                   operator's answer delivered by the desk), ``system`` (ticket closed)
text               what the customer wrote (empty for ``operator``/``system``)
intent             the NLU intent and ``intent_confidence`` its confidence
reply              what the bot (or the operator, for ``operator`` turns) said, one line
                   per message
decision           what the assistant decided: ``answered`` (an article was given),
                   ``abstained`` (the knowledge base did not know), ``escalated`` (a ticket
                   was opened or re-used), ``for_operator`` (recorded while an operator
                   owns the conversation), ``rated``, ``small_talk`` (greetings, thanks,
                   chitchat answered by the bot), ``error``
article_id         the article given (``answered``) and ``confidence`` the knowledge base's
                   calibrated P(correct) for it (for ``abstained``: the best candidate's)
ticket_id          the ticket opened or re-used on ``escalated``
=================  ==========================================================================

``ratings`` — one row per rating a customer gave (written by the bot's actions at once):

=============  ==============================================================================
kind           ``helpful`` (value 1 yes / 0 no, target an article), ``csat`` (1–5, target a
               conversation session or a ticket), ``nps`` (0–10, target the customer),
               ``ces`` (1–7, customer effort, target a ticket)
target_type    ``article`` | ``conversation`` | ``ticket`` | ``customer``
target_id      the article id, the conversation id, the ticket id, the customer id
article_lang   the language version of a rated article
session        for ``conversation`` targets: the start of the Rasa session rated
=============  ==============================================================================
plus ``conversation_id``, ``customer_id``, ``channel``, ``lang``, ``at``.

``rating_requests`` — the CSAT and NPS questions asked, so each is asked once (CSAT per
bot-resolved session and per ticket, NPS once per customer per period) and skipped
questions are counted: ``kind``, ``target_type``, ``target_id``, ``session``,
``conversation_id``, ``customer_id``, ``asked_at``, ``status`` (``asked`` | ``answered``
| ``skipped``), ``answered_at``.

The desk's view ``customer_log`` (:mod:`desk.history`) puts these turns and the
operators' answers in one timeline per conversation. Retention
(:mod:`privacy.retention`) deletes old turns and erasure (:mod:`privacy.customers`) a
customer's rows, both through :mod:`customerlog.erasure`.
"""

from __future__ import annotations

TURNS = "log_turns"
RATINGS = "ratings"
REQUESTS = "rating_requests"
STATE = "log_state"

KIND_CUSTOMER = "customer"
KIND_OPERATOR = "operator"
KIND_SYSTEM = "system"

DECISION_ANSWERED = "answered"
DECISION_ABSTAINED = "abstained"
DECISION_ESCALATED = "escalated"
DECISION_FOR_OPERATOR = "for_operator"
DECISION_RATED = "rated"
DECISION_SMALL_TALK = "small_talk"
DECISION_ERROR = "error"

RATING_HELPFUL = "helpful"
RATING_CSAT = "csat"
RATING_NPS = "nps"
# Customer Effort Score: "how easy was it to get your problem solved?", after a ticket.
RATING_CES = "ces"
RATING_KINDS = (RATING_HELPFUL, RATING_CSAT, RATING_NPS, RATING_CES)
# The accepted values of each kind of rating.
RATING_RANGES = {
    RATING_HELPFUL: (0, 1),
    RATING_CSAT: (1, 5),
    RATING_NPS: (0, 10),
    RATING_CES: (1, 7),
}

TARGET_ARTICLE = "article"
TARGET_CONVERSATION = "conversation"
TARGET_TICKET = "ticket"
TARGET_CUSTOMER = "customer"

REQUEST_ASKED = "asked"
REQUEST_ANSWERED = "answered"
REQUEST_SKIPPED = "skipped"
