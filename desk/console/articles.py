"""The console's knowledge-base pages: drafts to review, articles to fix, writing new ones.

Operators and supervisors see the lists and write drafts (from a ticket's answer, or
from a knowledge gap in the insights); only supervisors publish, reject, edit
published articles and retire them. Marketing users get 403 everywhere here. Every
change goes through :mod:`knowledge.drafts`, which scrubs personal data and keeps each
version in the article's history; a published article is searchable by the running
bot within a second.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlite_utils
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from customerlog import ratings
from desk.console import kbsearch
from desk.console.deps import CheckedForm, Db, Supervisor, TicketWorker
from desk.console.render import Notice, redirect_with_notice, refusal, render
from knowledge import drafts, phrasings, store
from knowledge.store import ArticleError

PROPOSALS = "/articles#proposals"

router = APIRouter()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.replace(";", ",").split(",") if tag.strip()]


def _versions(db: sqlite_utils.Database, article_id: str) -> dict[str, store.Article]:
    found = {lang: store.get_article(db, article_id, lang) for lang in store.LANGS}
    return {lang: article for lang, article in found.items() if article is not None}


def _grouped(articles: list[store.Article]) -> list[dict[str, Any]]:
    """One row per article id, with its language versions."""
    rows: dict[str, dict[str, Any]] = {}
    for article in articles:
        row = rows.setdefault(article.id, {"id": article.id, "versions": {}})
        row["versions"][article.lang] = article
    return list(rows.values())


@router.get("/articles", response_class=HTMLResponse)
def list_page(request: Request, user: TicketWorker, db: Db) -> HTMLResponse:
    quality = {q.article_id: q for q in ratings.article_quality(db)}
    review = [
        {"quality": q, "versions": _versions(db, q.article_id)} for q in ratings.review_list(db)
    ]
    return render(
        request,
        "articles.html",
        drafts=_grouped(drafts.list_drafts(db)),
        review=review,
        published=_grouped(store.list_articles(db, status="published")),
        retired=_grouped(store.list_articles(db, status="retired")),
        quality=quality,
        proposals=phrasings.list_proposals(db),
    )


@router.post("/articles/phrasings")
def decide_phrasings(request: Request, form: CheckedForm, user: Supervisor, db: Db) -> Response:
    """Approve or reject the ticked proposals in one go (supervisors)."""
    chosen = [int(v) for v in form.getlist("proposal") if str(v).isdigit()]
    if not chosen:
        return redirect_with_notice(request, PROPOSALS, "phrasings_none_selected", level="error")
    if form.get("decision") == "approve":
        n = phrasings.approve(db, chosen, user.username)
        return redirect_with_notice(request, PROPOSALS, "phrasings_approved", n=str(n))
    n = phrasings.reject(db, chosen, user.username)
    return redirect_with_notice(request, PROPOSALS, "phrasings_rejected", n=str(n))


@router.get("/articles/check", response_class=HTMLResponse)
def check_page(request: Request, user: TicketWorker) -> HTMLResponse:
    """The knowledge base's weak spots (knowledge.check), computed in the background."""
    return render(request, "articles_check.html", report=kbsearch.weak_spots())


def new_page(
    request: Request,
    status_code: int = 200,
    notice: Notice | None = None,
    **values: str,
) -> HTMLResponse:
    form = {"lang": "it", "question": "", "answer": "", "tags": "", **values}
    if form["lang"] not in store.LANGS:
        form["lang"] = "it"
    return render(request, "article_new.html", status_code, notice=notice, form=form)


@router.get("/articles/new", response_class=HTMLResponse)
def new_form(
    request: Request, user: TicketWorker, lang: str = "it", question: str = ""
) -> HTMLResponse:
    return new_page(request, lang=lang, question=question[: drafts.MAX_QUESTION_CHARS])


@router.post("/articles/new")
def create(
    request: Request,
    form: CheckedForm,
    user: TicketWorker,
    db: Db,
    lang: Annotated[str, Form()] = "it",
    question: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
) -> Response:
    values = {"lang": lang, "question": question, "answer": answer, "tags": tags}
    try:
        draft = drafts.propose(
            db,
            question=question,
            answer=answer,
            lang=lang,
            author=user.username,
            tags=_tags(tags),
            source=f"console:{user.username}",
        )
    except ArticleError as exc:
        return new_page(request, 422, refusal("article_invalid", why=str(exc)), **values)
    return redirect_with_notice(request, f"/articles/{draft.id}", "draft_created")


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def show(request: Request, article_id: str, user: TicketWorker, db: Db) -> HTMLResponse:
    versions = _versions(db, article_id)
    if not versions:
        return render(request, "error.html", 404, message_key="article_not_found")
    quality = next((q for q in ratings.article_quality(db) if q.article_id == article_id), None)
    history = {lang: store.article_history(db, article_id, lang) for lang in versions}
    return render(
        request,
        "article.html",
        article_id=article_id,
        versions=versions,
        langs=store.LANGS,
        quality=quality,
        history=history,
        tags=", ".join(next(iter(versions.values())).tags),
    )


@router.post("/articles/{article_id}/publish")
def publish(
    request: Request, article_id: str, form: CheckedForm, user: Supervisor, db: Db
) -> Response:
    chosen = []
    for lang in store.LANGS:
        question = str(form.get(f"question_{lang}") or "").strip()
        answer = str(form.get(f"answer_{lang}") or "").strip()
        if question or answer:
            alts = _lines(str(form.get(f"alt_{lang}") or ""))
            chosen.append(drafts.Version(lang, question, answer, alts))
    try:
        drafts.publish(
            db,
            article_id,
            chosen,
            reviewer=user.username,
            tags=_tags(str(form.get("tags") or "")),
        )
    except ArticleError as exc:
        return redirect_with_notice(
            request, f"/articles/{article_id}", "article_invalid", level="error", why=str(exc)
        )
    return redirect_with_notice(request, f"/articles/{article_id}", "article_published")


@router.post("/articles/{article_id}/reject")
def reject(
    request: Request, article_id: str, form: CheckedForm, user: Supervisor, db: Db
) -> Response:
    drafts.reject(db, article_id, reviewer=user.username)
    return redirect_with_notice(request, "/articles", "draft_rejected")


@router.post("/articles/{article_id}/retire")
def retire(
    request: Request, article_id: str, form: CheckedForm, user: Supervisor, db: Db
) -> Response:
    drafts.retire(db, article_id, reviewer=user.username)
    return redirect_with_notice(request, f"/articles/{article_id}", "article_retired")
