"""The served OpenAPI document says what this deployment answers: every error status, its security, its
limits, and request schemas whose valid requests the server takes (see also `test_fuzz`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from serving_support import KEY, FakeClassifier, auth, running

from notecheck.model.kol.dates import date_problem
from notecheck.serving.app import create_app
from notecheck.serving.openapi import deployment_spec
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
KOL_WITH_BOOLEAN_LIKES = {"author_id": "a", "notes": [{"id": "n", "text": "x", "likes": False}]}
BODY_ROUTES = [("post", "/v1/predict"), ("post", "/v1/explain"), ("post", "/v1/kol/check"), ("post", "/predict")]


def spec(settings: Settings) -> dict[str, Any]:
    return create_app(settings, classifier=FakeClassifier()).openapi()


def responses(document: dict[str, Any], method: str, path: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_every_route_with_a_body_documents_each_status_it_answers(method: str, path: str) -> None:
    documented = responses(spec(Settings(api_keys=[KEY])), method, path)
    assert {"200", "400", "401", "413", "422", "503"} <= documented
    assert ("429" in documented) == (path != "/v1/explain")  # explanations do not queue in the batcher
    assert ("501" in documented) == (path == "/v1/explain")


def test_error_answers_are_documented_with_the_error_body() -> None:
    document = spec(Settings(api_keys=[KEY]))
    for method, path in [*BODY_ROUTES, ("get", "/v1/info")]:
        for status, answer in document["paths"][path][method]["responses"].items():
            if status.startswith(("4", "5")):
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorPublic"), (path, status)


def test_security_is_declared_only_when_api_keys_are_configured() -> None:
    keyless, keyed = spec(Settings()), spec(Settings(api_keys=[KEY]))
    assert "securitySchemes" not in keyless.get("components", {})
    assert keyed["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in keyless["paths"].items():
        for method, operation in operations.items():
            assert "security" not in operation and "401" not in operation["responses"], (method, path)
    protected = {path for path, ops in keyed["paths"].items() for op in ops.values() if "security" in op}
    assert protected == {"/v1/info", "/v1/predict", "/v1/explain", "/v1/kol/check", "/predict"}
    assert all("401" in keyed["paths"][path][m]["responses"] for m, path in BODY_ROUTES)


async def test_the_served_document_is_the_deployments() -> None:
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        served = (await client.get("/openapi.json")).json()
    assert served == spec(Settings()) and "security" not in served["paths"]["/v1/predict"]["post"]


def test_the_deployments_limits_are_in_the_request_schemas() -> None:
    settings = Settings(max_notes_per_request=5, max_note_chars=300, max_explain_notes=2, max_kol_notes=7)
    schemas = spec(settings)["components"]["schemas"]
    assert schemas["PredictRequest"]["properties"]["notes"]["maxItems"] == 5
    assert schemas["ExplainRequest"]["properties"]["notes"]["maxItems"] == 2
    assert schemas["KolCheckRequest"]["properties"]["notes"]["maxItems"] == 7
    assert schemas["NoteIn"]["properties"]["text"]["maxLength"] == 300
    assert schemas["NoteIn"]["properties"]["title"]["anyOf"][0]["maxLength"] == 300
    assert schemas["KolNoteIn"]["properties"]["text"]["maxLength"] == 300
    text, texts, batch = schemas["TeiPredictRequest"]["properties"]["inputs"]["anyOf"]
    assert text["maxLength"] == 300 and texts["maxItems"] == 5 and texts["items"]["maxLength"] == 300
    assert batch["maxItems"] == 5 and batch["items"]["maxItems"] == 1  # TEI's [[text], ...]: no text pairs


def test_a_limit_never_loosens_a_tighter_bound_of_the_schema() -> None:
    document = {"components": {"schemas": {"ExplainRequest": {"properties": {"notes": {"maxItems": 3}}}}}}
    bounded = deployment_spec(document, Settings(max_explain_notes=8))
    assert bounded["components"]["schemas"]["ExplainRequest"]["properties"]["notes"]["maxItems"] == 3
    assert document["components"]["schemas"]["ExplainRequest"]["properties"]["notes"]["maxItems"] == 3  # a copy


def test_kol_notes_need_text_and_each_id_once_in_the_schema() -> None:
    schemas = spec(Settings())["components"]["schemas"]
    text = schemas["KolNoteIn"]["properties"]["text"]
    assert text["minLength"] == 1 and text["pattern"] == r"\S"
    notes = schemas["KolCheckRequest"]["properties"]["notes"]
    assert notes["x-unique-by"] == "id" and "each `id` once" in notes["description"]
    rules = schemas["KolCheckRequest"]["properties"]["rules"]["anyOf"][0]
    assert rules["additionalProperties"] is False and rules["properties"]["window_days"]["minimum"] == 1
    assert rules["properties"]["private_order_min_p"] == {"type": "number", "minimum": 0, "maximum": 1}


async def test_a_kol_note_with_only_whitespace_is_refused_by_its_schema() -> None:
    body = {"author_id": "a", "notes": [{"id": "n1", "text": "\u3000 \n"}]}
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post("/v1/kol/check", json=body)
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"field": "body.notes.0.text", "msg": "Value error, empty text: only whitespace", "type": "value_error"}
    ]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/explain", {"notes": [{"id": "a", "text": "x"}], "top_k": True}, "body.top_k"),
        ("/v1/explain", {"notes": [{"id": "a", "text": "x"}], "top_k": "3"}, "body.top_k"),
        ("/predict", {"inputs": "x", "raw_scores": 0}, "body.raw_scores"),
        ("/predict", {"inputs": "x", "truncate": "yes"}, "body.truncate"),
        ("/v1/kol/check", KOL_WITH_BOOLEAN_LIKES, "body.notes.0.likes"),
    ],
)
async def test_numbers_and_flags_are_the_types_the_schema_says(path: str, body: dict[str, Any], field: str) -> None:
    async with running(create_app(Settings(api_keys=[KEY]), classifier=FakeClassifier())) as client:
        r = await client.post(path, json=body, headers=auth())
    assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == [field]


async def test_a_whole_number_written_with_a_decimal_point_is_an_integer() -> None:
    body = {"inputs": "新买的面霜", "parameters": {"top_k": 1.0}}
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        r = await client.post("/predict", json=body)
    assert r.status_code == 200 and len(r.json()) == 1 and len(r.json()[0]) == 1


@pytest.mark.parametrize("day", ["1999-12-31", "2000-01-01", "2099-12-31", "2100-01-01", "0001-01-05"])
def test_the_kol_date_pattern_says_the_range_the_server_takes(day: str) -> None:
    prop = spec(Settings())["components"]["schemas"]["KolNoteIn"]["properties"]["posted_at"]["anyOf"][0]
    by_schema = re.search(prop["pattern"], day) is not None
    assert by_schema == (date_problem(dt.date.fromisoformat(day)) is None)
    assert prop["format"] == "date"
