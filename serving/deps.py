"""Shared route dependencies as `Annotated` aliases, so every router (predict, explain, kol…) reads the
settings, metrics, model and batcher the same way, and is protected the same way.

A new router only needs::

    router = APIRouter(prefix="/v1", dependencies=PROTECTED)

    @router.post("/explain")
    async def explain(request: Request, body: ExplainRequest, model: ClassifierDep, settings: SettingsDep): ...
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from notecheck.serving.batcher import Batcher
from notecheck.serving.metrics import Metrics
from notecheck.serving.model_state import ModelState, Predictor
from notecheck.serving.routes.schemas import NoteIn, PredictRequest
from notecheck.serving.settings import Settings

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="an API key from NOTECHECK_API_KEYS")


class ClientDisconnected(Exception):
    """The client closed the connection before its answer was ready; its work was cancelled."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def get_model_state(request: Request) -> ModelState:
    return request.app.state.model  # type: ignore[no-any-return]


def get_classifier(request: Request) -> Predictor:
    """The ready model, or `ModelNotReady` (HTTP 503)."""
    return get_model_state(request).serving()[0]


def get_batcher(request: Request) -> Batcher:
    """The ready model's batcher, or `ModelNotReady` (HTTP 503)."""
    return get_model_state(request).serving()[1]


CONCURRENT_EXPLANATIONS = 1  # per process: the model already uses every core for one explanation


def explain_slots(request: Request) -> asyncio.Semaphore:
    """The process's explanation slots (made on first use: a semaphore belongs to the running loop), shared
    by `/v1/explain` and the review page, so explanations never compete with each other for the cores."""
    state = request.app.state
    if getattr(state, "explain_slots", None) is None:
        state.explain_slots = asyncio.Semaphore(CONCURRENT_EXPLANATIONS)
    return state.explain_slots  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ModelStateDep = Annotated[ModelState, Depends(get_model_state)]
ClassifierDep = Annotated[Predictor, Depends(get_classifier)]
BatcherDep = Annotated[Batcher, Depends(get_batcher)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def key_matches(given: str, keys: Sequence[SecretStr]) -> bool:
    """Constant-time comparison against every key (no early exit that would time which key is close)."""
    candidate = given.encode("utf-8")
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate, key.get_secret_value().encode("utf-8"))
    return found


def is_authorized(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """No keys configured (only allowed on loopback or on purpose, see `Settings`), or a matching key."""
    if not settings.api_keys:
        return True
    return credentials is not None and key_matches(credentials.credentials, settings.api_keys)


def require_api_key(request: Request, credentials: Credentials) -> None:
    """`Authorization: Bearer <key>` or HTTP 401 with `WWW-Authenticate: Bearer`."""
    if not is_authorized(get_settings(request), credentials):
        raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})


#: Router dependencies for everything under /v1 and /metrics.
PROTECTED = [Depends(require_api_key)]


async def request_is_authorized(request: Request) -> bool:
    """For error handlers: whether a request to a protected route carries a valid key (open routes: True)."""
    route = request.scope.get("route")
    protected = any(getattr(d, "dependency", None) is require_api_key for d in getattr(route, "dependencies", ()))
    return not protected or is_authorized(get_settings(request), await _bearer(request))


def check_note_limits(notes: Sequence[NoteIn], settings: Settings, loc: tuple[str, ...] = ("body", "notes")) -> None:
    """HTTP 422 naming each field over the deployment's limits, e.g. `body.notes.3.text`."""
    errors: list[dict[str, Any]] = []
    if len(notes) > settings.max_notes_per_request:
        errors.append(_error(loc, f"at most {settings.max_notes_per_request} notes per request, got {len(notes)}"))
    for i, note in enumerate(notes):
        for name in ("text", "title"):
            value = getattr(note, name) or ""
            if len(value) > settings.max_note_chars:
                msg = f"at most {settings.max_note_chars} characters, got {len(value)}"
                errors.append(_error((*loc, i, name), msg, "string_too_long"))
    if errors:
        raise RequestValidationError(errors)


def _error(loc: tuple[Any, ...], msg: str, kind: str = "too_long") -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def limited_predict_request(body: PredictRequest, settings: SettingsDep) -> PredictRequest:
    check_note_limits(body.notes, settings)
    return body


PredictRequestDep = Annotated[PredictRequest, Depends(limited_predict_request)]


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, but cancel it and raise `ClientDisconnected` if the client hangs up first.

    Servers do not cancel a handler when its client leaves; without this, a gone client's notes would
    still be scored. Only for routes that have read their whole body (the next message is the disconnect).
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the handler itself is cancelled (shutdown): so is the work
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task not in done and watcher.exception() is None:
        task.cancel()
        raise ClientDisconnected()
    return await task  # done, or the watcher broke (a server quirk): just wait for the answer


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
