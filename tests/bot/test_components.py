"""The Rasa-side NLU components, run inside the Rasa environment (see conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def test_language_detector_sets_the_language_entity(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import json
        from rasa.shared.nlu.training_data.message import Message
        from bot.components import LanguageDetector

        detector = LanguageDetector.create({}, None, None, None)
        texts = ["quanto costa la spedizione?", "how much is shipping?", "ok", "👍", ""]
        messages = detector.process([Message.build(text=t) for t in texts])
        print(json.dumps([m.get("entities", []) for m in messages]))
        """
    )
    italian, english, ok, emoji, empty = result
    assert italian == [
        {
            "entity": "language",
            "value": "it",
            "start": 0,
            "end": len("quanto costa la spedizione?"),
            "confidence": 1.0,
            "extractor": "LanguageDetector",
        }
    ]
    assert [e["value"] for e in english] == ["en"]
    assert ok == [] and emoji == [] and empty == []


def test_unknown_words_fallback_learns_the_vocabulary_and_keeps_it(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    result = run_in_rasa(
        f"""
        import json
        from pathlib import Path
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        from rasa.engine.storage.resource import Resource
        from rasa.shared.nlu.training_data.message import Message
        from rasa.shared.nlu.training_data.training_data import TrainingData
        from bot.components import UnknownWordsFallback

        model_dir = Path({str(tmp_path)!r}) / "model"
        model_dir.mkdir()
        storage = LocalModelStorage(model_dir)
        resource = Resource("unknown_words")
        config = UnknownWordsFallback.get_default_config()
        trained = UnknownWordsFallback.create(config, storage, resource, None)
        trained.train(TrainingData([
            Message.build(text="grazie mille", intent="thanks"),
            Message.build(text="sì", intent="affirm"),
            Message.build(text="quanto costa la spedizione?", intent="ask_question"),
        ]))
        loaded = UnknownWordsFallback.load(config, storage, resource, None)

        texts = ["grazie", "grazieee", "sì", "asdfgh", "", "👍", "...", "spedizioni Sardegna"]
        out = []
        for text in texts:
            message = Message.build(text=text)
            message.set("intent", {{"name": "affirm", "confidence": 0.99}})
            message.set("intent_ranking", [{{"name": "affirm", "confidence": 0.99}}])
            loaded.process([message])
            out.append([message.get("intent")["name"], message.get("intent_ranking")[0]["name"],
                        len(message.get("intent_ranking"))])
        print(json.dumps(out))
        """
    )
    assert result == [
        ["affirm", "affirm", 1],  # trained word
        ["affirm", "affirm", 1],  # typo of a trained word (same first 4 letters)
        ["affirm", "affirm", 1],  # short trained word
        ["nlu_fallback", "nlu_fallback", 2],  # gibberish
        ["nlu_fallback", "nlu_fallback", 2],  # empty
        ["nlu_fallback", "nlu_fallback", 2],  # emoji only
        ["nlu_fallback", "nlu_fallback", 2],  # punctuation only
        ["affirm", "affirm", 1],  # one word known ("spedizioni" ~ "spedizione")
    ]


def test_question_router_sends_questions_to_the_knowledge_base(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import json
        from rasa.shared.nlu.training_data.message import Message
        from bot.components import QuestionRouter

        router = QuestionRouter.create({}, None, None, None)
        cases = [
            ("ho speso 60 euro, la spedizione è gratis?", "give_rating"),
            ("dove si aggiunge una carta nuova", "chitchat"),
            ("ciao, come faccio a fare un reso?", "greet"),
            ("4", "give_rating"),
            ("come stai?", "chitchat"),
            ("grazie mille per l'aiuto", "thanks"),
            ("posso parlare con un operatore?", "ask_human"),
            ("sei un bot o una persona vera?", "bot_challenge"),
        ]
        out = []
        for text, intent in cases:
            message = Message.build(text=text)
            message.set("intent", {"name": intent, "confidence": 0.9})
            message.set("intent_ranking", [{"name": intent, "confidence": 0.9}])
            router.process([message])
            ranking = [entry["name"] for entry in message.get("intent_ranking")]
            out.append([message.get("intent")["name"], ranking])
        print(json.dumps(out))
        """
    )
    assert result == [
        ["ask_question", ["ask_question", "give_rating"]],
        ["ask_question", ["ask_question", "chitchat"]],
        ["ask_question", ["ask_question", "greet"]],
        ["give_rating", ["give_rating"]],  # a rating stays a rating
        ["chitchat", ["chitchat"]],  # short small talk stays small talk
        ["thanks", ["thanks"]],
        ["ask_human", ["ask_human"]],  # conversation moves are never rerouted
        ["bot_challenge", ["bot_challenge"]],
    ]
