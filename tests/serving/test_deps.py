"""Access control: bearer keys on /v1/* and /metrics, compared in constant time; health checks stay open."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from serving_support import KEY, OTHER_KEY, FakeClassifier, auth, body, running

from notecheck.serving.app import create_app
from notecheck.serving.deps import key_matches
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio


def keyed() -> Settings:
    return Settings(host="0.0.0.0", api_keys=[KEY, OTHER_KEY])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789abcdef"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": KEY},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": "Bearer ключ-0123456789abcdef".encode()},  # non-ASCII: 401, not a crash
    ],
)
async def test_protected_routes_refuse_without_a_valid_key(headers: dict[str, str]) -> None:
    fake = FakeClassifier()
    async with running(create_app(keyed(), classifier=fake)) as client:
        answers = [
            await client.post("/v1/predict", json=body("x", 1), headers=headers),
            await client.get("/v1/info", headers=headers),
            await client.get("/metrics", headers=headers),
        ]
    for r in answers:
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"detail": "missing or invalid API key"}
    assert fake.served_batches() == []


async def test_every_configured_key_works_and_health_checks_are_open() -> None:
    async with running(create_app(keyed(), classifier=FakeClassifier())) as client:
        for key in (KEY, OTHER_KEY):
            assert (await client.post("/v1/predict", json=body("x", 1), headers=auth(key))).status_code == 200
            assert (await client.get("/v1/info", headers=auth(key))).status_code == 200
            assert (await client.get("/metrics", headers=auth(key))).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    ("content", "ok_status"),
    [(b"{broken", 400), (b'{"notes": [{"text": "no id"}]}', 422), (b'{"notes": []}', 422)],
)
async def test_bad_bodies_from_strangers_get_401_not_validation_details(content: bytes, ok_status: int) -> None:
    headers = {"content-type": "application/json"}
    async with running(create_app(keyed(), classifier=FakeClassifier())) as client:
        stranger = await client.post("/v1/predict", content=content, headers=headers)
        member = await client.post("/v1/predict", content=content, headers={**headers, **auth()})
    assert stranger.status_code == 401 and stranger.headers["www-authenticate"] == "Bearer"
    assert member.status_code == ok_status


async def test_without_keys_loopback_is_open() -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        assert (await client.post("/v1/predict", json=body("x", 1))).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


def test_key_matches_checks_every_key() -> None:
    keys = [SecretStr(KEY), SecretStr(OTHER_KEY)]
    assert key_matches(KEY, keys) and key_matches(OTHER_KEY, keys)
    assert not key_matches(KEY[:-1], keys) and not key_matches("", keys) and not key_matches(KEY, [])
