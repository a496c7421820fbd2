"""Which language a customer writes in: Italian or English.

Pure Python with no dependencies, because both Python environments import it: the Rasa
server's NLU component (3.10) sets the ``language`` slot from it on every message, and
the knowledge base (3.11) uses it to pick the article version to answer with.

Customer messages are short and informal ("ciao", "ok grazie", "how much?"), where
general-purpose detectors guess wildly, so this scores function words and
language-typical word endings and answers ``None`` when a message gives no clue: the
caller then keeps the conversation's language.
"""

from __future__ import annotations

import re
import unicodedata

from sportello.languages import LANGUAGES

SUPPORTED = LANGUAGES

_IT_WORDS = frozenset(
    """
    a ad al alla alle allo ai agli anche ancora avete aveva bene buona buonasera buongiorno
    c ci ciao come con cosa cos costa dal dalla dei del della delle dello devo di dove dopo
    e è ed era essere fa fare gli grazie ha hai hanno ho i il in io l la le lo loro ma me mi
    mio mia miei mie molto ne nel nella nei no noi non o ogni ordine per perché perche più
    piu può puo posso potete qual quale quali quando quanto quanti quanta quante questo
    questa quello quella se sei si sì sia siete sono su sul sulla tu tuo tua un una uno
    vi voi vorrei vuoi salve arrivederci prego spedizione pagamento reso rimborso consegna
    negozio sconto carta fattura ordinare acquistare operatore persona umano aiuto salta
    """.split()
)

_EN_WORDS = frozenset(
    """
    a about after all am an and any are as at be been but by can could delivery did do
    does don for from get good got had has have hello help hi how i if in is it its
    just me my need no not now of on or order our please refund return shipping so that
    the their them there they this to too up us want was we were what when where which
    who why will with would yes you your thanks thank bye goodbye human agent person
    store payment invoice discount card much many long skip
    """.split()
)

# Word endings that are frequent in one language and rare in the other.
_IT_ENDINGS = (
    "zione", "zioni", "mente", "are", "ere", "ire", "ato", "ata", "ati", "ate", "ete", "ite",
    "iamo", "ono", "ano", "ette", "etto", "elle", "ello", "ità", "ghi", "chi", "gli", "ssi",
)  # fmt: skip
_EN_ENDINGS = ("ing", "tion", "ed", "ly", "ness", "ship", "ful", "less", "ous", "ght")

# Words Italian shortens before a vowel: l'ordine, dov'è, un'altra, dell'ordine.
_IT_ELISIONS = frozenset(
    ["l", "d", "un", "dov", "c", "m", "t", "s", "all", "dell", "nell", "sull", "quest", "com"]
)

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# E-mail addresses (well formed or not), web addresses and domains say nothing about
# the language a customer writes in, and their parts would: "mario.64affefd@@example.it"
# read as English ("it", "affefd" ending in a consonant) and switched an Italian
# conversation to English while it asked for the customer's address.
# Bare domains only with a common top-level domain: "grazie.come faccio" (a missing
# space) keeps its words.
# Looser than sportello.pii's e-mail pattern on purpose (a mistyped "@@" address counts
# too), and not imported from it: pii needs phonenumbers, which the Rasa environment,
# where this module also runs, does not have.
_ADDRESS = re.compile(
    r"\S*@\S*|(?:https?://|www\.)\S*"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:it|com|org|net|eu|io|info|biz|co|uk|de|fr|es|ch)\b",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    normal = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    return _WORD.findall(_ADDRESS.sub(" ", normal))


def language_scores(text: str) -> dict[str, float]:
    """Evidence for each supported language; 0 for both when there is none."""
    scores = {"it": 0.0, "en": 0.0}
    for word in _words(text):
        # Italian elisions ("l'ordine", "dov'è") are a strong Italian cue; English
        # contractions ("don't", "what's") a strong English one.
        if "'" in word:
            head, _, tail = word.partition("'")
            if tail in {"s", "t", "re", "ve", "ll", "d", "m"}:
                scores["en"] += 1.5
            elif head in _IT_ELISIONS:
                scores["it"] += 1.5
            continue
        in_it, in_en = word in _IT_WORDS, word in _EN_WORDS
        if in_it and not in_en:
            scores["it"] += 1.0
        elif in_en and not in_it:
            scores["en"] += 1.0
        elif not in_it and not in_en and len(word) > 4:
            # Italian words end in a vowel; English ones mostly in a consonant.
            if word.endswith(_IT_ENDINGS) or word[-1] in "aio":
                scores["it"] += 0.4
            if word.endswith(_EN_ENDINGS) or word[-1] not in "aeiou":
                scores["en"] += 0.4
        if any(ch in word for ch in "àèéìòù"):
            scores["it"] += 0.5
    return scores


def detect_language(text: str, min_margin: float = 0.8) -> str | None:
    """``"it"``, ``"en"``, or ``None`` when the text does not say which.

    ``min_margin`` is how much stronger one language's evidence must be; below it the
    caller should keep the language the conversation already has.
    """
    scores = language_scores(text)
    best = max(scores, key=scores.__getitem__)
    other = "en" if best == "it" else "it"
    if scores[best] - scores[other] < min_margin:
        return None
    return best


def resolve_language(text: str, previous: str | None, default: str = "it") -> str:
    """The language to answer in: this message's if clear, else the conversation's."""
    detected = detect_language(text)
    if detected:
        return detected
    if previous in SUPPORTED:
        return previous
    return default
