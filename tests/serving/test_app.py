"""The API end to end through `create_app`: answers, errors, readiness, metrics, concurrency, load shedding."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from serving_support import FakeClassifier, body, fake_p, metric, running, until, wait_ready

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError, ModelLoadError
from notecheck.model.schema import Note
from notecheck.serving.app import create_app
from notecheck.serving.deps import PROTECTED
from notecheck.serving.routes import default_routers
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio


async def test_predict_answers_each_note_in_order_with_the_model_version() -> None:
    fake = FakeClassifier()
    notes = [
        {"id": "n1", "text": "新买的面霜用了一周，还不错"},
        {"id": "n2", "text": "Use my code ANNA15 for 15% off! #ad", "title": "Best serum"},
        {"id": "n3", "text": "Went hiking with my sister", "author_id": "u9", "lang": "en"},
    ]
    async with running(create_app(Settings(), classifier=fake)) as client:
        r = await client.post("/v1/predict", json={"notes": notes})
    assert r.status_code == 200
    out = r.json()
    assert out["model_version"] == "fake-1"
    assert [p["id"] for p in out["predictions"]] == ["n1", "n2", "n3"]
    assert [p["p_commercial"] for p in out["predictions"]] == [round(fake_p(n["text"]), 6) for n in notes]
    second = out["predictions"][1]
    assert second["disclosure"]["rating"] == "clear"
    marker = second["disclosure"]["markers"][0]
    assert notes[1]["text"][marker["start"] : marker["end"]] == marker["text"] == "#ad"
    assert second["action"] == "allow" and second["error"] is None and second["truncated"] is False
    assert set(second) == set(out["predictions"][0])  # one shape for every answer


async def test_a_blank_note_gets_its_own_error_and_the_others_are_answered() -> None:
    fake = FakeClassifier()
    notes = [{"id": "a", "text": "real note"}, {"id": "b", "text": " \n\t "}, {"id": "c", "text": "another"}]
    async with running(create_app(Settings(), classifier=fake)) as client:
        r = await client.post("/v1/predict", json={"notes": notes})
    assert r.status_code == 200
    a, b, c = r.json()["predictions"]
    assert b["id"] == "b" and b["error"] and b["verdict"] is None and b["p_commercial"] is None
    assert a["error"] is None and a["p_commercial"] == round(fake_p("real note"), 6)
    assert c["error"] is None and c["p_commercial"] == round(fake_p("another"), 6)
    assert fake.served_batches() == [["a", "c"]]  # the blank note never reached the model


def _notes(n: int, **change: Any) -> dict[str, Any]:
    notes: list[dict[str, Any]] = [{"id": str(i), "text": f"note {i}"} for i in range(n)]
    for key, value in change.items():
        index, field = key.split("_", 1)
        notes[int(index.lstrip("n"))][field] = value
    return {"notes": notes}


@pytest.mark.parametrize(
    ("payload", "field", "kind"),
    [
        (_notes(65), "body.notes", "too_long"),
        (_notes(5, n3_text="字" * 20_001), "body.notes.3.text", "string_too_long"),
        (_notes(2, n1_title="t" * 20_001), "body.notes.1.title", "string_too_long"),
        ({"notes": [{"text": "no id"}]}, "body.notes.0.id", "missing"),
        ({"notes": [{"id": "1", "txt": "typo"}]}, "body.notes.0.txt", "extra_forbidden"),
        ({"notes": [{"id": "1", "text": 5}]}, "body.notes.0.text", "string_type"),
        ({"notes": [{"id": "1", "text": "x", "lang": "fr"}]}, "body.notes.0.lang", "literal_error"),
        ({"notes": []}, "body.notes", "too_short"),
        ({}, "body.notes", "missing"),
    ],
)
async def test_invalid_requests_get_422_naming_the_field(payload: dict[str, Any], field: str, kind: str) -> None:
    fake = FakeClassifier()
    async with running(create_app(Settings(), classifier=fake)) as client:
        r = await client.post("/v1/predict", json=payload)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert {"field": field, "type": kind} in [{"field": d["field"], "type": d["type"]} for d in detail]
    assert "字字字" not in r.text and "ttt" not in r.text  # inputs are never echoed back
    assert fake.served_batches() == []


async def test_limits_follow_the_settings() -> None:
    settings = Settings(max_notes_per_request=2, max_note_chars=10, queue_max_notes=8)
    async with running(create_app(settings, classifier=FakeClassifier())) as client:
        too_many = await client.post("/v1/predict", json=_notes(3))
        too_long = await client.post("/v1/predict", json=_notes(2, n1_text="x" * 11))
        fine = await client.post("/v1/predict", json=_notes(2, n1_text="x" * 10))
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"] == "body.notes"
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["field"] == "body.notes.1.text"
    assert fine.status_code == 200


@pytest.mark.parametrize("content", [b'{"notes": [', b"not json", b'{"notes": [{"id": "1", "text": "x",}]}'])
async def test_malformed_json_is_400_with_a_json_body(content: bytes) -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post("/v1/predict", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["detail"][0]["field"] == "body" and "malformed JSON" in r.json()["detail"][0]["msg"]


async def test_readiness_waits_for_load_and_warm_up() -> None:
    loaded, warmed = threading.Event(), threading.Event()
    fake = FakeClassifier(gate=warmed)

    def slow_loader(settings: Settings) -> FakeClassifier:
        assert loaded.wait(10)
        return fake

    async with running(create_app(Settings(), loader=slow_loader), ready=False) as client:
        assert (await client.get("/healthz")).json() == {"status": "alive", "model_version": None, "detail": None}
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        early = await client.post("/v1/predict", json=body("early", 1))
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        assert (await client.get("/v1/info")).status_code == 503
        loaded.set()
        await until(fake.busy.is_set)  # loaded; the warm-up prediction is running
        assert (await client.get("/readyz")).status_code == 503
        warmed.set()
        await wait_ready(client)
        r = await client.get("/readyz")
        assert r.json() == {"status": "ready", "model_version": "fake-1", "detail": None}
        assert fake.batches == [["warm-up"]]
        assert (await client.post("/v1/predict", json=body("late", 1))).status_code == 200


async def test_a_model_that_fails_to_load_is_never_ready() -> None:
    def broken(settings: Settings) -> FakeClassifier:
        raise ModelLoadError("/models/x/model.safetensors", "missing")

    app = create_app(Settings(), loader=broken)
    async with running(app, ready=False) as client:
        await until(lambda: app.state.model.status == "failed")
        r = await client.get("/readyz")
        assert (await client.get("/healthz")).status_code == 200
    assert r.status_code == 503
    assert r.json()["status"] == "failed" and "model.safetensors: missing" in r.json()["detail"]


async def test_a_failed_load_is_reported_to_the_caller_and_a_slow_one_is_not() -> None:
    failures: list[BaseException] = []
    loaded = threading.Event()

    def slow_loader(settings: Settings) -> FakeClassifier:
        assert loaded.wait(10)
        return FakeClassifier()

    async with running(create_app(Settings(), loader=slow_loader, on_load_failure=failures.append), False) as client:
        for _ in range(3):  # the server answers while the model loads, and nobody is told to stop it
            assert (await client.get("/healthz")).status_code == 200
            await asyncio.sleep(0.05)
        loaded.set()
        await wait_ready(client)
    assert failures == []

    error = ModelLoadError("/models/x/model.safetensors", "weights do not load")

    def broken(settings: Settings) -> FakeClassifier:
        raise error

    app = create_app(Settings(), loader=broken, on_load_failure=failures.append)
    async with running(app, ready=False):
        await until(lambda: bool(failures))
        assert app.state.model.status == "failed"
    assert failures == [error]


def test_an_app_needs_a_model() -> None:
    with pytest.raises(ConfigError, match="NOTECHECK_MODEL_DIR"):
        create_app(Settings())


async def test_info_describes_the_model_and_limits() -> None:
    async with running(create_app(Settings(runtime="int8"), classifier=FakeClassifier())) as client:
        info = (await client.get("/v1/info")).json()
    assert info["model_version"] == "fake-1" and info["base_model"] == "fake-base"
    assert info["labels"] == ["genuine", "commercial"]
    assert info["thresholds"] == {"commercial": 0.5, "review": 0.5, "flag": 0.9}
    assert info["temperature"] == 1.5 and info["max_length"] == 64 and info["runtime"] == "int8"
    assert info["limits"]["max_notes_per_request"] == 64


async def test_metrics_count_requests_verdicts_and_batches() -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        await client.post("/v1/predict", json=body("m", 3))
        await client.post("/v1/predict", json={"notes": []})
        await client.get("/nowhere")
        r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert metric(text, "notecheck_http_requests_total", route="/v1/predict", status="200") == 1
    assert metric(text, "notecheck_http_requests_total", route="/v1/predict", status="422") == 1
    assert metric(text, "notecheck_http_requests_total", route="unmatched", status="404") == 1
    assert metric(text, "notecheck_http_request_seconds_count", route="/v1/predict") == 2
    verdicts = sum(metric(text, "notecheck_verdicts_total", verdict=v) for v in ("genuine", "undisclosed_ad"))
    assert verdicts == 3
    assert metric(text, "notecheck_batch_notes_count") >= 1 and metric(text, "notecheck_batch_notes_sum") == 3
    assert metric(text, "notecheck_queue_notes") == 0 and metric(text, "notecheck_ready") == 1


async def test_fifty_concurrent_clients_get_their_own_answers_from_shared_batches() -> None:
    fake = FakeClassifier(delay=0.005)
    async with running(create_app(Settings(batch_max_wait_ms=20), classifier=fake)) as client:
        bodies = [body(f"c{i}", 1 + i % 3) for i in range(50)]
        responses = await asyncio.gather(*(client.post("/v1/predict", json=b) for b in bodies))
        text = (await client.get("/metrics")).text
    for sent, r in zip(bodies, responses, strict=True):
        assert r.status_code == 200
        got = r.json()["predictions"]
        assert [p["id"] for p in got] == [n["id"] for n in sent["notes"]]
        assert [p["p_commercial"] for p in got] == [round(fake_p(n["text"]), 6) for n in sent["notes"]]
    batches = fake.served_batches()
    assert len(batches) < 50
    assert max(len({i.split("-")[0] for i in b if i}) for b in batches) > 1  # notes of several requests
    n_batches = metric(text, "notecheck_batch_requests_count")
    assert n_batches == len(batches) and metric(text, "notecheck_batch_requests_bucket", le="1.0") < n_batches


async def test_full_queue_answers_429_with_retry_after() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    settings = Settings(queue_max_notes=4, max_notes_per_request=4)
    app = create_app(settings, classifier=fake)
    gate.set()  # let the warm-up through
    async with running(app) as client:
        gate.clear()
        fake.busy.clear()
        busy = asyncio.ensure_future(client.post("/v1/predict", json=body("busy", 1)))
        await until(fake.busy.is_set)
        queued = asyncio.ensure_future(client.post("/v1/predict", json=body("queued", 4)))
        await until(lambda: app.state.model.batcher.depth == 4)
        refused = await client.post("/v1/predict", json=body("refused", 1))
        gate.set()
        assert [r.status_code for r in await asyncio.gather(busy, queued)] == [200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["detail"]
    assert not any("refused" in t for t in fake.texts)


async def test_a_client_that_hangs_up_is_not_scored() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    app = create_app(Settings(), classifier=fake)
    gate.set()
    async with running(app) as client:
        gate.clear()
        fake.busy.clear()
        busy = asyncio.ensure_future(client.post("/v1/predict", json=body("busy", 1)))
        await until(fake.busy.is_set)
        hang_up = asyncio.Event()
        sent = await _raw_request(app, json.dumps(body("gone", 2)).encode(), hang_up)
        await until(lambda: app.state.model.batcher.depth == 2)
        hang_up.set()
        messages = await sent
        gate.set()
        assert (await busy).status_code == 200
        after = await client.post("/v1/predict", json=body("after", 1))
        text = (await client.get("/metrics")).text
    assert messages[0]["status"] == 499
    assert after.status_code == 200
    assert not any("gone" in t for t in fake.texts)
    assert metric(text, "notecheck_dropped_notes") == 2


async def _raw_request(app: Any, payload: bytes, hang_up: asyncio.Event) -> asyncio.Future[list[dict[str, Any]]]:
    """POST /v1/predict as an ASGI server would, with a client that disconnects when `hang_up` is set."""
    pending = [{"type": "http.request", "body": payload, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/predict",
        "raw_path": b"/v1/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }

    async def call() -> list[dict[str, Any]]:
        await app(scope, receive, send)
        return sent

    return asyncio.ensure_future(call())


async def test_a_failing_model_gives_500_with_a_request_id() -> None:
    fake = FakeClassifier()
    async with running(create_app(Settings(), classifier=fake)) as client:
        fake.fail = True
        r = await client.post("/v1/predict", json=body("x", 2), headers={"X-Request-ID": "req-42"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "req-42"
    assert r.json() == {"detail": "prediction failed; the error is in the server log"}


async def test_extra_routers_plug_in_and_unhandled_errors_become_json_500() -> None:
    extra = APIRouter(prefix="/v1", dependencies=PROTECTED)

    @extra.get("/explode")
    async def explode() -> None:
        raise RuntimeError("bug")

    app = create_app(Settings(), classifier=FakeClassifier(), routers=[*default_routers(), extra])
    async with running(app) as client:
        r = await client.get("/v1/explode")
        ok = await client.post("/v1/predict", json=body("still", 1))
    assert r.status_code == 500 and r.json() == {"detail": "internal server error"} and r.headers["x-request-id"]
    assert ok.status_code == 200


async def test_the_real_tiny_model_through_the_default_loader(
    tiny_model_dir: Path, tiny_classifier: Classifier
) -> None:
    notes = [Note(text="今天去了新开的咖啡店，拿铁一般。", id="zh"), Note(text="Use my code ANNA15 #ad", id="en")]
    payload = {"notes": [{"id": n.id, "text": n.text} for n in notes]}
    async with running(create_app(Settings(model_dir=tiny_model_dir, runtime="fp32"))) as client:  # as `direct`
        r = await client.post("/v1/predict", json=payload)
        info = (await client.get("/v1/info")).json()
    direct = tiny_classifier.predict(notes)
    assert info["runtime"] == "fp32"
    got = r.json()
    assert r.status_code == 200 and got["model_version"] == "tiny-0" == info["model_version"]
    for answer, expected in zip(got["predictions"], direct, strict=True):
        assert answer["id"] == expected.id
        assert answer["p_commercial"] == pytest.approx(expected.p_commercial, abs=1e-5)
        assert (answer["verdict"], answer["n_tokens"]) == (expected.verdict, expected.n_tokens)
    assert info["max_length"] == 64 and info["base_model"] == "tiny-random-bert"


async def test_predictions_say_which_signals_moved_them(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    from notecheck.model.combiner import Combiner

    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    clf = Classifier.from_pretrained(target)
    clf.metadata.combiner = Combiner(bias=-0.5, model_weight=1.0, weights={"contact": 2.5, "price": 0.2}).to_dict()
    notes = [{"id": "a", "text": "用了21天毛孔变小，评论区扣1私信发"}, {"id": "b", "text": "周末和妈妈去公园"}]
    async with running(create_app(Settings(), classifier=clf)) as client:
        r = await client.post("/v1/predict", json={"notes": notes})
    a, b = r.json()["predictions"]
    assert [e["feature"] for e in a["signal_effects"]] == ["contact"] and a["signal_effects"][0]["logit"] == 2.5
    assert 0 < a["signal_effects"][0]["p_delta"] < 1 and a["p_commercial"] > a["p_model"]
    assert b["signal_effects"] == [] and b["p_commercial"] < b["p_model"]  # the bias alone pulls it down


async def test_a_lone_surrogate_is_refused_at_the_edge_and_other_clients_are_answered(
    tiny_classifier: Classifier,
) -> None:
    # "\ud800" is valid JSON but no tokenizer can encode it: it must not reach a batch shared with others
    poison = {"notes": [{"id": "bad", "text": "abc \ud800 def"}]}
    poison_title = {"notes": [{"id": "bad2", "text": "fine", "title": "x\udfff"}]}
    good = [{"notes": [{"id": f"g{i}", "text": f"周末去公园散步 {i}"}]} for i in range(4)]
    async with running(create_app(Settings(batch_max_wait_ms=50), classifier=tiny_classifier)) as client:
        answers = await asyncio.gather(
            *(
                # json.dumps escapes the surrogate as \\ud800, the way a client's JSON carries it
                client.post("/v1/predict", content=json.dumps(b), headers={"content-type": "application/json"})
                for b in [good[0], poison, good[1], poison_title, *good[2:]]
            )
        )
    codes = [r.status_code for r in answers]
    assert codes == [200, 422, 200, 422, 200, 200]
    assert answers[1].json()["detail"][0]["field"] == "body.notes.0.text"
    assert "lone surrogate at character 4" in answers[1].json()["detail"][0]["msg"]
    assert answers[3].json()["detail"][0]["field"] == "body.notes.0.title"
    assert [r.json()["predictions"][0]["id"] for r in (answers[0], answers[2])] == ["g0", "g1"]
