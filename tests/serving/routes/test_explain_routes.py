"""`POST /v1/explain` through `create_app`: answers, limits and errors, HTML, and that it is wired in."""

from __future__ import annotations

from pathlib import Path

import pytest
from explain_support import CODE, CODE_WORD, HELD_OUT, code_model_dir
from serving_support import KEY, FakeClassifier, auth, running

from notecheck.model.classifier import Classifier
from notecheck.model.schema import Note
from notecheck.serving.app import create_app
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def code_classifier(tiny_model_dir: Path) -> Classifier:
    return Classifier.from_pretrained(code_model_dir(tiny_model_dir))


def note(i: int, text: str, **extra: str) -> dict[str, str]:
    return {"id": f"n{i}", "text": text, **extra}


async def test_explains_each_note_with_evidence_signals_and_version(code_classifier: Classifier) -> None:
    notes = [note(0, HELD_OUT[0] + CODE), note(1, "私信我拿优惠码，冲！", title="好物 X200")]
    async with running(create_app(Settings(), classifier=code_classifier)) as client:
        r = await client.post("/v1/explain", json={"notes": notes, "top_k": 3})
    assert r.status_code == 200
    out = r.json()
    assert out["model_version"] == "tiny-code-1" and out["method"] == "ig" and "log-odds" in out["target"]
    first, second = out["explanations"]
    assert [first["id"], second["id"]] == ["n0", "n1"]
    expected = code_classifier.predict([Note(text=notes[1]["text"], title="好物 X200")])[0]
    assert second["p_commercial"] == round(expected.p_commercial, 6) and second["verdict"] == expected.verdict
    assert first["evidence"][0]["text"] == CODE_WORD and len(first["evidence"]) <= 3
    for answer, sent in ((first, notes[0]), (second, notes[1])):
        for item in answer["evidence"] + answer["signals"]:
            assert sent[item["field"]][item["start"] : item["end"]] == item["text"]
    kinds = {(s["kind"], s["field"], s["text"]) for s in second["signals"]}
    assert {("funnel", "text", "私信我拿"), ("product", "title", "X200"), ("call_to_action", "text", "冲！")} <= kinds
    assert first["model_version"] == "tiny-code-1" and first["error"] is None and first["verdict"]
    assert first["completeness_gap"] is not None and set(first) == set(second)


async def test_nine_notes_is_422_naming_the_field(code_classifier: Classifier) -> None:
    notes = [note(i, "周末去公园") for i in range(9)]
    async with running(create_app(Settings(), classifier=code_classifier)) as client:
        r = await client.post("/v1/explain", json={"notes": notes})
        ok = await client.post("/v1/explain", json={"notes": notes[:8], "method": "grad_x_input"})
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["detail"]] == ["body.notes"]
    assert ok.status_code == 200 and len(ok.json()["explanations"]) == 8


async def test_the_explain_limit_is_a_deployment_setting(code_classifier: Classifier) -> None:
    notes = [note(i, "周末去公园") for i in range(3)]
    settings = Settings(max_explain_notes=2)
    async with running(create_app(settings, classifier=code_classifier)) as client:
        r = await client.post("/v1/explain", json={"notes": notes, "method": "grad_x_input"})
        ok = await client.post("/v1/explain", json={"notes": notes[:2], "method": "grad_x_input"})
    assert r.status_code == 422 and "at most 2 notes" in r.json()["detail"][0]["msg"]
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notes": []}, "body.notes"),
        ({"notes": [{"id": "a", "text": "x"}], "method": "lime"}, "body.method"),
        ({"notes": [{"id": "a", "text": "x"}], "top_k": 0}, "body.top_k"),
        ({"notes": [{"id": "a"}]}, "body.notes.0.text"),
    ],
)
async def test_invalid_fields_are_422(code_classifier: Classifier, body: dict[str, object], field: str) -> None:
    async with running(create_app(Settings(), classifier=code_classifier)) as client:
        r = await client.post("/v1/explain", json=body)
    assert r.status_code == 422 and field in [d["field"] for d in r.json()["detail"]]


async def test_note_over_the_character_limit_is_422(code_classifier: Classifier) -> None:
    async with running(create_app(Settings(max_note_chars=20), classifier=code_classifier)) as client:
        r = await client.post("/v1/explain", json={"notes": [note(0, "周末去公园" * 5)]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.notes.0.text"


async def test_an_empty_note_gets_its_own_error(code_classifier: Classifier) -> None:
    notes = [note(0, "  \n "), note(1, HELD_OUT[2] + CODE)]
    async with running(create_app(Settings(), classifier=code_classifier)) as client:
        r = await client.post("/v1/explain", json={"notes": notes, "method": "occlusion"})
    assert r.status_code == 200
    blank, real = r.json()["explanations"]
    assert blank["error"] and blank["verdict"] is None and blank["evidence"] == [] and blank["method"] == "occlusion"
    assert real["error"] is None and real["evidence"] and real["method"] == "occlusion"


async def test_html_format_highlights_each_note(code_classifier: Classifier) -> None:
    notes = [note(0, "<b>bold</b> " + HELD_OUT[0] + CODE), note(1, " ")]
    async with running(create_app(Settings(), classifier=code_classifier)) as client:
        r = await client.post("/v1/explain?format=html", json={"notes": notes})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert page.startswith("<!doctype html>") and page.count('class="notecheck-explanation"') == 1
    assert "<b>bold" not in page and "&lt;" in page and "background:rgba(220,38,38," in page
    assert "not explained" in page and "n1" in page


async def test_needs_the_api_key_and_a_real_classifier(code_classifier: Classifier) -> None:
    body = {"notes": [note(0, "周末去公园")]}
    async with running(create_app(Settings(api_keys=[KEY]), classifier=code_classifier)) as client:
        assert (await client.post("/v1/explain", json=body)).status_code == 401
        assert (await client.post("/v1/explain", json=body, headers=auth())).status_code == 200
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post("/v1/explain", json=body)
    assert r.status_code == 501 and "cannot be explained" in r.json()["detail"]


async def test_the_default_app_serves_explain_beside_predict(code_classifier: Classifier) -> None:
    app = create_app(Settings(), classifier=code_classifier)
    assert "/v1/explain" in app.openapi()["paths"]
    async with running(app) as client:
        r = await client.post("/v1/predict", json={"notes": [note(0, HELD_OUT[0] + CODE)]})
    assert r.status_code == 200
