"""Request bodies over the cap get 413 before any handler parses them (sportello/web.py)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from sportello.web import BodyLimit


def echo_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimit, max_bytes=1000)

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    return app


def test_a_body_within_the_cap_passes() -> None:
    reply = TestClient(echo_app()).post("/echo", content=b"x" * 1000)
    assert reply.status_code == 200 and reply.json() == {"bytes": 1000}


def test_a_declared_length_over_the_cap_is_refused() -> None:
    reply = TestClient(echo_app()).post("/echo", content=b"x" * 1001)
    assert reply.status_code == 413
    assert "Request too large" in reply.text and "Richiesta troppo grande" in reply.text


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    reply = TestClient(echo_app()).post("/echo", content=chunks())
    assert reply.status_code == 413


def test_access_log_lines_carry_no_query_string() -> None:
    import logging

    from sportello.web import WithoutQueryStrings

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/customers?q=mario.rossi%40example.com", "1.1", 200),
        None,
    )
    assert WithoutQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /customers HTTP/1.1" 200'
