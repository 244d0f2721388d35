"""The API against its own OpenAPI document (schemathesis): every operation of the spec, fuzzed in-process.

For each operation: no 5xx (`not_a_server_error`); answers conform to the documented schemas, statuses and
content types; requests the schema calls valid are answered 2xx (`positive_data_acceptance`), and requests it
calls invalid are refused (`negative_data_rejection`). Two deployments: keyless on loopback (the spec then
declares no security) and with API keys (schemathesis sends the key, and checks that leaving it out gets 401).

The spec is read at collection (one test per operation, whatever routes the app has then); each operation
runs against a fresh app with the tiny random classifier, its lifespan started and its model ready.
Bounded and deterministic: a fixed seed, at most `MAX_EXAMPLES` fuzzed requests per operation, small limits.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from serving_support import KEY, FakeClassifier

from notecheck.model.classifier import Classifier
from notecheck.serving.app import create_app
from notecheck.serving.routes.schemas import UNIQUE_BY
from notecheck.serving.settings import Settings

MAX_EXAMPLES = 30
# Small limits keep each request cheap (Integrated Gradients on many long notes is seconds of CPU); the
# spec carries them (`serving.openapi`), so generated valid requests stay within them.
LIMITS: dict[str, Any] = {
    "max_notes_per_request": 4,
    "max_note_chars": 400,
    "max_explain_notes": 2,
    "max_kol_notes": 4,
    # `"enqueue": true` writes to the review queue: a throwaway database, never ./notecheck.db
    "database_url": f"sqlite:///{Path(tempfile.mkdtemp(prefix='notecheck-fuzz-')) / 'review.db'}",
}
KEYLESS = Settings(**LIMITS)
KEYED = Settings(api_keys=[KEY], **LIMITS)
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def spec_of(deployment: Settings) -> dict[str, Any]:
    """The document the app serves at /openapi.json (it does not depend on the model)."""
    return create_app(deployment, classifier=FakeClassifier()).openapi()


def unique_by(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    """(METHOD, path) -> {body property: key its items must not share}, from the `x-unique-by` extension."""
    schemas = spec["components"]["schemas"]
    found: dict[tuple[str, str], dict[str, str]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = content.get("schema", {}).get("$ref", "")
            properties = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            keys = {name: prop[UNIQUE_BY] for name, prop in properties.items() if UNIQUE_BY in prop}
            if keys:
                found[(method.upper(), path)] = keys
    return found


def pages(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of operations that are not JSON APIs: a form body, or 2xx answers without JSON (HTML
    pages, such as the moderators' /review workspace should it ever be in the spec). Browsers read them, not
    a response schema: they are checked for server errors only."""
    found = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            sent = set(operation.get("requestBody", {}).get("content", {}))
            answered = [set(r.get("content", {})) for s, r in operation["responses"].items() if s.startswith("2")]
            if sent - {"application/json"} or any(kinds and "application/json" not in kinds for kinds in answered):
                found.add((method.upper(), path))
    return found


def fuzzed(deployment: Settings, **config: Any) -> Any:
    """A schemathesis schema of the deployment's spec, with the checks and generation of this module."""
    spec = spec_of(deployment)
    project = {
        "seed": 20240601,
        "generation": {"mode": "all"},
        # A loopback deployment answers nothing but 2xx to valid data (no 401, and no 429 at this load).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx"]}},
        **config,
    }
    schema = schemathesis.openapi.from_dict(spec, config=SchemathesisConfig.from_dict(project))
    repeated = unique_by(spec)

    @schema.hook("map_case")
    def each_key_once(context: Any, case: Case) -> Case:
        """`x-unique-by` is not JSON Schema, so the generator does not know it: valid requests get unique keys."""
        for name, key in repeated.get((case.method.upper(), case.path), {}).items():
            items = case.body.get(name) if isinstance(case.body, dict) else None
            if case.meta is not None and case.meta.generation.mode.is_positive and isinstance(items, list):
                _make_unique(items, key)
        return case

    return schema


def _make_unique(items: list[Any], key: str) -> None:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get(key), str):
            while item[key] in seen:
                item[key] = f"{item[key][:150]}~{i}"
            seen.add(item[key])


keyless = fuzzed(KEYLESS)
PAGES = pages(spec_of(KEYLESS))  # the same operations in both deployments
keyed = fuzzed(KEYED, auth={"openapi": {"HTTPBearer": {"bearer": KEY}}})


def serve(deployment: Settings, classifier: Classifier) -> Iterator[FastAPI]:
    """The app, its lifespan started (schemathesis keeps it for the test) and its model ready."""
    app = create_app(deployment, classifier=classifier)
    app.state.kol_reference = None  # the KOL routes' fixed defaults, not the bundled data's distribution
    with asgi.get_client(app) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the app never became ready"
            time.sleep(0.01)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def keyless_app(tiny_classifier: Classifier) -> Iterator[FastAPI]:
    yield from serve(KEYLESS, tiny_classifier)


@pytest.fixture
def keyed_app(tiny_classifier: Classifier) -> Iterator[FastAPI]:
    yield from serve(KEYED, tiny_classifier)


def call_and_validate(case: Case, app: FastAPI) -> None:
    """Send the case to `app` in-process and run every check; checks that send probes of their own (leaving
    the key out, say) reach the app through the operation's schema."""
    case.operation.app = case.operation.schema.app = app
    page = (case.method.upper(), case.path) in PAGES
    case.call_and_validate(checks=[not_a_server_error] if page else None)


@keyless.parametrize()
@HYPOTHESIS
def test_keyless_api_matches_its_spec(case: Case, keyless_app: FastAPI) -> None:
    call_and_validate(case, keyless_app)


@keyed.parametrize()
@HYPOTHESIS
def test_keyed_api_matches_its_spec(case: Case, keyed_app: FastAPI) -> None:
    call_and_validate(case, keyed_app)
