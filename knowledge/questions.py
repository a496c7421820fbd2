"""Whether a customer's message reads as a question about the company's service.

Rasa's intent classifier is trained on conversation moves (greetings, ratings, small
talk, asking for a person), not on the company's FAQ, which it never sees: a question
that contains a number ("ho speso 60 euro, la spedizione è gratis?") can come out as a
rating, and "dove si aggiunge una carta nuova" as small talk. Such a message must be
searched in the knowledge base anyway; the knowledge base's own calibrated cut-off then
decides whether it has an answer. This module says which messages qualify; the NLU
component bot.components.QuestionRouter applies it. Pure Python: both environments
import it.

A message qualifies when it has at least ``MIN_WORDS`` words and is phrased as a
question: a question mark (in ``MIN_WORDS_WITH_MARK`` words or more), or an
interrogative or request opening ("come…", "dove…", "posso…", "vorrei sapere…",
"how…", "can I…"), after any greeting. Short messages
("2", "grazie!", "come stai?") keep their intent: they are the conversation moves the
classifier is good at.
"""

from __future__ import annotations

import re

MIN_WORDS = 4
# A question mark alone needs one word more: "5? sì perché no" is a rating.
MIN_WORDS_WITH_MARK = 5
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
# Words that may come before the question itself ("ciao, come faccio a…").
_LEAD_INS = frozenset(
    """ciao salve buongiorno buonasera buondì hey ehi hi hello hallo good morning evening
    afternoon scusa scusate scusi sorry excuse me allora ok okay sì si yes no ma e and but
    grazie thanks thank you per favore please senti senta""".split()
)
_OPENINGS = frozenset(
    """come dove quando quanto quanta quanti quante perché perche cosa che chi quale quali
    posso possiamo potete puoi può si c'è ci è avete fate siete vorrei volevo devo dobbiamo
    serve bisogna how where when what why which who whom can could do does did is are
    will would should may might have has i'd need""".split()
)


def reads_as_question(text: str) -> bool:
    """True when ``text`` is long enough and phrased as a question or request."""
    words = _WORD.findall((text or "").casefold().replace("’", "'"))
    if len(words) < MIN_WORDS:
        return False
    if "?" in text and len(words) >= MIN_WORDS_WITH_MARK:
        return True
    for word in words:
        if word in _LEAD_INS:
            continue
        return word in _OPENINGS
    return False
