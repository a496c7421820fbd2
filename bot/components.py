"""Sportello's NLU components: the customer's language, and a guard against gibberish.

``LanguageDetector`` tells the customer's language on every message. The ``language``
slot is filled from the entity it sets, so the bot's responses (conditioned on the
slot) and the knowledge-base search follow the customer's language, message by
message. When a message gives no clue ("ok", "👍") no entity is set and the slot keeps
the conversation's language. The entity spans the whole message: the evidence is the
message, not one word.

``UnknownWordsFallback`` sends messages with no known word to the knowledge base.

``QuestionRouter`` sends messages that read as a question about the service
(knowledge.questions) to the knowledge base whatever small-talk or rating intent the
classifier guessed.

Loading any of them from a trained model (what ``rasa run``, ``rasa shell`` and ``rasa
test`` do before the first message; ``rasa train`` creates them instead) installs the
speed-ups of :mod:`bot.rasa_speedups` once per process, as ``SPORTELLO_RASA_SPEEDUPS``
and the installed library versions allow. Importing this module patches nothing.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_speedups import install_speedups
from knowledge.language import detect_language
from knowledge.questions import reads_as_question

ENTITY = "language"
VOCABULARY_FILE = "vocabulary.json"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@cache
def speed_up_rasa() -> dict[str, str]:
    """Install the Rasa speed-ups, once, when the first component is loaded from a model."""
    return install_speedups()


def words_of(text: str) -> list[str]:
    """Lower-cased words (letters or digits) of ``text``; emoji and punctuation are not words."""
    return _WORD.findall(text.casefold())


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds entity ``language`` = ``it``|``en`` when the message's language is clear."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageDetector:
        speed_up_rasa()
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._detect(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples are left alone: language is not learnt, it is detected."""
        return training_data

    def _detect(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        lang = detect_language(text)
        if lang is None:
            return
        entity = {
            "entity": ENTITY,
            "value": lang,
            "start": 0,
            "end": len(text),
            "confidence": 1.0,
        }
        entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != ENTITY]
        entities.extend(self.add_extractor_name([entity]))
        message.set(ENTITIES, entities, add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class UnknownWordsFallback(GraphComponent):
    """Predicts ``nlu_fallback`` for messages with no word the training data knows.

    DIET is confidently wrong on text unlike anything it was trained on: "asdfgh", an
    empty message or "👍" came out as ``affirm`` at 0.99, which would accept a pending
    offer of a human. A message none of whose words (nor a word sharing their first
    ``prefix_length`` letters, to forgive typos like "grazieee") occurs in the training
    examples cannot be a trained conversation move, so it goes to the knowledge base,
    which answers it or says it does not know. Place it after the FallbackClassifier.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"prefix_length": 4}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: set[str] | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._prefix_length = int(config["prefix_length"])
        self._vocabulary: set[str] = set()
        self._prefixes: set[str] = set()
        self._set_vocabulary(vocabulary or set())

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        speed_up_rasa()
        with model_storage.read_from(resource) as model_dir:
            words = json.loads((model_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, set(words))

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary: set[str] = set()
        for example in training_data.intent_examples:
            vocabulary.update(words_of(example.get(TEXT) or ""))
        self._set_vocabulary(vocabulary)
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / VOCABULARY_FILE).write_text(
                json.dumps(sorted(vocabulary), ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not self.knows_any_word(message.get(TEXT) or ""):
                predict(message, DEFAULT_NLU_FALLBACK_INTENT_NAME)
        return messages

    def knows_any_word(self, text: str) -> bool:
        """True when at least one word of ``text`` (or its typo'd form) was trained on."""
        return any(
            word in self._vocabulary
            or (len(word) >= self._prefix_length and word[: self._prefix_length] in self._prefixes)
            for word in words_of(text)
        )

    def _set_vocabulary(self, vocabulary: set[str]) -> None:
        self._vocabulary = vocabulary
        self._prefixes = {
            word[: self._prefix_length] for word in vocabulary if len(word) >= self._prefix_length
        }


# Intents the classifier gives to knowledge questions by mistake (the words of a
# rating, a greeting or small talk inside a real question). Not ask_human,
# personal_case, reject_answer or bot_challenge: those are questions about the
# conversation itself, and their intent is what the customer wants.
QUESTION_INTENT = "ask_question"
REROUTED_INTENTS = frozenset(
    {
        "chitchat",
        "give_rating",
        "skip_rating",
        "greet",
        "goodbye",
        "thanks",
        "answer_helpful",
        "choose_article",
        "none_of_these",
    }
)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class QuestionRouter(GraphComponent):
    """Predicts ``ask_question`` for a message that reads as a question about the service.

    Only when the classifier chose a small-talk, greeting or rating intent
    (``REROUTED_INTENTS``) and the message is phrased as a question
    (knowledge.questions.reads_as_question): "ho speso 60 euro, la spedizione è
    gratis?" is a question, not a rating of 60. The knowledge base then decides whether
    it has an answer. Place it last among the intent classifiers.
    """

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> QuestionRouter:
        return cls()

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> QuestionRouter:
        speed_up_rasa()
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            if intent in REROUTED_INTENTS and reads_as_question(message.get(TEXT) or ""):
                predict(message, QUESTION_INTENT)
        return messages


def predict(message: Message, intent: str) -> None:
    """Make ``intent`` the message's intent (confidence 1), first in its ranking."""
    chosen = {INTENT_NAME_KEY: intent, "confidence": 1.0}
    ranking = [
        entry
        for entry in message.get(INTENT_RANKING_KEY) or []
        if entry.get(INTENT_NAME_KEY) != intent
    ]
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [dict(chosen), *ranking], add_to_output=True)
