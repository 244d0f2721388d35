"""The OpenAPI document of one deployment: what this server answers, not what some server could.

FastAPI builds the document from the routes alone. Two things depend on the deployment's `Settings`:
- security: without API keys (a loopback server, or one behind an authenticating proxy) no route asks for
  a bearer token and none answers 401, so the document declares neither;
- limits: notes per request and characters per note follow `NOTECHECK_MAX_*`, so the request schemas carry
  this deployment's `maxItems` and `maxLength`, and a request the schema calls valid is one the server takes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from notecheck.serving.settings import Settings

Spec = dict[str, Any]


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` (and `/openapi.json`, `/docs`) serve `deployment_spec` of FastAPI's document."""
    build: Callable[[], Spec] = app.openapi

    def openapi() -> Spec:
        if getattr(app.state, "deployment_openapi", None) is None:
            app.state.deployment_openapi = deployment_spec(build(), settings)
        return app.state.deployment_openapi  # type: ignore[no-any-return]

    app.openapi = openapi  # type: ignore[method-assign]


def deployment_spec(spec: Spec, settings: Settings) -> Spec:
    """A copy of `spec` that says what a server with `settings` does (see the module docstring)."""
    spec = copy.deepcopy(spec)
    if not settings.api_keys:
        _without_security(spec)
    _with_limits(spec, settings)
    return spec


def _without_security(spec: Spec) -> None:
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            operation.pop("security", None)
            operation.get("responses", {}).pop("401", None)
    components = spec.get("components", {})
    components.pop("securitySchemes", None)


def _with_limits(spec: Spec, settings: Settings) -> None:
    """The deployment's limits on the request schemas that carry notes (a schema absent here is left alone)."""
    notes, chars = settings.max_notes_per_request, settings.max_note_chars
    limits: dict[tuple[str, str], tuple[int | None, int | None]] = {  # (schema, property): (maxItems, maxLength)
        ("PredictRequest", "notes"): (notes, None),
        ("ExplainRequest", "notes"): (settings.max_explain_notes, None),
        ("KolCheckRequest", "notes"): (settings.max_kol_notes, None),
        ("NoteIn", "text"): (None, chars),
        ("NoteIn", "title"): (None, chars),
        ("KolNoteIn", "text"): (None, chars),
        ("KolNoteIn", "title"): (None, chars),
        ("TeiPredictRequest", "inputs"): (notes, chars),
    }
    schemas = spec.get("components", {}).get("schemas", {})
    for (name, field), (max_items, max_chars) in limits.items():
        prop = schemas.get(name, {}).get("properties", {}).get(field)
        if prop is not None:
            _bound(prop, max_items, max_chars)


def _bound(schema: dict[str, Any], max_items: int | None, max_chars: int | None) -> None:
    """`maxItems` on every array and `maxLength` on every string of `schema` (through `anyOf` and `items`,
    not `$ref`), keeping any tighter bound it already has."""
    for branch in schema.get("anyOf", []):
        _bound(branch, max_items, max_chars)
    if isinstance(schema.get("items"), dict):
        _bound(schema["items"], max_items, max_chars)
    for kind, key, value in (("array", "maxItems", max_items), ("string", "maxLength", max_chars)):
        if value is not None and schema.get("type") == kind:
            schema[key] = min(value, schema.get(key, value))
