"""Importing FAQ files: JSONL, CSV, Markdown, and bad rows reported by line number.

The spreadsheets (Excel, CSV as Italian Excel saves it) and web pages have their own
test modules (test_importer_spreadsheets.py, test_importer_webpage.py).
"""

from __future__ import annotations

import json

import pytest

from knowledge.importer import ImportFormatError, import_file, slugify
from knowledge.store import get_article, list_articles
from tests.databases import open_db


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


def test_csv_without_an_answer_column_is_refused_naming_the_columns_found(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("id,question\n1,Q?\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as refused:
        import_file(db, path)
    message = str(refused.value)
    assert "Columns found / colonne trovate: 'id', 'question'" in message
    assert "answer: answer, risposta" in message
    assert list_articles(db, status=None) == []


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


def test_jsonl_keys_may_be_italian_and_ids_and_languages_are_derived(db, tmp_path):
    path = tmp_path / "faq.jsonl"
    rows = [
        {"Domanda": "Quanto costa la spedizione?", "Risposta": "5,90 €, gratis sopra i 49 €."},
        {"domanda": "How long does delivery take?", "risposta": "Two or three working days."},
        {"question": "Q?", "answer": "A.", "lingua": "Italiano", "codice": "x1"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    report = import_file(db, path)
    assert (report.imported, report.errors) == (3, [])
    assert get_article(db, "quanto-costa-la-spedizione", "it").answer.startswith("5,90 €")
    assert get_article(db, "how-long-does-delivery-take", "en") is not None
    assert get_article(db, "x1", "it").question == "Q?"


# ---- Markdown: language detection and ids (issue 18) -----------------------------------
def test_markdown_italian_answer_made_of_links_is_italian(db, tmp_path):
    path = tmp_path / "faq.md"
    path.write_text(
        "## Dove trovo le istruzioni?\n"
        "Qui: [https://www.caffe-aurora.it/support/downloads/manual-english-version]"
        "(https://www.caffe-aurora.it/support/downloads/manual-english-version) e "
        "<https://shop.example.com/help/getting-started-with-your-machine>, oppure "
        "https://www.example.com/shipping-and-returns-policy-for-customers o "
        "support.team@example.com.\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert (report.imported, report.errors) == (1, [])
    assert [a.lang for a in list_articles(db)] == ["it"]


def test_markdown_headings_sharing_their_first_60_characters_get_different_ids(db, tmp_path):
    common = "Quanto tempo ci vuole per ricevere un ordine spedito con corriere"
    assert len(common) > 60
    path = tmp_path / "faq.md"
    path.write_text(
        f"lang: it\n\n## {common} espresso?\nUn giorno.\n\n## {common} standard?\nTre giorni.\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert (report.imported, report.skipped) == (2, 0)
    ids = sorted(a.id for a in list_articles(db))
    assert ids == [slugify(common), slugify(common) + "-2"]
    # Importing the same file again updates the same two articles.
    assert import_file(db, path).imported == 2
    assert len(list_articles(db)) == 2


def test_the_same_question_twice_keeps_the_later_answer_and_reports_the_earlier(db, tmp_path):
    path = tmp_path / "faq.md"
    path.write_text("lang: it\n## Orari?\nDalle 8.\n## orari?\nDalle 9.\n", encoding="utf-8")
    report = import_file(db, path)
    assert report.imported == 1
    assert [(e.line, "overridden by line 4" in e.message) for e in report.errors] == [(2, True)]
    assert get_article(db, "orari", "it").answer == "Dalle 9."


def test_a_question_without_language_clues_takes_the_language_of_the_rest(db, tmp_path):
    path = tmp_path / "faq.md"
    path.write_text(
        "## Quanto costa la spedizione?\nLa spedizione costa 5,90 euro.\n## PayPal?\nOK.\n",
        encoding="utf-8",
    )
    assert import_file(db, path).imported == 2
    assert get_article(db, "paypal", "it") is not None


def test_a_question_without_language_clues_in_a_bilingual_file_is_reported(db, tmp_path):
    path = tmp_path / "faq.md"
    path.write_text(
        "## Quanto costa la spedizione?\nLa spedizione costa 5,90 euro.\n"
        "## How long does delivery take?\nDelivery takes two days.\n"
        "## PayPal?\nOK.\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert report.imported == 2
    assert [e.line for e in report.errors] == [5]
    assert "lang: it" in report.errors[0].message and "lingua" in report.errors[0].message


@pytest.mark.parametrize("name", ["faq.csv", "faq.jsonl", "faq.md", "faq.html", "faq.xlsx"])
def test_an_empty_file_is_refused(db, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ImportFormatError, match="empty"):
        import_file(db, path)


def test_binary_garbage_is_not_text(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ImportFormatError, match="not a text file"):
        import_file(db, path)


def test_an_old_excel_file_gets_a_hint_to_save_it_as_xlsx(db, tmp_path):
    path = tmp_path / "faq.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportFormatError, match=r"save it as Excel \.xlsx or CSV"):
        import_file(db, path)
