"""One JSON access line per request, with a request id echoed to the client, and no note text by default."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from serving_support import FakeClassifier, metric, running

from notecheck.serving.app import create_app
from notecheck.serving.logs import JSON_FIELDS
from notecheck.serving.request_log import ACCESS_LOGGER
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
SECRET = "我的私人笔记 private-note-text-42"


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [getattr(r, JSON_FIELDS) for r in caplog.records if r.name == ACCESS_LOGGER]


async def test_access_lines_are_json_with_the_request_id_and_no_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    payload = {"notes": [{"id": "a", "text": SECRET}, {"id": "b", "text": "x"}]}
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        caplog.clear()
        r = await client.post("/v1/predict", json=payload, headers={"X-Request-ID": "req-7.a:b"})
        bad = await client.post("/v1/predict", json={"notes": [{"id": "a", "text": SECRET * 2000}]})
    assert r.headers["x-request-id"] == "req-7.a:b"
    ok_line, bad_line = access_lines(caplog)
    assert ok_line["request_id"] == "req-7.a:b"
    assert ok_line["method"] == "POST" and ok_line["route"] == "/v1/predict" and ok_line["status"] == 200
    assert ok_line["n_notes"] == 2 and ok_line["latency_ms"] > 0 and "texts" not in ok_line
    assert bad_line["status"] == 422 and len(bad_line["request_id"]) == 32
    assert bad.headers["x-request-id"] == bad_line["request_id"]
    assert "private-note-text" not in caplog.text


async def test_unsafe_request_ids_are_replaced(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.get("/healthz", headers={"X-Request-ID": 'x" , "status": 200'})
    assert r.headers["x-request-id"] != 'x" , "status": 200' and len(r.headers["x-request-id"]) == 32


async def test_log_text_puts_the_text_in(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running(create_app(Settings(log_text=True), classifier=FakeClassifier())) as client:
        caplog.clear()
        await client.post("/v1/predict", json={"notes": [{"id": "a", "text": SECRET}]})
    (line,) = access_lines(caplog)
    assert line["texts"] == [SECRET]


async def test_a_body_refused_before_routing_is_counted_under_its_route() -> None:
    big = b'{"notes": [' + b" " * 5000 + b"]}"
    async with running(create_app(Settings(max_body_bytes=4096), classifier=FakeClassifier())) as client:
        predict = await client.post("/v1/predict", content=big, headers={"content-type": "application/json"})
        nowhere = await client.post("/v1/nowhere", content=big)
        wrong_method = await client.put("/v1/predict", content=big)
        text = (await client.get("/metrics")).text
    assert predict.status_code == nowhere.status_code == wrong_method.status_code == 413
    assert metric(text, "notecheck_http_requests_total", method="POST", route="/v1/predict", status="413") == 1
    assert metric(text, "notecheck_http_requests_total", method="PUT", route="/v1/predict", status="413") == 1
    assert metric(text, "notecheck_http_requests_total", route="unmatched", status="413") == 1  # /v1/nowhere
