"""Security headers: nosniff and friends on every answer, a strict Content-Security-Policy on HTML pages."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from serving_support import FakeClassifier, running

from notecheck.model.classifier import Classifier
from notecheck.serving.app import create_app
from notecheck.serving.security import HEADERS, SecurityHeadersMiddleware, content_security_policy
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
STRICT = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def assert_always(r: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (r.request.url, name)


async def test_every_answer_carries_the_headers_and_json_needs_no_policy() -> None:
    async with running(create_app(Settings(max_body_bytes=1024), classifier=FakeClassifier())) as client:
        answers = [
            await client.post("/v1/predict", json={"notes": [{"id": "a", "text": "今天去了咖啡店"}]}),
            await client.post("/v1/predict", json={"notes": []}),  # 422
            await client.post("/v1/predict", content=b"x" * 2000),  # 413, from the body limit
            await client.get("/nowhere"),  # 404
            await client.get("/healthz"),
        ]
    assert [r.status_code for r in answers] == [200, 422, 413, 404, 200]
    for r in answers:
        assert_always(r)
        assert "content-security-policy" not in r.headers


async def test_the_explanation_page_gets_the_strict_policy(tiny_classifier: Classifier) -> None:
    async with running(create_app(Settings(), classifier=tiny_classifier)) as client:
        r = await client.post("/v1/explain?format=html", json={"notes": [{"id": "n0", "text": "私信我拿优惠码"}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == STRICT == content_security_policy()
    assert 'style="' in r.text and "<script" not in r.text  # what the policy allows is all the page uses
    assert_always(r)


async def test_a_page_may_extend_the_policy_and_keeps_its_own() -> None:
    review = content_security_policy({"script-src": ["'self'"], "form-action": ["'self'"]})
    assert review == STRICT.replace("form-action 'none'", "form-action 'self'") + "; script-src 'self'"
    inner = FastAPI()

    @inner.get("/review")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>queue</p>", headers={"Content-Security-Policy": review})

    @inner.get("/plain")
    async def plain() -> HTMLResponse:
        return HTMLResponse("<p>plain</p>")

    app = SecurityHeadersMiddleware(inner, exempt=["/docs"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        own, default = await client.get("/review"), await client.get("/plain")
    assert own.headers["content-security-policy"] == review
    assert default.headers["content-security-policy"] == STRICT
    assert_always(own)


async def test_the_api_docs_stay_usable() -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        docs = await client.get("/docs")
    assert docs.status_code == 200 and "cdn" in docs.text  # Swagger UI comes from a CDN: no policy would allow it
    assert "content-security-policy" not in docs.headers
    assert_always(docs)
