"""Everything an operator reads in the console, in Italian and English.

Templates look strings up by key (``t.queue_title``); a key missing from one language is a
test failure (tests/desk/console/test_text.py), never an English word in an Italian page.
"""

from __future__ import annotations

SUPPORTED_LANGS = ("it", "en")

UI_TEXT: dict[str, dict[str, str]] = {
    "it": {
        "app_name": "Sportello · Console operatori",
        "login_title": "Accesso",
        "username": "Nome utente",
        "password": "Password",
        "login_button": "Entra",
        "login_failed": "Nome utente o password non validi.",
        "login_throttled": "Troppi tentativi non riusciti: riprova tra qualche minuto.",
        "logged_out": "Sei uscito dalla console.",
        "logout": "Esci",
        "signed_in_as": "Utente",
        "queue_title": "Coda dei ticket",
        "queue_empty": "Nessun ticket aperto. Ottimo lavoro!",
        "queue_refresh_note": "La coda si aggiorna ogni 30 secondi.",
        "col_ticket": "Ticket",
        "col_due": "Scadenza",
        "col_lang": "Lingua",
        "col_channel": "Canale",
        "col_priority": "Priorità",
        "col_status": "Stato",
        "col_reason": "Motivo",
        "due_first_response": "prima risposta",
        "due_resolution": "risoluzione",
        "left": "mancano {time}",
        "overdue": "scaduto da {time}",
        "no_due": "nessuna scadenza",
        "sla_ok": "in tempo",
        "sla_at_risk": "a rischio",
        "sla_breached": "SLA superato",
        "escalated": "escalation livello {level}",
        "status_open": "aperto",
        "status_claimed": "preso in carico da {who}",
        "status_closed": "chiuso",
        "priority_urgent": "urgente",
        "priority_high": "alta",
        "priority_normal": "normale",
        "priority_low": "bassa",
        "reason_asked_for_human": "ha chiesto un operatore",
        "reason_kb_abstained": "il bot non sapeva rispondere",
        "reason_answer_rejected": "risposte del bot rifiutate",
        "reason_personal_case": "caso personale",
        "reason_bot_error": "errore del bot",
        "lang_it": "italiano",
        "lang_en": "inglese",
        "back_to_queue": "← Torna alla coda",
        "ticket_title": "Ticket n. {id}",
        "customer": "Cliente",
        "conversation": "Conversazione",
        "created": "Aperto il",
        "answer_in": "Rispondi in {lang}",
        "transcript": "Conversazione",
        "transcript_empty": "Nessun messaggio registrato.",
        "role_customer": "Cliente",
        "role_bot": "Bot",
        "role_operator": "Operatore",
        "claim": "Prendi in carico",
        "answer_label": "Risposta al cliente",
        "send_answer": "Invia risposta",
        "close_ticket": "Chiudi ticket",
        "claimed_by_you": "Hai preso in carico questo ticket.",
        "claimed_by_other": "Preso in carico da {who}: solo {who} può rispondere o chiuderlo.",
        "claim_refused": "Non è stato possibile prenderlo in carico: ci sta già lavorando {who}.",
        "answer_sent": "Risposta inviata al cliente.",
        "answer_refused": "Non puoi rispondere: il ticket è di {who}.",
        "answer_empty": "Scrivi una risposta prima di inviarla.",
        "answer_too_long": "La risposta è troppo lunga (massimo {max} caratteri).",
        "ticket_closed": "Ticket chiuso: il bot riprende la conversazione.",
        "close_refused": "Non puoi chiudere questo ticket: è di {who}.",
        "already_closed": "Questo ticket è chiuso.",
        "insights_title": "Statistiche",
        "insights_coming": (
            "Le statistiche per il marketing arriveranno presto. "
            "Il tuo ruolo non dà accesso ai ticket."
        ),
        "forbidden": "Non hai i permessi per questa pagina.",
        "not_found": "Ticket non trovato.",
        "csrf_failed": "Il modulo è scaduto o non è valido: ricarica la pagina e riprova.",
        "unauthorized": "Accesso richiesto.",
        "other_lang": "English",
        "other_lang_code": "en",
        "error_title": "Errore",
    },
    "en": {
        "app_name": "Sportello · Operator console",
        "login_title": "Sign in",
        "username": "Username",
        "password": "Password",
        "login_button": "Sign in",
        "login_failed": "Invalid username or password.",
        "login_throttled": "Too many failed attempts: please try again in a few minutes.",
        "logged_out": "You have signed out of the console.",
        "logout": "Sign out",
        "signed_in_as": "User",
        "queue_title": "Ticket queue",
        "queue_empty": "No open tickets. Well done!",
        "queue_refresh_note": "The queue refreshes every 30 seconds.",
        "col_ticket": "Ticket",
        "col_due": "Due",
        "col_lang": "Language",
        "col_channel": "Channel",
        "col_priority": "Priority",
        "col_status": "Status",
        "col_reason": "Reason",
        "due_first_response": "first response",
        "due_resolution": "resolution",
        "left": "{time} left",
        "overdue": "overdue by {time}",
        "no_due": "no deadline",
        "sla_ok": "on time",
        "sla_at_risk": "at risk",
        "sla_breached": "SLA breached",
        "escalated": "escalation level {level}",
        "status_open": "open",
        "status_claimed": "claimed by {who}",
        "status_closed": "closed",
        "priority_urgent": "urgent",
        "priority_high": "high",
        "priority_normal": "normal",
        "priority_low": "low",
        "reason_asked_for_human": "asked for a person",
        "reason_kb_abstained": "the bot could not answer",
        "reason_answer_rejected": "rejected the bot's answers",
        "reason_personal_case": "personal case",
        "reason_bot_error": "bot error",
        "lang_it": "Italian",
        "lang_en": "English",
        "back_to_queue": "← Back to the queue",
        "ticket_title": "Ticket #{id}",
        "customer": "Customer",
        "conversation": "Conversation",
        "created": "Opened",
        "answer_in": "Answer in {lang}",
        "transcript": "Conversation",
        "transcript_empty": "No messages recorded.",
        "role_customer": "Customer",
        "role_bot": "Bot",
        "role_operator": "Operator",
        "claim": "Claim",
        "answer_label": "Answer to the customer",
        "send_answer": "Send answer",
        "close_ticket": "Close ticket",
        "claimed_by_you": "You have claimed this ticket.",
        "claimed_by_other": "Claimed by {who}: only {who} can answer or close it.",
        "claim_refused": "Could not claim it: {who} is already working on it.",
        "answer_sent": "Answer sent to the customer.",
        "answer_refused": "You cannot answer: the ticket belongs to {who}.",
        "answer_empty": "Write an answer before sending it.",
        "answer_too_long": "The answer is too long (at most {max} characters).",
        "ticket_closed": "Ticket closed: the bot takes the conversation back.",
        "close_refused": "You cannot close this ticket: it belongs to {who}.",
        "already_closed": "This ticket is closed.",
        "insights_title": "Insights",
        "insights_coming": (
            "Marketing insights are coming soon. Your role does not give access to tickets."
        ),
        "forbidden": "You do not have permission to see this page.",
        "not_found": "Ticket not found.",
        "csrf_failed": "The form has expired or is not valid: reload the page and try again.",
        "unauthorized": "Sign-in required.",
        "other_lang": "Italiano",
        "other_lang_code": "it",
        "error_title": "Error",
    },
}


class Text:
    """UI strings of one language, read as attributes in templates (``t.claim``)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._strings = UI_TEXT[lang]

    def __getattr__(self, key: str) -> str:
        try:
            return self._strings[key]
        except KeyError:
            raise AttributeError(key) from None

    def get(self, key: str, default: str = "", **values: object) -> str:
        """The string for ``key`` (``default`` when there is none), with ``values`` filled in."""
        template = self._strings.get(key)
        return template.format(**values) if template is not None else default
