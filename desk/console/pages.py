"""The console's pages that belong to no area: the health check, the stylesheet, home.

``/healthz`` and the stylesheet are open to anyone (the gate's public paths); home sends
each role to its own start page. The stylesheet is a route rather than a static-files
mount so that it sets its own caching and is listed with every other route.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from desk.console.deps import CurrentUser

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter()


@router.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/static/console.css")
def stylesheet() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "console.css",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/")
def home(user: CurrentUser) -> Response:
    return RedirectResponse("/queue" if user.works_tickets else "/insights", status_code=303)
