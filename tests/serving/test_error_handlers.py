"""Every 400 and 422 has one shape, `{"detail": [{"field", "msg", "type"}]}`, whatever broke the body."""

from __future__ import annotations

import pytest
from serving_support import KEY, FakeClassifier, auth, running

from notecheck.serving.app import create_app
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
JSON = {"content-type": "application/json"}
NOT_UTF8 = b'{"notes": [{"id": "a", "text": "caf\xe9"}]}'  # Latin-1, as some clients still send


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/explain", "/v1/kol/check", "/predict"])
async def test_a_body_that_is_not_utf8_is_a_400_naming_the_body(path: str) -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post(path, content=NOT_UTF8, headers=JSON)
        malformed = await client.post(path, content=b'{"notes": [', headers=JSON)
    assert r.status_code == 400
    (entry,) = r.json()["detail"]
    assert entry["field"] == "body" and entry["type"] == "json_invalid"
    assert entry["msg"].startswith("malformed JSON: not UTF-8") and "byte 35" in entry["msg"]
    assert set(entry) == set(malformed.json()["detail"][0])  # the shape of any other malformed body


async def test_an_unauthenticated_caller_learns_nothing_but_401() -> None:
    async with running(create_app(Settings(api_keys=[KEY]), classifier=FakeClassifier())) as client:
        anonymous = await client.post("/v1/predict", content=NOT_UTF8, headers=JSON)
        keyed = await client.post("/v1/predict", content=NOT_UTF8, headers={**JSON, **auth()})
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": "missing or invalid API key"}
    assert keyed.status_code == 400 and keyed.json()["detail"][0]["field"] == "body"


async def test_other_http_errors_keep_their_answers() -> None:
    async with running(create_app(Settings(api_keys=[KEY]), classifier=FakeClassifier())) as client:
        unauthorized = await client.get("/v1/info")
        missing = await client.get("/nowhere")
        explain = await client.post("/v1/explain", json={"notes": [{"id": "a", "text": "x"}]}, headers=auth())
    assert unauthorized.status_code == 401 and unauthorized.headers["www-authenticate"] == "Bearer"
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert explain.status_code == 501 and explain.json() == {"detail": "the served model cannot be explained"}
