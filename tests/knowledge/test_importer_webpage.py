"""FAQ web pages as a browser saves them: JSON-LD, <details>, headings; answers as Markdown."""

from __future__ import annotations

import json

import pytest

from knowledge.importer import ImportFormatError, import_file
from knowledge.importer.html_text import fragment_to_markdown, fragment_to_text
from knowledge.store import get_article, list_articles
from tests.databases import open_db

HOSTILE = (
    '<img src="x" onerror="alert(1)"><script>alert(2)</script>'
    '<a href="javascript:alert(3)" onclick="alert(4)">clicca</a><iframe src="https://evil.example">'
    "</iframe><style>body{display:none}</style>"
)


@pytest.fixture
def db(data_dir):
    return open_db()


def save(tmp_path, html: str, name: str = "faq.html"):
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


def json_ld_page() -> str:
    """A page as Chrome's "Save page as… (HTML only)" writes it, with the FAQPage inside
    an @graph the way SEO plugins emit it."""
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Caffè Aurora"},
            {
                "@type": ["FAQPage", "WebPage"],
                "mainEntity": [
                    {
                        "@type": "Question",
                        "name": "Quanto costa la spedizione?",
                        "acceptedAnswer": {
                            "@type": "Answer",
                            "text": "<p>La spedizione costa <strong>5,90 €</strong>.</p>"
                            "<ul><li>Gratis sopra i 49 €</li>"
                            '<li>Per le isole vedi <a href="/spedizioni/isole">la tabella</a>'
                            "</li></ul><p>Domande? Scrivi a "
                            '<a href="mailto:aiuto@example.com">aiuto@example.com</a>.</p>'
                            + HOSTILE,
                        },
                    },
                    {
                        "@type": "Question",
                        "name": "Can I pay with PayPal?",
                        "acceptedAnswer": [{"@type": "Answer", "text": "Yes, and with cards."}],
                    },
                ],
            },
        ],
    }
    script = json.dumps(graph, ensure_ascii=False).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<!-- saved from url=(0036)https://www.caffe-aurora.example/faq -->\n"
        '<html lang="it"><head><meta charset="utf-8"><title>FAQ</title>\n'
        f'<script type="application/ld+json">{script}</script></head>\n'
        "<body><nav><h2>Menu</h2><p>Negozio</p></nav><h1>FAQ</h1>"
        "<h2>Visible heading</h2><p>Visible text that JSON-LD makes redundant.</p></body></html>"
    )


def test_a_page_with_faqpage_json_ld(db, tmp_path):
    report = import_file(db, save(tmp_path, json_ld_page()))
    assert (report.imported, report.errors) == (2, [])
    shipping = get_article(db, "quanto-costa-la-spedizione", "it")
    assert shipping.answer == (
        "La spedizione costa **5,90 €**.\n\n"
        "- Gratis sopra i 49 €\n"
        "- Per le isole vedi "
        "[la tabella](https://www.caffe-aurora.example/spedizioni/isole)\n\n"
        "Domande? Scrivi a aiuto@example.com.\n\nclicca"
    )
    assert get_article(db, "can-i-pay-with-paypal", "en").answer == "Yes, and with cards."


def test_hostile_html_in_an_answer_leaves_no_tag_script_or_handler(db, tmp_path):
    import_file(db, save(tmp_path, json_ld_page()))
    for article in list_articles(db):
        for bad in ("<", ">", "alert", "javascript", "onerror", "evil", "display"):
            assert bad not in article.answer


def test_a_page_with_details_and_summary(db, tmp_path):
    page = (
        '<html lang="it"><body><header><details><summary>Menu</summary>Home</details></header>'
        "<main><h1>Domande frequenti</h1>"
        "<details><summary>Quanto tempo ci vuole per la <b>consegna</b>?</summary>"
        "<p>Due o tre giorni lavorativi.<p>Ti avvisiamo:<ul><li>per e-mail<li>per SMS"
        "<ul><li>solo in Italia</ul></ul></details>"
        "<details open><summary>How do I return an item?</summary><div hidden>"
        'Within 14 days: see <a href="https://example.com/returns">our returns page</a>.'
        "</div></details></main>"
        "<footer><details><summary>Cookie</summary>Usiamo cookie tecnici.</details></footer>"
        "</body></html>"
    )
    report = import_file(db, save(tmp_path, page))
    assert (report.imported, report.errors) == (2, [])
    delivery = get_article(db, "quanto-tempo-ci-vuole-per-la-consegna", "it")
    assert delivery.question == "Quanto tempo ci vuole per la consegna?"
    assert delivery.answer == (
        "Due o tre giorni lavorativi.\n\nTi avvisiamo:\n\n"
        "- per e-mail\n- per SMS\n  - solo in Italia"
    )
    returns = get_article(db, "how-do-i-return-an-item", "en")  # detected, not the page's lang
    assert returns.answer == "Within 14 days: see [our returns page](https://example.com/returns)."


