"""`POST /predict` (text-embeddings-inference's shape) through `create_app`, and through Hugging Face's client."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from serving_support import KEY, FakeClassifier, auth, fake_p, running

from notecheck.model.classifier import Classifier
from notecheck.serving.app import create_app
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
TEXTS = ["今天去了新开的咖啡店，拿铁一般", "Use my code ANNA15 for 15% off!", "周末带狗狗去公园"]
LONG = "今天去了新开的咖啡店，拿铁一般，环境不错。" * 20  # well over the tiny model's 64 tokens


def expected(text: str) -> list[dict[str, Any]]:
    """The fake model's answer for one text, highest score first."""
    p = round(fake_p(text), 6)
    pairs = [{"label": "genuine", "score": round(1 - p, 6)}, {"label": "commercial", "score": p}]
    return sorted(pairs, key=lambda s: s["score"], reverse=True)


async def post(body: dict[str, Any], settings: Settings | None = None, **kwargs: Any) -> httpx.Response:
    async with running(create_app(settings or Settings(), classifier=FakeClassifier())) as client:
        return await client.post("/predict", json=body, **kwargs)


async def test_one_text_gets_one_list_of_labels_highest_first_with_the_model_version() -> None:
    fake = FakeClassifier()
    async with running(create_app(Settings(), classifier=fake)) as client:
        r = await client.post("/predict", json={"inputs": TEXTS[1]})
        v1 = await client.post("/v1/predict", json={"notes": [{"id": "a", "text": TEXTS[1]}]})
    assert r.status_code == 200 and r.headers["x-model-version"] == "fake-1"
    assert r.json() == expected(TEXTS[1])
    by_label = {s["label"]: s["score"] for s in r.json()}
    assert by_label["commercial"] == v1.json()["predictions"][0]["p_commercial"]  # the same P as /v1/predict
    assert fake.served_batches() == [[None], ["a"]]  # both went through the batcher and `predict`


@pytest.mark.parametrize("inputs", [TEXTS, [[t] for t in TEXTS]])
async def test_a_batch_gets_a_list_per_text_in_input_order(inputs: list[Any]) -> None:
    r = await post({"inputs": inputs, "raw_scores": False, "truncate": True, "truncation_direction": "Right"})
    assert r.status_code == 200
    assert r.json() == [expected(t) for t in TEXTS]


async def test_hugging_face_parameters_give_a_list_per_input_and_top_k_keeps_the_best() -> None:
    plain = await post({"inputs": TEXTS[0], "parameters": {}})
    top = await post({"inputs": TEXTS, "parameters": {"function_to_apply": "softmax", "top_k": 1}})
    assert plain.status_code == 200 and plain.json() == [expected(TEXTS[0])]
    assert top.status_code == 200 and top.json() == [expected(t)[:1] for t in TEXTS]


async def test_raw_scores_are_the_fakes_uncalibrated_log_odds_centred() -> None:
    raw = await post({"inputs": TEXTS[0], "raw_scores": True})
    none = await post({"inputs": TEXTS[0], "parameters": {"function_to_apply": "none"}})
    p = fake_p(TEXTS[0])
    log_odds = 1.5 * math.log(p / (1 - p))  # the fake's temperature is 1.5
    scores = {s["label"]: s["score"] for s in raw.json()}
    assert scores == pytest.approx({"commercial": log_odds / 2, "genuine": -log_odds / 2}, abs=1e-6)
    assert none.json() == [raw.json()]


async def test_raw_scores_are_the_real_models_logits(tiny_classifier: Classifier) -> None:
    async with running(create_app(Settings(), classifier=tiny_classifier)) as client:
        r = await client.post("/predict", json={"inputs": TEXTS, "raw_scores": True})
    logits = tiny_classifier.scores(TEXTS).logits
    for answer, (genuine, commercial) in zip(r.json(), logits, strict=True):
        scores = {s["label"]: s["score"] for s in answer}
        assert scores["commercial"] - scores["genuine"] == pytest.approx(float(commercial - genuine), abs=1e-5)
        assert scores["commercial"] + scores["genuine"] == pytest.approx(0.0, abs=1e-6)


