"""Simulated conversations for a first look at the insights page on a fresh install.

Everything is written through the library — :func:`customerlog.turns.record_turn`,
:mod:`customerlog.ratings`, :mod:`desk.tickets` with explicit times — exactly as the
bot and the desk would write it, so the figures are computed by the same code as for
real data. It is honest about being simulated: every conversation, customer and ticket
conversation id starts with ``sim-`` (:data:`insights.filters.SIMULATED_PREFIX`), the
console shows a notice whenever such data is in the period, and the source filter
can leave it out. It never touches real rows: it refuses to run when the log or the
desk already holds real conversations (unless forced), and a second run adds nothing.
Simulated tickets are closed and marked delivered, so they never reach the operators'
queue or the delivery loop.

The questions are written here (Italian and English): answerable ones name the demo
knowledge base's article (knowledge/demo/articles.jsonl), unanswerable ones form five
knowledge gaps (meal vouchers, tasting courses, a mobile app, green coffee to roast
at home, job applications), two of them growing over the weeks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

import sqlite_utils

from customerlog import ratings, schema
from customerlog.turns import record_turn
from desk import sla, tickets
from insights.filters import SIMULATED_PREFIX
from sportello import clock

DEFAULT_CONVERSATIONS = 320
DEFAULT_WEEKS = 8
OPERATORS = ("sim-operatore-giulia", "sim-operatore-marco")

# (article id, Italian question, English question): what customers ask that the demo
# knowledge base answers.
ANSWERABLE: tuple[tuple[str, str, str], ...] = (
    ("spedizione-costi", "Quanto costa spedire un ordine?", "How much is delivery?"),
    ("spedizione-costi", "La spedizione è gratuita sopra una certa cifra?", "Is shipping free?"),
    ("spedizione-tempi", "In quanti giorni arriva il pacco?", "When will my order arrive?"),
    ("tracking-ordine", "Dov'è il mio ordine? Vorrei tracciarlo", "Where is my parcel?"),
    ("tracking-ordine", "Come seguo la spedizione?", "How do I track my order?"),
    ("resi-procedura", "Come faccio a restituire un prodotto?", "How can I send an item back?"),
    ("resi-condizioni", "Quanti giorni ho per fare un reso?", "How long do I have to return?"),
    ("rimborsi-tempi", "Quando arriva il rimborso?", "When do I get my money back?"),
    ("pagamento-metodi", "Accettate PayPal?", "Can I pay with PayPal?"),
    ("pagamento-metodi", "Si può pagare con Satispay?", "Do you take Apple Pay?"),
    ("pagamento-rate", "Posso pagare in tre rate?", "Can I split the payment?"),
    ("fattura-elettronica", "Mi serve la fattura per la partita IVA", "I need an invoice"),
    ("password-reset", "Non ricordo più la password", "I can't remember my password"),
    ("codice-sconto", "Il codice sconto non viene accettato", "My promo code doesn't work"),
    ("abbonamento-pausa", "Posso sospendere l'abbonamento ad agosto?", "Can I pause my plan?"),
    ("abbonamento-disdetta", "Voglio disdire l'abbonamento", "I want to cancel my subscription"),
    ("capsule-compatibilita", "Le capsule vanno bene per Nespresso?", "Do capsules fit Nespresso?"),
    ("decaffeinato", "Avete il deca?", "Do you have decaf?"),
    ("macchina-non-scalda", "La macchina non si scalda più", "My machine won't heat up"),
    ("decalcificazione", "Come si decalcifica la macchina?", "How do I descale the machine?"),
    ("negozio-orari", "A che ora apre il negozio?", "When is the shop open?"),
    ("natale-scadenze", "Entro quando ordinare per Natale?", "Last order date for Christmas?"),
    ("gift-card", "Vendete carte regalo?", "Can I buy a gift card?"),
)

# Knowledge gaps: (gap name, weight growth per week, Italian phrasings, English phrasings).
GAPS: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "meal-vouchers",
        0.25,
        (
            "Accettate i buoni pasto?",
            "Posso pagare con i ticket restaurant?",
            "Si possono usare i buoni pasto elettronici?",
            "Prendete i buoni pasto Edenred?",
        ),
        ("Can I pay with meal vouchers?", "Do you accept meal tickets?"),
    ),
    (
        "tasting-courses",
        0.0,
        (
            "Fate corsi di degustazione del caffè?",
            "Organizzate degustazioni guidate in negozio?",
            "C'è un corso per diventare barista?",
        ),
        ("Do you run coffee tasting classes?", "Can I book a coffee tasting session?"),
    ),
    (
        "mobile-app",
        0.35,
        (
            "Avete un'app per ordinare dal telefono?",
            "Esiste un'applicazione per smartphone?",
            "Posso gestire l'abbonamento da un'app?",
        ),
        ("Is there a mobile app?", "Do you have an app for iPhone?"),
    ),
    (
        "green-coffee",
        -0.05,
        (
            "Vendete caffè verde da tostare a casa?",
            "Avete chicchi crudi non tostati?",
        ),
        ("Do you sell green unroasted coffee beans?",),
    ),
    (
        "jobs",
        0.0,
        (
            "State assumendo? Vorrei mandare il curriculum",
            "Come posso candidarmi per lavorare da voi?",
        ),
        ("Are you hiring?", "Where do I send my CV?"),
    ),
)

GREETINGS = {"it": ("Ciao", "Buongiorno", "Salve"), "en": ("Hi", "Hello", "Good morning")}
ASK_HUMAN = {
    "it": ("Voglio parlare con un operatore", "Mi passi una persona vera?"),
    "en": ("I want to talk to a person", "Can I speak to an agent?"),
}
PERSONAL = {
    "it": ("Il pacco è arrivato rotto", "Mi avete addebitato due volte l'ordine"),
    "en": ("My parcel arrived broken", "I was charged twice for my order"),
}
REJECT = {"it": ("Non è questo che ho chiesto",), "en": ("That's not what I asked",)}
OPERATOR_ANSWER = {
    "it": "Buongiorno, sono un operatore (simulato): ho verificato e le confermo la soluzione.",
    "en": "Hello, simulated operator here: I checked and confirm the solution.",
}
SIMULATED_REPLY = "(simulated reply / risposta simulata)"


class DemoRefused(RuntimeError):
    """The database holds real conversations: simulated data would mix with them."""


@dataclass(frozen=True)
class DemoResult:
    """What :func:`seed_demo` did: ``skipped`` when simulated data was already there."""

    conversations: int
    tickets: int
    skipped: bool


def _has_simulated(db: sqlite_utils.Database) -> bool:
    row = db.execute(
        f"SELECT 1 FROM {schema.TURNS} WHERE conversation_id LIKE ? LIMIT 1",
        [SIMULATED_PREFIX + "%"],
    ).fetchone()
    return row is not None


def _has_real(db: sqlite_utils.Database) -> bool:
    like = SIMULATED_PREFIX + "%"
    turn = db.execute(
        f"SELECT 1 FROM {schema.TURNS} WHERE conversation_id NOT LIKE ? LIMIT 1", [like]
    ).fetchone()
    ticket = db.execute(
        f"SELECT 1 FROM {tickets.TABLE} WHERE conversation_id NOT LIKE ? LIMIT 1", [like]
    ).fetchone()
    return turn is not None or ticket is not None


class _Simulator:
    """Writes one conversation at a time; all randomness from one seeded generator."""

    def __init__(self, db: sqlite_utils.Database, rng: random.Random, policy: sla.SlaPolicy):
        self.db = db
        self.rng = rng
        self.policy = policy
        self.tickets = 0

    def turn(self, conv: dict, at: datetime, text: str, decision: str, **extra: object) -> None:
        record_turn(
            self.db,
            conversation_id=conv["id"],
            customer_id=conv["customer"],
            channel=conv["channel"],
            lang=conv["lang"],
            at=clock.format_time(at, clock.MILLISECONDS),
            kind=schema.KIND_CUSTOMER,
            text=text,
            reply=SIMULATED_REPLY,
            decision=decision,
            **extra,
        )

    def rater(self, conv: dict) -> ratings.Rater:
        return ratings.Rater(conv["id"], conv["customer"], conv["channel"], conv["lang"])

    def answer(self, conv: dict, at: datetime, *, good: bool = True) -> None:
        article, italian, english = self.rng.choice(ANSWERABLE)
        question = italian if conv["lang"] == "it" else english
        confidence = round(self.rng.uniform(0.62, 0.97), 3)
        self.turn(
            conv,
            at,
            question,
            schema.DECISION_ANSWERED,
            intent="ask_question",
            article_id=article,
            confidence=confidence,
        )
        if self.rng.random() < 0.45:
            helpful = int(good and self.rng.random() < 0.86)
            ratings.record(
                self.db,
                self.rater(conv),
                schema.RATING_HELPFUL,
                helpful,
                schema.TARGET_ARTICLE,
                article,
                at + timedelta(seconds=20),
                article_lang=conv["lang"],
            )

    def gap_question(self, conv: dict, gap: tuple) -> str:
        _, _, italian, english = gap
        return self.rng.choice(italian if conv["lang"] == "it" else english)

    def csat(self, conv: dict, at: datetime, target_type: str, target_id: str, mood: float):
        """Ask CSAT; most answer, skewed by how it went (``mood`` 0 bad .. 1 good)."""
        rater = self.rater(conv)
        ratings.ask(self.db, rater, schema.RATING_CSAT, target_type, target_id, at)
        if self.rng.random() < 0.35:
            ratings.skip(self.db, schema.RATING_CSAT, target_type, target_id)
            return
        value = max(1, min(5, round(self.rng.gauss(1.5 + 3.3 * mood, 0.8))))
        ratings.record(
            self.db,
            rater,
            schema.RATING_CSAT,
            value,
            target_type,
            target_id,
            at + timedelta(seconds=15),
        )

    def nps(self, conv: dict, at: datetime, mood: float) -> None:
        rater = self.rater(conv)
        customer = conv["customer"]
        if not ratings.nps_due(self.db, customer, 90, at):
            return
        ratings.ask(self.db, rater, schema.RATING_NPS, schema.TARGET_CUSTOMER, customer, at)
        value = max(0, min(10, round(self.rng.gauss(4 + 5.5 * mood, 1.6))))
        ratings.record(
            self.db,
            rater,
            schema.RATING_NPS,
            value,
            schema.TARGET_CUSTOMER,
            customer,
            at + timedelta(seconds=10),
        )

    def escalate(
        self, conv: dict, at: datetime, text: str, reason: str, intent: str, now: datetime
    ) -> None:
        priority = "high" if reason == tickets.REASON_PERSONAL_CASE else "normal"
        ticket, _ = tickets.open_ticket(
            self.db,
            conv["id"],
            lang=conv["lang"],
            reason=reason,
            channel=conv["channel"],
            customer_id=conv["customer"],
            transcript=[{"role": "customer", "text": text, "timestamp": at.timestamp()}],
            priority=priority,
            policy=self.policy,
            now=at,
        )
        self.tickets += 1
        self.turn(conv, at, text, schema.DECISION_ESCALATED, intent=intent, ticket_id=ticket.id)
        # Operators answer within minutes to a day of business time: most in time.
        created = clock.parse_time(ticket.created_at)
        assert created is not None
        wait = timedelta(minutes=self.rng.choice((5, 15, 30, 60, 90, 150, 240, 330)))
        answered = sla.add_business_time(self.policy, created, wait)
        closing = sla.add_business_time(
            self.policy, answered, timedelta(minutes=self.rng.randint(5, 200))
        )
        if closing > now:  # never write the future: the ticket was handled fast
            answered = min(answered, created + timedelta(minutes=2))
            closing = answered + timedelta(minutes=1)
        operator = self.rng.choice(OPERATORS)
        tickets.claim_ticket(self.db, ticket.id, operator, now=answered - timedelta(minutes=2))
        message = tickets.answer_ticket(
            self.db, ticket.id, operator, OPERATOR_ANSWER[conv["lang"]], now=answered
        )
        if self.rng.random() < 0.25:  # a follow-up answer before closing
            extra = tickets.answer_ticket(
                self.db,
                ticket.id,
                operator,
                OPERATOR_ANSWER[conv["lang"]],
                now=answered + (closing - answered) / 2,
            )
            tickets.mark_delivered(self.db, [extra.id], answered + (closing - answered) / 2)
        tickets.mark_delivered(self.db, [message.id], answered)
        tickets.close_ticket(self.db, ticket.id, operator, now=closing)
        tickets.mark_resume_delivered(self.db, ticket.id)
        mood = 0.75 if wait <= timedelta(hours=2) else 0.35
        self.csat(conv, closing, schema.TARGET_TICKET, str(ticket.id), mood)

    def conversation(self, conv: dict, start: datetime, week: int, now: datetime) -> None:
        rng = self.rng
        at = start
        if rng.random() < 0.35:
            self.turn(conv, at, rng.choice(GREETINGS[conv["lang"]]), schema.DECISION_SMALL_TALK)
            at += self._step()
        roll = rng.random()
        if roll < 0.56:  # answered by the bot
            good = rng.random() < 0.9
            self.answer(conv, at, good=good)
            if rng.random() < 0.3:
                at += self._step()
                self.answer(conv, at, good=good)
            at += self._step()
            mood = 0.85 if good else 0.3
            if rng.random() < 0.5:
                self.csat(conv, at, schema.TARGET_CONVERSATION, conv["id"], mood)
            if rng.random() < 0.25:
                self.nps(conv, at, mood)
        elif roll < 0.78:  # a question the knowledge base cannot answer
            gap = self._gap(week)
            self.turn(
                conv,
                at,
                self.gap_question(conv, gap),
                schema.DECISION_ABSTAINED,
                intent="ask_question",
                confidence=round(rng.uniform(0.05, 0.35), 3),
            )
            if rng.random() < 0.5:  # asks again in other words: escalated
                at += self._step()
                text = self.gap_question(conv, gap)
                self.escalate(conv, at, text, tickets.REASON_KB_ABSTAINED, "ask_question", now)
        elif roll < 0.88:
            text = rng.choice(ASK_HUMAN[conv["lang"]])
            self.escalate(conv, at, text, tickets.REASON_ASKED_FOR_HUMAN, "ask_human", now)
        elif roll < 0.95:
            text = rng.choice(PERSONAL[conv["lang"]])
            self.escalate(conv, at, text, tickets.REASON_PERSONAL_CASE, "personal_case", now)
        else:
            self.answer(conv, at, good=False)
            at += self._step()
            text = rng.choice(REJECT[conv["lang"]])
            self.escalate(conv, at, text, tickets.REASON_ANSWER_REJECTED, "reject_answer", now)

    def _step(self) -> timedelta:
        """The pause before the customer's next message."""
        return timedelta(seconds=self.rng.randint(25, 120))

    def _gap(self, week: int) -> tuple:
        weights = [max(0.05, 1 + growth * week) for _, growth, _, _ in GAPS]
        return self.rng.choices(GAPS, weights=weights)[0]


