"""The public evaluation data's layout, in miniature, for the quality benchmark's loaders.

The real files live outside the repository (``../shared/eval``; they must never ship),
so a clone elsewhere has none. The loaders' rules (which rows are fit data, which are
reported, what becomes an article) are tested on these few synthetic rows in every run,
and on the real files as well where they exist: a parametrisation, never a skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import quality

EVAL_SOURCES = ["synthetic", *(["public"] if quality.EVAL_DIR.exists() else [])]


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_synthetic_eval(root: Path) -> Path:
    """Every data set bench.quality reads, a few rows each, in the published formats."""
    labels = [f"intent_{i}" for i in range(6)]

    def intent_rows(split: str, n: int) -> list[dict]:
        return [
            {"text": f"{split} {label} example {j}", "label": label}
            for label in labels
            for j in range(n)
        ]

    for split, n in (("train", 10), ("val", 3), ("test", 3)):
        _write(root / "clinc150" / f"{split}.jsonl", intent_rows(split, n))
    for split in ("oos_val", "oos_test"):
        _write(
            root / "clinc150" / f"{split}.jsonl",
            [{"text": f"{split} question {j}", "label": "oos"} for j in range(4)],
        )
    _write(root / "banking77" / "train.jsonl", intent_rows("banking train", 11))
    _write(root / "banking77" / "test.jsonl", intent_rows("banking test", 2))
    _write(
        root / "qa4faq_it" / "faq_kb.jsonl",
        [
            {
                "text": f"Domanda {i}?",
                "label": str(i),
                "answer": f"Risposta {i}.",
                "tags": ["parola"],
            }
            for i in range(5)
        ],
    )
    _write(
        root / "qa4faq_it" / "test.jsonl",
        [
            {"text": f"come si fa {i}?", "label": str(i), "relevant": [str(i)], "qid": str(i)}
            for i in range(5)
        ],
    )
    _write(
        root / "stackfaq" / "faq_kb.jsonl",
        [
            {"text": f"Thread {i} question", "label": str(i), "answers": [f"Answer {i}.", "More."]}
            for i in range(4)
        ],
    )
    _write(
        root / "stackfaq" / "queries.jsonl",
        [
            {"text": f"paraphrase {j} of thread {i}", "label": str(i)}
            for i in range(4)
            for j in range(i + 2)
        ],
    )
    xsid = [
        {"text": f"frase {j} di {label}", "text_en": f"sentence {j} of {label}", "label": label}
        for label in labels
        for j in range(4)
    ]
    _write(root / "xsid_it" / "it_validation.jsonl", xsid)
    _write(root / "xsid_it" / "it_test.jsonl", xsid[:6])
    _write(
        root / "immuni_faq" / "kb.jsonl",
        [{"id": "immuni-01", "lang": "it", "question": "Cos'è Immuni?", "answer": "Un'app."}],
    )
    return root


@pytest.fixture(params=EVAL_SOURCES)
def eval_dir(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The evaluation directory the loaders read: synthetic rows, or the public files."""
    if request.param == "synthetic":
        monkeypatch.setattr(quality, "EVAL_DIR", write_synthetic_eval(tmp_path / "eval"))
    return quality.EVAL_DIR