def test_a_page_with_only_headings(db, tmp_path):
    page = (
        "<html><body><h1>Domande frequenti</h1><h2>Spedizioni</h2>"
        '<div class="q"><h3>Quanto costa la spedizione?</h3></div>'
        '<div class="a"><p>5,90 €, gratis sopra i 49 €.</p></div>'
        "<h3>Spedite all'estero?</h3><p>Sì, in tutta l'Unione europea.</p>"
        "<aside>Pubblicità</aside>"
        '<p>Vedi <a href="/estero">la pagina</a> per i costi.</p>'
        "<h2>Pagamenti</h2><h4>Quali carte accettate?</h4>"
        "<table><tr><th>Carta</th><th>Costo</th></tr><tr><td>Visa</td><td>0 €</td></tr></table>"
        "<article><header><h3>Fate fattura?</h3></header><p>Sì, anche elettronica.</p>"
        "<footer><p>Aggiornato a maggio</p></footer></article>"
        "<aside><h3>Newsletter</h3><p>Iscriviti!</p></aside>"
        "<footer><h3>Contatti</h3><p>Via Roma 1, Forlì</p></footer>"
        "</body></html>"
    )
    report = import_file(db, save(tmp_path, page, "faq.htm"))
    assert report.errors == []
    questions = {a.question: a.answer for a in list_articles(db)}
    assert questions == {
        "Quanto costa la spedizione?": "5,90 €, gratis sopra i 49 €.",
        # A relative link on a page whose address is unknown keeps its text only.
        "Spedite all'estero?": "Sì, in tutta l'Unione europea.\n\nVedi la pagina per i costi.",
        "Quali carte accettate?": "Carta – Costo\nVisa – 0 €",
        # An article's own <header> holds its question; its <footer> is not the answer.
        "Fate fattura?": "Sì, anche elettronica.",
    }


@pytest.mark.parametrize(
    "page",
    [
        "<html><body><p>Benvenuti nel nostro negozio.</p><p>Siamo aperti tutti i giorni.</p>",
        "<html><body><h2>Solo titoli</h2><h2>Nient'altro</h2></body></html>",
        '<script type="application/ld+json">{"@type": "FAQPage", "mainEntity": [</script>',
        "just some text, no tags at all",
    ],
    ids=["paragraphs", "empty-headings", "broken-json-ld", "plain-text"],
)
def test_a_page_without_a_faq_is_a_clear_error(db, tmp_path, page):
    with pytest.raises(ImportFormatError, match=r"no FAQ found in faq\.html"):
        import_file(db, save(tmp_path, page))


def test_a_windows_1252_page_is_read_without_mojibake(db, tmp_path):
    page = "<h2>Perché il caffè costa 5 €?</h2><p>Perché è l’arabica migliore.</p>"
    path = tmp_path / "faq.html"
    path.write_bytes(page.encode("cp1252"))
    assert import_file(db, path).imported == 1
    (article,) = list_articles(db)
    assert (article.question, article.answer) == (
        "Perché il caffè costa 5 €?",
        "Perché è l’arabica migliore.",
    )


def test_json_ld_plain_text_answers_keep_their_line_breaks():
    assert fragment_to_markdown("Uno &amp; due\nTre") == "Uno & due\nTre"


def test_json_ld_questions_are_plain_text_on_one_line():
    assert fragment_to_text("<p>Quanto <b>costa</b>\nla spedizione?</p>") == (
        "Quanto costa la spedizione?"
    )


@pytest.mark.parametrize(
    "page",
    [
        "<div>" * 50_000 + "<h2>Q?</h2><p>A.</p>" + "</div>" * 50_000,
        '<script type="application/ld+json">' + "[" * 50_000 + "]" * 50_000 + "</script>",
        "<h2>Orari?</h2>" + "<ul><li>" * 3_000 + "x" + "</li></ul>" * 3_000,
        "<h2>Orari?<p>Dalle 8" + "<b>" * 10_000,
        "<h2>\x01\x02</h2><p>\ud7ff\x7f</p>",
        '<h2>Orari?</h2><p><a href="http://[::1">Dalle 8</a></p>',
    ],
    ids=[
        "deep-divs",
        "deep-json-ld",
        "deep-lists",
        "unclosed-tags",
        "control-characters",
        "broken-url",
    ],
)
def test_a_hostile_page_is_read_or_refused_but_never_crashes(db, tmp_path, page):
    try:
        report = import_file(db, save(tmp_path, page))
    except ImportFormatError as exc:
        assert "no FAQ found" in str(exc)
        return
    assert report.imported + report.skipped >= 1