def seed_demo(
    db: sqlite_utils.Database,
    *,
    now: datetime | None = None,
    conversations: int = DEFAULT_CONVERSATIONS,
    weeks: int = DEFAULT_WEEKS,
    seed: int = 5,
    force: bool = False,
    policy: sla.SlaPolicy | None = None,
) -> DemoResult:
    """Write ``conversations`` simulated conversations over the last ``weeks`` weeks.

    Does nothing when simulated data is already there; raises :class:`DemoRefused`
    when real conversations exist, unless ``force`` (then the two stay apart by their
    ids: the insights' source filter separates them).
    """
    if _has_simulated(db):
        return DemoResult(0, 0, skipped=True)
    if _has_real(db) and not force:
        raise DemoRefused("the database already holds real conversations")
    now = (now or clock.utc_now()).astimezone(timezone.utc)
    policy = policy or tickets.configured_policy()
    rng = random.Random(seed)
    simulator = _Simulator(db, rng, policy)
    zone = policy.zone
    first_day = (now.astimezone(zone) - timedelta(weeks=weeks)).date()
    days = [first_day + timedelta(days=i) for i in range(weeks * 7 + 1)]
    # More traffic on weekdays and a little more each week (the assistant is catching on).
    weights = [
        (1.0 if day.weekday() < 5 else 0.55) * (1 + 0.04 * (i // 7)) for i, day in enumerate(days)
    ]
    starts = []
    for _ in range(conversations):
        day = rng.choices(days, weights=weights)[0]
        moment = time(
            rng.choice((8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 21)), rng.randint(0, 59)
        )
        start = datetime.combine(day, moment, zone).astimezone(timezone.utc)
        if start < now - timedelta(minutes=30):
            starts.append(start)
    starts.sort()
    customers = max(1, int(len(starts) * 0.85))  # some customers come back
    for number, start in enumerate(starts, start=1):
        week = (start.astimezone(zone).date() - first_day).days // 7
        customer = f"{SIMULATED_PREFIX}customer-{rng.randrange(customers):04d}"
        conv = {
            "id": f"{SIMULATED_PREFIX}{number:04d}",
            "customer": customer,
            "channel": "socketio" if rng.random() < 0.8 else "rest",
            "lang": "it" if rng.random() < 0.7 else "en",
        }
        simulator.conversation(conv, start, week, now)
    return DemoResult(len(starts), simulator.tickets, skipped=False)
