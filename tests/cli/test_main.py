"""The `sportello` command line: import, search (--json, --jsonl), rebuild, seed-demo."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from knowledge import phrasings
from knowledge.importer import import_file
from knowledge.store import get_article
from tests.databases import open_db

ARTICLES = [
    {
        "id": "spedizione",
        "lang": "it",
        "question": "Quanto costa la spedizione?",
        "answer": "5,90 €, gratis sopra i 49 €.",
        "alt_questions": ["spese di consegna"],
    },
    {
        "id": "spedizione",
        "lang": "en",
        "question": "How much is shipping?",
        "answer": "€5.90, free over €49.",
    },
    {
        "id": "orari",
        "lang": "it",
        "question": "Quali sono gli orari di apertura?",
        "answer": "Dalle 7:30 alle 19:30.",
        "alt_questions": ["a che ora aprite?"],
    },
]


@pytest.fixture
def faq_file(tmp_path) -> Path:
    path = tmp_path / "faq.jsonl"
    lines = [json.dumps(a, ensure_ascii=False) for a in ARTICLES]
    lines.append(json.dumps({"id": "x", "lang": "fr", "question": "Q", "answer": "A"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_kb_import_reports_counts_and_bad_lines_and_fails_when_a_row_is_skipped(
    data_dir, faq_file, capsys
):
    assert main(["kb", "import", str(faq_file)]) == 1
    out, err = capsys.readouterr()
    assert "imported 3, skipped 1" in out
    assert "line 4: unknown language" in err
    assert "1 skipped, fix them and import the file again" in err
    # The good rows are imported all the same.
    assert main(["kb", "stats"]) == 0
    assert json.loads(capsys.readouterr().out)["status:published"] == 3


def test_kb_import_of_a_clean_file_exits_0(data_dir, tmp_path, capsys):
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    assert main(["kb", "import", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "imported 3, skipped 0" in out
    assert err == ""


def test_kb_import_reads_an_excel_sheet_and_names_its_bad_rows(data_dir, tmp_path, capsys):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["Le nostre FAQ"])
    workbook.active.append(["Domanda", "Risposta", "Lingua"])
    workbook.active.append(["Quanto costa la spedizione?", "5,90 €.", "Italiano"])
    workbook.active.append(["Opening hours?", "From 7:30 to 19:30.", "Inglese"])
    workbook.active.append(["¿Horario?", "De 7:30 a 19:30.", "Spagnolo"])
    path = tmp_path / "faq.xlsx"
    workbook.save(path)
    assert main(["kb", "import", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "imported 2, skipped 1" in out
    assert "faq.xlsx: row 5: unknown language 'spagnolo'" in err


def test_kb_import_of_unmappable_columns_names_them(data_dir, tmp_path, capsys):
    path = tmp_path / "faq.csv"
    path.write_bytes("Nome;Città\r\nMario;Forlì\r\n".encode("cp1252"))
    assert main(["kb", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "colonne trovate: 'Nome', 'Città'" in err
    assert "domanda" in err and "question" in err


def test_kb_import_format_option_reads_a_page_named_otherwise(data_dir, tmp_path, capsys):
    path = tmp_path / "faq.txt"
    path.write_text("<h2>Orari di apertura?</h2><p>Dalle 7:30 alle 19:30.</p>", encoding="utf-8")
    assert main(["kb", "import", str(path)]) == 1  # a .txt name says no format
    assert "cannot tell the format of faq.txt" in capsys.readouterr().err
    assert main(["kb", "import", str(path), "--format", "html"]) == 0


def test_kb_import_of_a_missing_file_is_a_one_line_error(data_dir, tmp_path, capsys):
    assert main(["kb", "import", str(tmp_path / "nope.jsonl")]) == 1
    assert "file not found" in capsys.readouterr().err


# What a search with nothing to search answers.
NOTHING = {"abstain": True, "decision": "abstain", "results": [], "suggestions": []}


def test_kb_search_json_prints_the_documented_shape(data_dir, faq_file, capsys):
    main(["kb", "import", str(faq_file)])
    capsys.readouterr()
    assert main(["kb", "search", "how much does delivery cost?", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"abstain", "decision", "results", "suggestions"}
    assert payload["results"][0]["id"] == "spedizione"
    assert payload["results"][0]["lang"] == "en"
    assert set(payload["results"][0]) == {"id", "score", "question", "answer", "lang"}


def test_kb_search_jsonl_answers_one_line_per_input_line(data_dir, faq_file, capsys, monkeypatch):
    main(["kb", "import", str(faq_file)])
    capsys.readouterr()
    questions = "quanto costa la spedizione?\n\n😀\na che ora aprite?\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(questions), encoding="utf-8"))
    assert main(["kb", "search", "--jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = [json.loads(line) for line in lines]
    assert len(results) == 4
    assert results[0]["results"][0]["id"] == "spedizione"
    assert results[1] == NOTHING
    assert results[2] == NOTHING
    assert results[3]["results"][0]["id"] == "orari"


def test_kb_rebuild_recreates_the_index_files(data_dir, faq_file, capsys):
    main(["kb", "import", str(faq_file)])
    assert main(["kb", "rebuild", "--quiet"]) == 0
    # 5 questions and the 3 articles whole; the answers are too short to count as
    # sentences worth embedding.
    assert "indexed 8 phrasings" in capsys.readouterr().out
    assert (data_dir / "index" / "manifest.json").exists()
    assert (data_dir / "index" / "usem.faiss").exists()


def test_kb_import_indexes_what_it_imported_so_that_no_customer_waits_for_it(
    data_dir, faq_file, capsys
):
    from knowledge.search import Searcher

    main(["kb", "import", str(faq_file), "--quiet"])
    assert "indexed 8 new phrasings" in capsys.readouterr().out
    assert (data_dir / "index" / "manifest.json").exists()
    assert Searcher().pending() == 0
    # The same file again: nothing new to embed.
    main(["kb", "import", str(faq_file), "--quiet"])
    assert "indexed 0 new phrasings" in capsys.readouterr().out


def test_kb_import_no_index_leaves_the_index_to_the_next_search(data_dir, faq_file, capsys):
    from knowledge.search import Searcher

    main(["kb", "import", str(faq_file), "--no-index"])
    assert "indexed" not in capsys.readouterr().out
    assert not (data_dir / "index" / "manifest.json").exists()
    assert Searcher().pending() == 8


def test_kb_index_catches_up_with_what_was_imported_without_indexing(data_dir, faq_file, capsys):
    main(["kb", "import", str(faq_file), "--no-index"])
    capsys.readouterr()
    assert main(["kb", "index", "--quiet"]) == 0
    assert "indexed 8 new phrasings" in capsys.readouterr().out
    assert main(["kb", "index", "--quiet"]) == 0
    assert "indexed 0 new phrasings" in capsys.readouterr().out


def test_kb_seed_demo_imports_only_into_an_empty_store(data_dir, faq_file, capsys):
    main(["kb", "import", str(faq_file)])
    capsys.readouterr()
    assert main(["kb", "seed-demo"]) == 0
    assert "not empty" in capsys.readouterr().out


DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo" / "articles.jsonl"


@pytest.mark.skipif(not DEMO.exists(), reason="demo articles not written yet")
def test_kb_seed_demo_fills_an_empty_store_with_both_languages(data_dir, capsys):
    from knowledge.store import list_articles
    from tests.databases import open_db

    assert main(["kb", "seed-demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "imported" in out
    assert "new phrasings" in out
    langs = {a.lang for a in list_articles(open_db())}
    assert langs == {"it", "en"}


def test_kb_stats_counts_versions(data_dir, faq_file, capsys):
    main(["kb", "import", str(faq_file)])
    capsys.readouterr()
    assert main(["kb", "stats"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["lang:it"] == 2
    assert counts["status:published"] == 3


def test_the_installed_command_streams_jsonl(data_dir, faq_file):
    """End to end through the console script, as a shell pipeline would use it."""
    env = {**os.environ, "SPORTELLO_DATA_DIR": str(data_dir)}
    command = Path(sys.executable).with_name("sportello")
    imported = subprocess.run(
        [command, "kb", "import", str(faq_file)], env=env, capture_output=True, text=True
    )
    # The fixture has one bad line: the good rows are imported and the exit status says so.
    assert imported.returncode == 1
    assert "imported 3, skipped 1" in imported.stdout
    completed = subprocess.run(
        [command, "kb", "search", "--jsonl"],
        input="how much is shipping?\n" + "x" * 20_000 + "\n\x00\x01\n",
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = completed.stdout.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["results"][0]["id"] == "spedizione"
    assert json.loads(lines[2]) == NOTHING


def test_kb_check_prints_a_report_in_both_languages_and_as_json(data_dir, faq_file, capsys):
    import_file(open_db(), faq_file)
    assert main(["kb", "check"]) == 0
    text = capsys.readouterr().out
    assert "checked 3 article versions / versioni controllate: 3" in text
    assert "articles the bot may confuse / articoli che il bot può confondere" in text
    assert main(["kb", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 3
    assert set(report) == {"articles", "confusions", "unfound", "help"}


def test_kb_phrasings_lists_approves_and_rejects(data_dir, faq_file, capsys):
    db = open_db()
    import_file(db, faq_file)
    kept = phrasings.propose(db, "orari", "it", "fino a che ora siete aperti?", "pick", "c1")
    dropped = phrasings.propose(db, "orari", "it", "chiudete per pranzo oggi?", "pick", "c2")
    capsys.readouterr()
    assert main(["kb", "phrasings"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == [str(kept.id), str(dropped.id)]
    assert main(["kb", "phrasings", "--approve", str(kept.id), "--reject", str(dropped.id)]) == 0
    assert "approved 1, rejected 1" in capsys.readouterr().out
    assert get_article(db, "orari", "it").alt_questions == [
        "a che ora aprite?",
        "fino a che ora siete aperti?",
    ]


CALIBRATE_IN = [
    ("quanto pago per la spedizione?", "spedizione"),
    ("costi di spedizione per un ordine piccolo", "spedizione"),
    ("la consegna è gratis?", "spedizione"),
    ("how much do you charge for delivery?", "spedizione"),
    ("is shipping free over 49 euros?", "spedizione"),
    ("a che ora aprite la mattina?", "orari"),
    ("fino a che ora siete aperti?", "orari"),
    ("orari del negozio", "orari"),
    ("siete aperti il sabato?", "orari"),
    ("quando chiudete la sera?", "orari"),
]
CALIBRATE_OUT = [
    "che tempo fa domani a Milano?",
    "vendete biciclette elettriche?",
    "posso portare il cane?",
    "do you sell gift cards?",
    "chi ha vinto la partita ieri?",
]


def test_kb_calibrate_fits_cut_offs_and_says_how_to_use_them(data_dir, tmp_path, capsys):
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    assert main(["kb", "import", str(path)]) == 0
    questions = tmp_path / "domande.csv"
    rows = [f"{text};{article}" for text, article in CALIBRATE_IN * 3]
    rows += [f"{text};" for text in CALIBRATE_OUT * 2]
    questions.write_text("domanda;articolo\n" + "\n".join(rows) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["kb", "calibrate", str(questions)]) == 0
    out = capsys.readouterr().out
    assert "30 answerable and 10 unanswerable questions" in out
    assert "answered right / risposte giuste" in out
    threshold = [line for line in out.splitlines() if line.startswith("SPORTELLO_KB_THRESHOLD=")]
    assert len(threshold) == 1 and 0.0 <= float(threshold[0].split("=")[1]) <= 1.0
    assert main(["kb", "calibrate", str(questions), "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["answerable"] == 30 and "answered_wrong" in fitted["fitted"]


def test_kb_calibrate_refuses_unknown_articles_and_too_few_questions(data_dir, tmp_path, capsys):
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    assert main(["kb", "import", str(path)]) == 0
    questions = tmp_path / "q.csv"
    questions.write_text("text,article_id\nwhere is my parcel?,tracking\n", encoding="utf-8")
    assert main(["kb", "calibrate", str(questions)]) == 1
    assert "tracking" in capsys.readouterr().err
    questions.write_text("text,article_id\nshipping price?,spedizione\n", encoding="utf-8")
    assert main(["kb", "calibrate", str(questions)]) == 1
    assert "at least 30" in capsys.readouterr().err