async def test_truncation_follows_truncate_and_truncation_direction(tiny_classifier: Classifier) -> None:
    async with running(create_app(Settings(), classifier=tiny_classifier)) as client:
        default = await client.post("/predict", json={"inputs": LONG})
        refused = await client.post("/predict", json={"inputs": [TEXTS[0], LONG], "truncate": False})
        left = await client.post("/predict", json={"inputs": LONG, "truncation_direction": "left"})
        short_left = await client.post("/predict", json={"inputs": TEXTS[0], "truncation_direction": "left"})
    assert default.status_code == 200 and len(default.json()) == 2
    assert refused.status_code == 422 and [d["field"] for d in refused.json()["detail"]] == ["body.inputs.1"]
    assert "truncate: true" in refused.json()["detail"][0]["msg"]
    assert left.status_code == 422 and left.json()["detail"][0]["field"] == "body.inputs"
    assert short_left.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": 5}, "body.inputs"),
        ({}, "body.inputs"),
        ({"inputs": []}, "body.inputs"),
        ({"inputs": [["a question", "a passage"]]}, "body.inputs.0"),
        ({"inputs": ["fine", "  "]}, "body.inputs.1"),
        ({"inputs": " "}, "body.inputs"),
        ({"inputs": "x", "parameters": {"top_k": 0}}, "body.parameters.top_k"),
        ({"inputs": "x", "parameters": {"function_to_apply": "sigmoid"}}, "body.parameters.function_to_apply"),
        ({"inputs": "x", "raw_scores": True, "parameters": {"function_to_apply": "softmax"}}, "body.parameters"),
        ({"inputs": "x", "truncation_direction": "middle"}, "body.truncation_direction"),
        ({"inputs": "x", "normalize": True}, "body.normalize"),
    ],
)
async def test_invalid_requests_are_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    r = await post(body)
    assert r.status_code == 422
    assert any(d["field"].startswith(field) for d in r.json()["detail"]), r.json()


async def test_limits_follow_the_settings() -> None:
    settings = Settings(max_notes_per_request=2, max_note_chars=10)
    too_many = await post({"inputs": ["a", "b", "c"]}, settings)
    too_long = await post({"inputs": ["short", "much too long for ten"]}, settings)
    one_too_long = await post({"inputs": "much too long for ten"}, settings)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"] == "body.inputs"
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["field"] == "body.inputs.1"
    assert one_too_long.json()["detail"][0] == {
        "field": "body.inputs",
        "msg": "at most 10 characters, got 21",
        "type": "string_too_long",
    }


async def test_api_keys_are_required_like_v1() -> None:
    settings = Settings(api_keys=[KEY])
    async with running(create_app(settings, classifier=FakeClassifier())) as client:
        missing = await client.post("/predict", json={"inputs": "x"})
        wrong = await client.post("/predict", json={"inputs": "x"}, headers=auth("wrong-key-0123456789abcdef"))
        invalid_unauthenticated = await client.post("/predict", json={"inputs": 5})
        ok = await client.post("/predict", json={"inputs": "x"}, headers=auth())
    for r in (missing, wrong, invalid_unauthenticated):
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert ok.status_code == 200


async def test_the_route_is_in_openapi() -> None:
    async with running(create_app(Settings(api_keys=[KEY]), classifier=FakeClassifier())) as client:
        schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/predict"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/TeiPredictRequest")
    assert set(operation["responses"]) == {"200", "400", "401", "413", "422", "429", "503"}
    fields = schema["components"]["schemas"]["TeiPredictRequest"]["properties"]
    assert set(fields) == {"inputs", "raw_scores", "truncate", "truncation_direction", "parameters"}


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 (a free port), in a thread; yields its base URL once ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (server.started and httpx.get(f"{url}/readyz").status_code == 200):
            assert thread.is_alive() and time.monotonic() < deadline, "server never became ready"
            time.sleep(0.02)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_hugging_face_inference_client_against_a_live_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import InferenceClient, constants
    from huggingface_hub.errors import HfHubHTTPError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the tests' offline mode blocks even 127.0.0.1
    with live_server(create_app(Settings(api_keys=[KEY]), classifier=FakeClassifier())) as url:
        client = InferenceClient(base_url=f"{url}/predict", api_key=KEY)
        answer = client.text_classification(TEXTS[1])
        top = client.text_classification(TEXTS[1], top_k=1, function_to_apply="softmax")
        with pytest.raises(HfHubHTTPError) as refused:
            InferenceClient(base_url=f"{url}/predict", api_key="wrong-key-0123456789abcdef").text_classification("x")
    assert [(e.label, e.score) for e in answer] == [(s["label"], s["score"]) for s in expected(TEXTS[1])]
    assert [(e.label, e.score) for e in top] == [(answer[0].label, answer[0].score)]
    assert refused.value.response.status_code == 401
