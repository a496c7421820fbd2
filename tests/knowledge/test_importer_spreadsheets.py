"""FAQ sheets as Excel saves them: .xlsx workbooks and CSV from an Italian Excel.

Every file is built here as the program would write it: openpyxl writes the workbooks
(a title row above the header, Italian column names), and the CSV bytes are what
"CSV (delimitato dal separatore di elenco)" saves on an Italian Windows: ``;``,
Windows-1252, CRLF.
"""

from __future__ import annotations

import codecs

import pytest
from openpyxl import Workbook

from knowledge.importer import ImportFormatError, import_file
from knowledge.importer.rows import NO_LANGUAGE
from knowledge.store import get_article, list_articles
from tests.databases import open_db

SPEDIZIONE = "La spedizione costa 5,90 €; è gratuita sopra i 49 € (l’ordine arriva in 48 ore)."
RESI = "Hai 14 giorni per il reso.\nScrivi a resi@example.com con il numero d’ordine."


@pytest.fixture
def db(data_dir):
    return open_db()


def test_an_excel_sheet_with_a_title_row_and_italian_headers(db, tmp_path):
    workbook = Workbook()
    notes = workbook.active
    notes.title = "Leggimi"
    notes.append(["Questo file contiene le FAQ del negozio."])
    sheet = workbook.create_sheet("FAQ")
    sheet.append(["FAQ Caffè Aurora — aggiornate a dicembre"])
    sheet.append([])
    sheet.append(["Domanda", "Risposta", "Lingua", "Altre domande", "Categoria", "Note"])
    shipping_row = ["Quanto costa la spedizione?", SPEDIZIONE, "Italiano"]
    sheet.append([*shipping_row, "Spese di spedizione?", "Spedizioni"])
    sheet.append(["Come faccio un reso?", RESI, "ITA", "Voglio fare un reso\nRimborso?", None])
    sheet.append([None, None, None])
    sheet.append(["How much is shipping?", "€5.90, free over €49.", "English", None, None])
    sheet.append(["Domanda senza risposta", None, "it"])
    path = tmp_path / "faq.xlsx"
    workbook.save(path)

    report = import_file(db, path)

    assert report.imported == 3
    assert [(e.unit, e.line) for e in report.errors] == [("row", 8)]
    assert "answer is empty" in report.errors[0].message
    shipping = get_article(db, "quanto-costa-la-spedizione", "it")
    assert shipping.answer == SPEDIZIONE
    assert shipping.alt_questions == ["Spese di spedizione?"]
    assert shipping.tags == ["Spedizioni"]
    returns = get_article(db, "come-faccio-un-reso", "it")
    assert returns.answer == RESI
    assert returns.alt_questions == ["Voglio fare un reso", "Rimborso?"]
    assert get_article(db, "how-much-is-shipping", "en").answer == "€5.90, free over €49."


def test_excel_ids_and_numbers_read_as_text(db, tmp_path):
    workbook = Workbook()
    workbook.active.append(["ID", "Question", "Answer", "Language"])
    workbook.active.append([101, "How much is shipping?", 5.9, "en"])
    path = tmp_path / "faq.xlsx"
    workbook.save(path)
    assert import_file(db, path).imported == 1
    assert get_article(db, "101", "en").answer == "5.9"


def test_an_excel_sheet_without_question_and_answer_columns_names_the_columns_found(db, tmp_path):
    workbook = Workbook()
    workbook.active.append(["Nome", "Telefono", "Città"])
    workbook.active.append(["Mario", "333", "Roma"])
    path = tmp_path / "clienti.xlsx"
    workbook.save(path)
    with pytest.raises(ImportFormatError) as refused:
        import_file(db, path)
    message = str(refused.value)
    assert "'Nome', 'Telefono', 'Città'" in message
    assert "question: question, domanda, domanda frequente" in message
    assert "answer: answer, risposta" in message
    assert list_articles(db, status=None) == []


@pytest.mark.parametrize(
    "content",
    [b"", b"PK\x03\x04 not really a zip", bytes(range(256)) * 8, b"Domanda;Risposta\r\n"],
    ids=["empty", "broken-zip", "garbage", "csv-named-xlsx"],
)
def test_anything_but_a_workbook_named_xlsx_is_a_clear_error(db, tmp_path, content):
    path = tmp_path / "faq.xlsx"
    path.write_bytes(content)
    with pytest.raises(ImportFormatError, match=r"faq\.xlsx"):
        import_file(db, path)


def test_a_zip_that_is_not_a_workbook_is_a_clear_error(db, tmp_path):
    import zipfile

    path = tmp_path / "faq.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(ImportFormatError, match="not a readable Excel"):
        import_file(db, path)


