"""Bodies over NOTECHECK_MAX_BODY_BYTES get 413, by declared length and by bytes actually streamed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from serving_support import FakeClassifier, body, metric, running

from notecheck.serving.app import create_app
from notecheck.serving.body_limit import BodyLimitMiddleware
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
LIMIT = 4096
JSON = {"content-type": "application/json"}


async def chunks(payload: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """A chunked upload: no Content-Length header, the server can only count."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


async def test_declared_length_over_the_limit_is_413_before_reading() -> None:
    fake = FakeClassifier()
    big = json.dumps(body("big", 60)).encode()
    assert len(big) > LIMIT
    async with running(create_app(Settings(max_body_bytes=LIMIT), classifier=fake)) as client:
        r = await client.post("/v1/predict", content=big, headers=JSON)
    assert r.status_code == 413 and str(LIMIT) in r.json()["detail"]
    assert fake.served_batches() == []


async def test_streamed_bytes_over_the_limit_are_413() -> None:
    fake = FakeClassifier()
    big = json.dumps(body("big", 60)).encode()
    async with running(create_app(Settings(max_body_bytes=LIMIT), classifier=fake)) as client:
        r = await client.post("/v1/predict", content=chunks(big), headers=JSON)
        small = await client.post("/v1/predict", content=chunks(json.dumps(body("s", 3)).encode(), 50), headers=JSON)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and r.json()["detail"].endswith(f"{LIMIT} bytes")
    assert small.status_code == 200 and len(small.json()["predictions"]) == 3
    assert fake.served_batches() == [["s-0", "s-1", "s-2"]]


async def test_default_limit_is_two_megabytes() -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post("/v1/predict", content=b" " * 2_000_001, headers=JSON)
    assert r.status_code == 413


async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body() -> None:
    reached: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        reached.append("app")  # routing runs (the request log names the route); the body read fails
        try:
            await receive()  # type: ignore[operator]
        finally:
            await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]

    async def receive() -> dict[str, object]:
        reached.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/predict", "headers": [(b"content-length", b"5000")]}
    await BodyLimitMiddleware(app, max_bytes=LIMIT)(scope, receive, send)  # type: ignore[arg-type]
    assert reached == ["app"] and [m["status"] for m in sent if "status" in m] == [413]


async def test_an_invalid_content_length_is_400_and_counted_under_its_route() -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post("/v1/predict", content=b"{}", headers={**JSON, "content-length": "12x"})
        text = (await client.get("/metrics")).text
    assert r.status_code == 400 and r.json() == {"detail": "invalid Content-Length"}
    assert metric(text, "notecheck_http_requests_total", route="/v1/predict", status="400") == 1
