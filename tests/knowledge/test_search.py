"""Searching: the right article, in the customer's language, or an honest abstention."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest

from knowledge.calibration import load_calibration
from knowledge.index import wanted_phrasings
from knowledge.search import MAX_SUGGESTIONS, Searcher, clean_query, get_searcher
from knowledge.store import Article, set_status, upsert_article
from sportello.settings import get_settings
from tests.databases import open_db
from tests.knowledge.conftest import FIXTURE_ARTICLES, build_kb, plain_copies, rich_copies


@pytest.mark.parametrize(
    ("question", "lang", "expected_id"),
    [
        ("quanto si paga per la spedizione?", "it", "shipping-cost"),
        ("how much is delivery?", "en", "shipping-cost"),
        ("vorrei restituire un articolo", "it", "returns"),
        ("posso pagare con satispay?", "it", "payment-methods"),
        ("do you accept PayPal?", "en", "payment-methods"),
        ("a che ora apre il negozio?", "it", "opening-hours"),
    ],
)
def test_finds_the_right_article_in_the_customers_language(
    shared_searcher, question, lang, expected_id
):
    result = shared_searcher.search(question)
    assert result.results[0].id == expected_id
    assert result.results[0].lang == lang
    assert not result.abstain


def test_an_english_question_finds_an_article_that_exists_only_in_italian(shared_searcher):
    result = shared_searcher.search("do you sell decaffeinated coffee?", lang="en")
    top = result.results[0]
    assert (top.id, top.lang) == ("decaf", "it")
    assert "decaffeinato" in top.answer


def test_the_english_version_is_returned_when_it_exists(shared_searcher):
    result = shared_searcher.search("Posso avere un rimborso?", lang="en")
    assert (result.results[0].id, result.results[0].lang) == ("returns", "en")


@pytest.mark.parametrize(
    "question",
    [
        "what is the capital of Australia?",
        "chi ha vinto il campionato di calcio nel 1982?",
        "how do I change the oil in my car engine?",
    ],
)
def test_off_topic_questions_are_not_answered(shared_searcher, question):
    assert shared_searcher.search(question).abstain


def test_results_are_best_first_with_probabilities(shared_searcher):
    result = shared_searcher.search("quanto costa la spedizione?", k=3)
    scores = [hit.score for hit in result.results]
    assert len(scores) == 3
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len({hit.id for hit in result.results}) == 3


def test_to_json_has_exactly_the_documented_shape(shared_searcher):
    payload = shared_searcher.search("quanto costa la spedizione?").to_json()
    assert set(payload) == {"abstain", "decision", "results", "suggestions"}
    assert payload["decision"] == "answer" and payload["suggestions"] == []
    assert set(payload["results"][0]) == {"id", "score", "question", "answer", "lang"}
    json.dumps(payload)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "😀😀😀", "?!...", "\x00\x01\x02\x1b\x7f", None, b"\xff\xfe\x00"],
)
def test_empty_or_contentless_input_abstains_with_no_results(shared_searcher, text):
    result = shared_searcher.search(text)
    assert result.abstain
    assert result.results == []


@pytest.mark.parametrize(
    "text",
    [
        "spedizione " * 2000,
        "quanto costa la spedizione? 😀\x00\x07\ud800",
        "' OR 1=1; DROP TABLE articles; -- \" NEAR( AND * ^",
        "<script>alert(1)</script> spedizione",
        "".join(chr(c) for c in range(32, 3000)),
    ],
)
def test_hostile_input_never_raises(shared_searcher, text):
    result = shared_searcher.search(text)
    assert isinstance(result.abstain, bool)


def test_clean_query_truncates_and_strips_control_characters():
    assert clean_query("a\x00b\x1bc", 100) == "a b c"
    assert len(clean_query("x" * 20_000, 2000)) == 2000
    assert clean_query("😀", 100) == ""


def test_a_running_searcher_finds_a_new_article_without_restart(fresh_searcher, tmp_path):
    question = "Avete posti a sedere per i cani?"
    assert fresh_searcher.search("posso portare il mio cane nel locale?").results[0].id != "dogs"
    upsert_article(
        open_db(fresh_searcher.db_path),
        Article(
            id="dogs",
            lang="it",
            question="Posso entrare con il cane?",
            answer="Sì, i cani sono i benvenuti.",
            alt_questions=[question],
        ),
    )
    started = time.perf_counter()
    result = fresh_searcher.search("posso portare il mio cane nel locale?")
    assert time.perf_counter() - started < 1.0
    assert result.results[0].id == "dogs"


def test_a_changed_answer_is_served_at_once(fresh_searcher):
    db = open_db(fresh_searcher.db_path)
    fresh_searcher.search("quanto costa la spedizione?")
    changed = next(a for a in FIXTURE_ARTICLES if (a.id, a.lang) == ("shipping-cost", "it"))
    upsert_article(
        db, Article(**{**changed.__dict__, "answer": "Ora la spedizione è sempre gratis."})
    )
    assert fresh_searcher.search("quanto costa la spedizione?").results[0].answer == (
        "Ora la spedizione è sempre gratis."
    )


def test_a_retired_article_disappears(fresh_searcher):
    assert fresh_searcher.search("posso pagare con satispay?").results[0].id == "payment-methods"
    set_status(open_db(fresh_searcher.db_path), "payment-methods", None, "retired")
    result = fresh_searcher.search("posso pagare con satispay?")
    assert "payment-methods" not in [hit.id for hit in result.results]


def test_retiring_one_language_falls_back_to_the_other(fresh_searcher):
    set_status(open_db(fresh_searcher.db_path), "returns", "en", "retired")
    result = fresh_searcher.search("I want to return a product", lang="en")
    assert (result.results[0].id, result.results[0].lang) == ("returns", "it")


def test_a_new_searcher_reuses_the_saved_index_and_embeds_only_new_phrasings(fresh_searcher):
    fresh_searcher.refresh()
    wifi = Article(id="wifi", lang="en", question="Do you have wifi?", answer="Yes, free wifi.")
    upsert_article(open_db(fresh_searcher.db_path), wifi)
    second = Searcher(db_path=fresh_searcher.db_path, index_dir=fresh_searcher.index_dir)
    added = []
    second.refresh(progress=added.append)
    # Only the new article's question, answer sentence and whole text were embedded.
    assert sum(added) == len(wanted_phrasings([wifi])) == 3
    assert second.search("is there wifi?").results[0].id == "wifi"


def test_rebuild_after_deleting_the_index_gives_the_same_results(tmp_path):
    questions = ["quanto costa la spedizione?", "can I pay by card?", "siete aperti domenica?"]
    searcher = build_kb(tmp_path)
    before = [searcher.search(q).to_json() for q in questions]
    for path in (tmp_path / "index").iterdir():
        path.unlink()
    rebuilt = Searcher(db_path=searcher.db_path, index_dir=searcher.index_dir)
    assert rebuilt.rebuild() == len(wanted_phrasings(FIXTURE_ARTICLES))
    assert (tmp_path / "index" / "manifest.json").exists()
    after = [rebuilt.search(q).to_json() for q in questions]
    assert after == before


def test_a_corrupt_index_file_is_rebuilt_not_trusted(fresh_searcher):
    expected = fresh_searcher.search("how much does shipping cost?").to_json()
    (fresh_searcher.index_dir / "usem.faiss").write_bytes(b"not an index")
    again = Searcher(db_path=fresh_searcher.db_path, index_dir=fresh_searcher.index_dir)
    assert again.search("how much does shipping cost?").to_json() == expected


def test_concurrent_searches_from_threads_agree(shared_searcher):
    answers: list[str] = []

    def ask():
        answers.append(shared_searcher.search("posso pagare con paypal?").results[0].id)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["payment-methods"] * 4


def test_the_threshold_setting_overrides_the_calibrated_cut_off(fresh_searcher):
    never = Searcher(
        db_path=fresh_searcher.db_path, index_dir=fresh_searcher.index_dir, threshold=1.01
    )
    always = Searcher(
        db_path=fresh_searcher.db_path, index_dir=fresh_searcher.index_dir, threshold=0.0
    )
    assert never.search("quanto costa la spedizione?").abstain
    assert not always.search("what is the capital of Australia?").abstain


def test_get_searcher_follows_the_configured_data_dir(data_dir, monkeypatch):
    build_kb(data_dir)
    searcher = get_searcher()
    assert searcher.db_path == data_dir / "sportello.db"
    assert searcher is get_searcher()
    assert searcher.search("quanto costa la spedizione?").results[0].id == "shipping-cost"


def test_env_threshold_is_read_by_a_new_searcher(data_dir, monkeypatch):
    from sportello.settings import get_settings

    monkeypatch.setenv("SPORTELLO_KB_THRESHOLD", "0.99")
    get_settings.cache_clear()
    assert Searcher().threshold == 0.99


def test_a_new_article_wins_while_the_classifier_is_still_retraining(tmp_path, monkeypatch):
    """The classifier trained before the change does not know the new article: it must not
    push it below the articles it knows while the background retraining runs. Measured on
    the demo knowledge base, where the stale classifier did exactly that."""
    from knowledge import search as search_module
    from knowledge.importer import import_file
    from sportello.settings import PROJECT_ROOT

    db_path = tmp_path / "sportello.db"
    import_file(open_db(db_path), PROJECT_ROOT / "knowledge" / "demo" / "articles.jsonl")
    searcher = Searcher(db_path=db_path, index_dir=tmp_path / "index")
    question = "i cani possono entrare nei vostri negozi?"
    assert searcher.search(question, lang="it").results[0].id != "dogs"
    searcher.wait_for_classifier()
    release = threading.Event()
    fit = search_module._fitted_classifier

    def held_fit(*args, **kwargs):
        release.wait(timeout=60)
        return fit(*args, **kwargs)

    monkeypatch.setattr(search_module, "_fitted_classifier", held_fit)
    upsert_article(
        open_db(db_path),
        Article(
            id="dogs",
            lang="it",
            question="Posso portare il mio cane nei vostri negozi?",
            answer="Sì, i cani al guinzaglio sono i benvenuti.",
            alt_questions=["i cani sono ammessi in negozio?", "animali in negozio"],
        ),
    )
    try:
        during = searcher.search(question, lang="it")
        assert during.results[0].id == "dogs"
        assert not during.abstain
    finally:
        release.set()
    searcher.wait_for_classifier()
    assert searcher.search(question, lang="it").results[0].id == "dogs"


@pytest.mark.parametrize("shape", ["plain", "rich"])
def test_the_other_encoders_and_the_keyword_index_work_beside_the_first_encoder(
    tmp_path, monkeypatch, shape
):
    """The slowest encoder the knowledge base's model reads runs on the caller's thread:
    e5 for a plain FAQ, MiniLM where e5 is not asked (many phrasings per article)."""
    if shape == "plain":
        searcher = build_kb(tmp_path / "plain", plain_copies(FIXTURE_ARTICLES))
        expected_first = "e5"
    else:
        searcher = build_kb(tmp_path / "rich", rich_copies(FIXTURE_ARTICLES))
        expected_first = "minilm"
    searcher.refresh()  # indexing embeds with every encoder, on this thread
    threads: dict[str, str] = {}
    for encoder in searcher.encoders:
        original = encoder.encode

        def recording_encode(texts, encoder=encoder, original=original):
            threads[encoder.name] = threading.current_thread().name
            return original(texts)

        monkeypatch.setattr(encoder, "encode", recording_encode)
    result = searcher.search("how much is delivery?", "en")
    assert result.results[0].id == "shipping-cost"
    assert threads[expected_first] == threading.current_thread().name
    others = [name for name in threads if name != expected_first]
    assert others and all(threads[name].startswith("search-helper") for name in others)


def test_a_failure_in_the_helper_thread_reaches_the_caller(fresh_searcher, monkeypatch):
    fresh_searcher.refresh()

    def broken_search(text, k=50):
        raise RuntimeError("keyword index broken")

    for lexical in fresh_searcher._lexical.values():
        monkeypatch.setattr(lexical, "search", broken_search)
    with pytest.raises(RuntimeError, match="keyword index broken"):
        fresh_searcher.search("how much is delivery?", "en")


def _band_searcher(searcher: Searcher, threshold: float, clarify: float) -> Searcher:
    return Searcher(
        db_path=searcher.db_path,
        index_dir=searcher.index_dir,
        threshold=threshold,
        clarify_threshold=clarify,
    )


def test_between_the_two_cut_offs_the_likeliest_articles_are_offered(fresh_searcher):
    unsure = _band_searcher(fresh_searcher, threshold=1.01, clarify=0.0)
    result = unsure.search("quanto costa la spedizione?")
    assert result.abstain and result.decision == "clarify"
    ids = [hit.id for hit in result.suggestions]
    assert 2 <= len(ids) <= MAX_SUGGESTIONS == 3
    assert ids[0] == "shipping-cost" and len(set(ids)) == len(ids)
    assert all(hit.question for hit in result.suggestions)
    assert result.to_json()["suggestions"] == ids


def test_below_the_clarification_cut_off_nothing_is_offered(fresh_searcher):
    nothing = _band_searcher(fresh_searcher, threshold=1.01, clarify=1.01)
    result = nothing.search("quanto costa la spedizione?")
    assert result.decision == "abstain" and result.suggestions == []


def test_a_sure_answer_offers_no_choices(fresh_searcher):
    sure = _band_searcher(fresh_searcher, threshold=0.0, clarify=0.0)
    result = sure.search("quanto costa la spedizione?")
    assert result.decision == "answer" and result.suggestions == []


def test_no_band_unless_fitted_or_set(fresh_searcher, monkeypatch):
    unfitted = Searcher(
        db_path=fresh_searcher.db_path,
        index_dir=fresh_searcher.index_dir,
        calibration=replace(load_calibration(), clarify_threshold=None, plain=None),
    )
    assert unfitted.clarify_threshold > 1.0
    unfitted.threshold = 1.01
    assert unfitted.search("quanto costa la spedizione?").decision == "abstain"
    monkeypatch.setenv("SPORTELLO_KB_CLARIFY_THRESHOLD", "0.05")
    get_settings.cache_clear()
    try:
        assert Searcher(db_path=fresh_searcher.db_path).clarify_threshold == 0.05
    finally:
        get_settings.cache_clear()


def test_article_gives_the_customers_language_else_the_other(fresh_searcher):
    english = fresh_searcher.article("returns", "en")
    assert english.lang == "en" and english.answer.startswith("You have 14 days")
    italian_only = fresh_searcher.article("decaf", "en")
    assert italian_only.lang == "it" and italian_only.score == 1.0
    assert fresh_searcher.article("no-such-article", "it") is None


def test_a_plain_faq_gets_the_calibrations_plain_model(tmp_path):
    shipped = load_calibration()
    calibration = replace(
        shipped,
        threshold=0.0,
        clarify_threshold=None,
        plain=replace(
            shipped.plain or shipped, threshold=1.01, clarify_threshold=0.0, plain=None, small=None
        ),
    )
    rich = build_kb(tmp_path / "rich", rich_copies(FIXTURE_ARTICLES))
    rich.calibration = calibration
    assert rich.search("quanto costa la spedizione?").decision == "answer"
    plain = build_kb(tmp_path / "plain", plain_copies(FIXTURE_ARTICLES))
    plain.calibration = calibration
    assert plain.search("quanto costa la spedizione?").decision == "clarify"
    assert (plain.threshold, plain.clarify_threshold) == (1.01, 0.0)


def test_the_confidence_sees_how_many_retrievers_put_the_candidate_first():
    from knowledge.calibration import Calibration
    from knowledge.search import Candidate, rank_candidates

    def candidate(article_id: str, **scores: float) -> Candidate:
        features = dict.fromkeys(
            ("usem_q", "usem_a", "mini_q", "mini_a", "e5_q", "e5_a", "lex_q", "lex_a"), 0.1
        )
        return Candidate(article_id, {**features, **scores, "inv_ppa": 1.0})

    ranked = rank_candidates(
        [
            candidate("both", usem_q=0.9, mini_q=0.8, usem_a=0.7, e5_q=0.8),
            candidate("keywords", lex_q=2.0, lex_a=1.0, e5_a=0.6, e5_p=0.5),
            # MiniLM had no phrasing in the customer's language: its zeros put nobody first.
            candidate("none", mini_a=0.0),
        ],
        Calibration({"usem_q": 1.0}, 0.0, {"agree": 1.0}, 0.0, threshold=0.5),
    )
    agree = {c.article_id: (c.conf_features["agree"], c.conf_features["agree_q"]) for c in ranked}
    # mini_a is 0.1 for the first two: the tie goes to the better-ranked candidate.
    # Of the 10 retrievers: 8 scores of phrasings and usem_p, e5_p of whole articles
    # (no one gave usem_p a score here, so it puts nobody first).
    assert agree["both"] == (pytest.approx(5 / 10), pytest.approx(3 / 4))
    assert agree["keywords"] == (pytest.approx(4 / 10), pytest.approx(1 / 4))
    assert agree["none"] == (0.0, 0.0)
    assert ranked[0].confidence > ranked[1].confidence


def test_a_plain_faqs_confidence_sees_its_rankers_lead_and_the_shared_one_does_not():
    """The plain model reads its ranker's logit and margin (calibration.RANKER_FEATURES):
    the same best article is surer the further it leads the runner-up; the model shared
    with rich knowledge bases, where those mix regimes, ignores them."""
    from knowledge.calibration import RANKER_FEATURES, Calibration
    from knowledge.search import Candidate, rank_candidates

    shipped = load_calibration()
    assert shipped.plain.reads(RANKER_FEATURES) and not shipped.reads(RANKER_FEATURES)
    plain = Calibration({"usem_q": 10.0}, 0.0, {"margin": 1.0}, 0.0, 0.5)
    calibration = Calibration({"usem_q": 10.0}, 0.0, {"usem_q": 1.0}, 0.0, 0.5, plain=plain)

    def best_of(runner_up: float, inv_ppa: float) -> Candidate:
        candidates = [
            Candidate("best", {"usem_q": 0.8, "inv_ppa": inv_ppa}),
            Candidate("other", {"usem_q": runner_up, "inv_ppa": inv_ppa}),
        ]
        return rank_candidates(candidates, calibration)[0]

    near, far = best_of(0.75, 1.0), best_of(0.2, 1.0)
    assert near.article_id == far.article_id == "best"
    assert near.conf_features["margin"] == pytest.approx(0.5)
    assert far.conf_features["margin"] == pytest.approx(6.0)
    assert far.confidence > near.confidence
    assert best_of(0.75, 0.05).confidence == best_of(0.2, 0.05).confidence


def test_e5_is_asked_only_where_the_knowledge_bases_model_reads_it(tmp_path):
    """A knowledge base with many phrasings per article searches without e5 (its model
    gives e5 no weight: as fast, and ranked the same, as before e5 shipped); a plain FAQ,
    whose model ranks with it, asks it every time."""
    shipped = load_calibration()
    assert shipped.plain is not None and shipped.plain.reads(("e5_q", "e5_a"))
    assert not shipped.reads(("e5_q", "e5_a"))
    asked: list[str] = []
    rich = build_kb(tmp_path / "rich", rich_copies(FIXTURE_ARTICLES))
    plain = build_kb(tmp_path / "plain", plain_copies(FIXTURE_ARTICLES))
    for searcher in (rich, plain):
        searcher.refresh()
        searcher.encoders = [_Recorded(e, asked) for e in searcher.encoders]
    rich.search("quanto costa la spedizione?")
    assert sorted(asked) == ["minilm", "usem"]
    asked.clear()
    assert plain.search("quanto costa la spedizione?").results[0].id == "shipping-cost"
    assert sorted(asked) == ["e5", "minilm", "usem"]


class _Recorded:
    """An encoder that notes its name each time it is asked, for the test above."""

    def __init__(self, encoder, asked: list[str]) -> None:
        self.encoder, self.asked = encoder, asked
        self.name, self.dim = encoder.name, encoder.dim

    def encode(self, texts):
        self.asked.append(self.name)
        return self.encoder.encode(texts)

    def encode_passages(self, texts):
        return self.encoder.encode_passages(texts)  # indexing, not a search


def test_a_one_article_faq_does_not_answer_every_question_with_its_article(tmp_path):
    """A company starting with a single article: the plain model (which reads how far
    the best article leads the next, and there is no next) still gives no article to
    questions off its topic."""
    searcher = build_kb(tmp_path, plain_copies(FIXTURE_ARTICLES[:1]))
    for off_topic in ("che tempo fa domani a Milano?", "chi ha vinto la partita ieri sera?"):
        result = searcher.search(off_topic, lang="it")
        assert result.decision == "abstain", (off_topic, result.decision)


def test_each_candidate_gets_its_place_by_every_score_with_ties_sharing_the_better_one():
    """calibration.POSITION_FEATURES: 1 / place among this question's candidates; where
    MiniLM or the keyword index have no opinion (0), no place."""
    from knowledge.calibration import PLAIN_RANK_FEATURES, POSITION_FEATURES
    from knowledge.search import _combine

    by_retriever = {
        "usem_q": {"a": 0.9, "b": 0.5, "c": 0.5},
        "e5_p": {"a": 0.2, "b": 0.8, "c": 0.4},
        "lex_q": {"c": 3.0},
        "minilm_q": {"a": 0.7, "b": 0.6},
    }
    languages = {"a": {"it"}, "b": {"it"}, "c": {"en"}}
    candidates = {c.article_id: c.features for c in _combine(by_retriever, languages, "it")}
    assert set(candidates) == {"a", "b", "c"}
    assert [candidates[i]["usem_q_rr"] for i in "abc"] == [1.0, 0.5, 0.5]
    assert [candidates[i]["e5_p_rr"] for i in "abc"] == [pytest.approx(1 / 3), 1.0, 0.5]
    assert [candidates[i]["lex_q_rr"] for i in "abc"] == [0.0, 0.0, 1.0]
    # c has no Italian version: MiniLM has no opinion on it (0), and gives it no place.
    assert [candidates[i]["mini_q_rr"] for i in "abc"] == [1.0, 0.5, 0.0]
    # The order the retrievers are read in changes nothing.
    again = {
        c.article_id: c.features
        for c in _combine(dict(reversed(by_retriever.items())), languages, "it")
    }
    assert again == candidates
    assert set(POSITION_FEATURES) <= set(PLAIN_RANK_FEATURES)


def test_a_message_that_is_one_articles_own_question_is_answered_with_it(tmp_path):
    """search.EXACT: case, spaces and the closing "?" aside, whatever the cut-off."""
    articles = plain_copies(FIXTURE_ARTICLES)
    searcher = build_kb(tmp_path, articles)
    searcher.threshold = 0.99  # no confidence model reaches it on its own
    result = searcher.search("  quanto costa LA spedizione ")
    assert result.decision == "answer"
    assert (result.results[0].id, result.results[0].score) == ("shipping-cost", 1.0)
    # Another wording, however close, is left to the models.
    close = searcher.search("quanto costa la spedizione, per favore?")
    assert close.decision != "answer" and close.results[0].score < 1.0


def test_a_question_two_articles_share_is_left_to_the_models(tmp_path):
    articles = plain_copies(FIXTURE_ARTICLES)
    other = next(a for a in articles if a.id != "shipping-cost" and a.lang == "it")
    shared = replace(other, alt_questions=["Quanto costa la spedizione?"])
    searcher = build_kb(tmp_path, [*(a for a in articles if a != other), shared])
    searcher.threshold = 0.99
    result = searcher.search("Quanto costa la spedizione?")
    assert result.decision != "answer"
    assert all(hit.score < 1.0 for hit in result.results)