def italian_excel_csv() -> bytes:
    """What Italian Excel writes for a sheet with a title row: ';', Windows-1252, CRLF,
    quotes around cells with ';', line breaks or quotes."""
    text = (
        "FAQ Caffè Aurora;;\r\n"
        ";;\r\n"
        "Domanda;Risposta;Lingua\r\n"
        f'Quanto costa la spedizione?;"{SPEDIZIONE}";Italiano\r\n'
        f'Come faccio un reso?;"{RESI.replace(chr(10), chr(13) + chr(10))}";Italiano\r\n'
        'Perché il caffè è "amaro"?;Dipende dalla tostatura: più è scura, più è amaro.;\r\n'
        ";;\r\n"
    )
    return text.encode("cp1252")


def test_a_csv_saved_by_italian_excel(db, tmp_path):
    path = tmp_path / "faq.csv"
    data = italian_excel_csv()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the file really is Windows-1252
    path.write_bytes(data)

    report = import_file(db, path)

    assert (report.imported, report.errors) == (3, [])
    assert get_article(db, "quanto-costa-la-spedizione", "it").answer == SPEDIZIONE
    assert get_article(db, "come-faccio-un-reso", "it").answer == RESI
    bitter = get_article(db, "perche-il-caffe-e-amaro", "it")  # language detected
    assert bitter.question == 'Perché il caffè è "amaro"?'
    for article in list_articles(db):
        assert "Ã" not in article.question + article.answer


@pytest.mark.parametrize(
    ("delimiter", "encoding", "bom"),
    [(";", "utf-8", codecs.BOM_UTF8), (",", "utf-8", b""), ("\t", "utf-16", b"")],
    ids=["semicolon-utf8-bom", "comma-utf8", "tab-utf16-unicode-text"],
)
def test_csv_separators_and_encodings_excel_uses(db, tmp_path, delimiter, encoding, bom):
    rows = [["Domanda frequente", "Risposta", "Lingua"], ["Costo?", '"5,90 €"', "it"]]
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    path = tmp_path / "faq.csv"
    path.write_bytes(bom + text.encode(encoding))
    report = import_file(db, path)
    assert (report.imported, report.errors) == (1, [])
    assert get_article(db, "costo", "it").answer == "5,90 €"


def test_csv_ids_are_made_unique_when_questions_share_their_first_60_characters(db, tmp_path):
    common = "Quanto tempo ci vuole per ricevere un ordine spedito con corriere"
    path = tmp_path / "faq.csv"
    path.write_text(
        f"domanda;risposta;lingua\n{common} espresso?;Un giorno.;it\n"
        f"{common} standard?;Tre giorni.;it\n",
        encoding="utf-8",
    )
    assert import_file(db, path).imported == 2
    assert len({a.id for a in list_articles(db)}) == 2


def test_csv_with_unmappable_columns_names_them_in_both_languages(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_bytes("Titolo pagina;Testo;Autore\r\nA;B;C\r\n".encode("cp1252"))
    with pytest.raises(ImportFormatError) as refused:
        import_file(db, path)
    message = str(refused.value)
    assert "'Titolo pagina', 'Testo', 'Autore'" in message
    assert "colonne domanda e risposta non trovate" in message
    assert "cannot find the question and answer columns" in message


def test_two_columns_meaning_the_same_field_is_an_error_not_a_guess(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("Domanda,Question,Risposta\nA?,B?,C\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="two columns mean 'question'"):
        import_file(db, path)


def test_a_csv_with_a_huge_cell_is_a_clear_error(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("domanda;risposta\nQ?;" + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="field larger than field limit"):
        import_file(db, path)


def test_an_empty_answer_is_reported_as_such_even_when_the_language_is_unknown(db, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text(
        "domanda;risposta\n"
        "Quanto costa la spedizione?;La spedizione costa 5,90 euro.\n"
        "How long does delivery take?;Delivery takes two days.\n"
        "PayPal?;\n"
        "PayPal?;OK\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert report.imported == 2
    assert [(e.line, e.message) for e in report.errors] == [
        (4, "answer is empty / risposta vuota"),
        (5, NO_LANGUAGE),
    ]


def test_a_sheet_claiming_a_huge_size_is_read_by_its_real_cells(db, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Domanda", "Risposta", "Lingua"])
    sheet.append(["Orari?", "Dalle 7:30 alle 19:30.", "it"])
    sheet.cell(row=3, column=16_384, value="a note in the last column Excel has")
    path = tmp_path / "faq.xlsx"
    workbook.save(path)
    assert import_file(db, path).imported == 1

    sheet.cell(row=60_000, column=1, value="far below")
    workbook.save(path)
    with pytest.raises(ImportFormatError, match="more than 50000 rows"):
        import_file(db, path)
