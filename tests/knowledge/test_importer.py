"""Importing FAQ files: JSONL, CSV, Markdown, and bad rows reported by line number."""

from __future__ import annotations

import json

import pytest

from knowledge.importer import ImportFormatError, import_file, slugify
from knowledge.store import get_article, list_articles
from sportello.db import open_db


@pytest.fixture
def db(data_dir):
    return open_db()


def test_jsonl_imports_good_rows_and_reports_bad_ones_by_line(db, tmp_path):
    rows = [
        {
            "id": "a",
            "lang": "it",
            "question": "Domanda A?",
            "answer": "Risposta A",
            "alt_questions": ["altra A"],
            "tags": ["t"],
        },
        {"id": "b", "lang": "de", "question": "Frage?", "answer": "Antwort"},
        {"id": "c", "lang": "en", "question": "", "answer": "Answer C"},
    ]
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(db, path)
    assert report.imported == 1
    assert [e.line for e in report.errors] == [2, 3, 4]
    assert "unknown language" in report.errors[0].message
    assert "question" in report.errors[1].message
    assert "invalid JSON" in report.errors[2].message
    assert get_article(db, "a", "it").alt_questions == ["altra A"]


def test_csv_accepts_json_lists_and_pipe_separated_lists(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text(
        "id,lang,question,answer,alt_questions,tags\n"
        'a,it,Domanda A?,Risposta A,"[""uno"", ""due""]",x|y\n'
        "b,en,Question B?,Answer B,one|two,\n"
        "c,en,Question C?,,,\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert report.imported == 2
    assert [(e.line, "answer" in e.message) for e in report.errors] == [(4, True)]
    assert get_article(db, "a", "it").alt_questions == ["uno", "due"]
    assert get_article(db, "a", "it").tags == ["x", "y"]
    assert get_article(db, "b", "en").alt_questions == ["one", "two"]


def test_csv_without_required_columns_is_refused(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("id,question\n1,Q?\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="lang"):
        import_file(db, path)


def test_markdown_headings_become_articles_in_the_front_matter_language(db, tmp_path):
    path = tmp_path / "faq.md"
    path.write_text(
        "---\nlang: it\n---\n# FAQ del negozio\n\n"
        "## Quanto costa la spedizione?\nLa spedizione costa **5,90 €**.\n\n"
        "Gratis sopra i 49 €.\n\n"
        "## Siete aperti la domenica?\nNo, la domenica siamo chiusi.\n"
        "## Domanda senza risposta\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert report.imported == 2
    assert [e.line for e in report.errors] == [13]
    article = get_article(db, "quanto-costa-la-spedizione", "it")
    assert article.answer == "La spedizione costa **5,90 €**.\n\nGratis sopra i 49 €."


def test_markdown_without_lang_detects_it_per_question(db, tmp_path):
    path = tmp_path / "faq.md"
    path.write_text(
        "## How long does delivery take?\nDelivery takes two or three working days.\n"
        "## Quanto tempo ci vuole per la consegna?\nLa consegna richiede due o tre giorni.\n",
        encoding="utf-8",
    )
    assert import_file(db, path).imported == 2
    assert {(a.id, a.lang) for a in list_articles(db)} == {
        ("how-long-does-delivery-take", "en"),
        ("quanto-tempo-ci-vuole-per-la-consegna", "it"),
    }


def test_a_repeated_id_and_lang_keeps_the_last_row_and_says_so(db, tmp_path):
    path = tmp_path / "faq.jsonl"
    rows = [
        {"id": "a", "lang": "it", "question": "Prima?", "answer": "vecchia"},
        {"id": "a", "lang": "it", "question": "Seconda?", "answer": "nuova"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = import_file(db, path)
    assert report.imported == 1
    assert report.errors[0].line == 1
    assert get_article(db, "a", "it").answer == "nuova"


def test_unknown_extension_is_refused(db, tmp_path):
    path = tmp_path / "faq.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ImportFormatError):
        import_file(db, path)


def test_slugify_makes_ascii_ids():
    assert slugify("Perché il caffè è amaro?") == "perche-il-caffe-e-amaro"
