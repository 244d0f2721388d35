"""Typed errors to HTTP answers, every body `{"detail": ...}` (see `schemas.ErrorPublic`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from notecheck.serving.batcher import BatcherClosed, PredictionFailed, QueueFull
from notecheck.serving.deps import ClientDisconnected, request_is_authorized
from notecheck.serving.model_state import ModelNotReady

log = logging.getLogger(__name__)
CLIENT_CLOSED = 499  # nginx's code for "client closed request": only ever seen in logs and metrics


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "notes", 3, "text")` -> `body.notes.3.text`."""
    return ".".join(str(part) for part in loc)


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 naming each bad field by its path (400 for malformed JSON). Inputs are never echoed: they can be
    megabytes of someone's note. An unauthenticated caller learns nothing but 401."""
    assert isinstance(exc, RequestValidationError)
    if not await request_is_authorized(request):
        return _unauthorized()
    errors = list(exc.errors())
    malformed = any(e.get("type") == "json_invalid" for e in errors)
    detail = []
    for e in errors:
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error", "")
            where = e["loc"][1] if len(e["loc"]) > 1 else "?"
            detail.append(
                {"field": "body", "msg": f"malformed JSON: {reason} (at character {where})", "type": e["type"]}
            )
        else:
            detail.append({"field": field_path(e["loc"]), "msg": e["msg"], "type": e["type"]})
    return JSONResponse({"detail": detail}, 400 if malformed else 422)


async def unreadable_body(request: Request, exc: Exception) -> Response:
    """A body FastAPI could not read as JSON (not UTF-8, say) answers like malformed JSON: 400 naming `body`.
    FastAPI raises those as a bare 400 from the decoding error; every other HTTPException keeps its answer."""
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None or isinstance(cause, StarletteHTTPException):
        return await http_exception_handler(request, exc)
    if not await request_is_authorized(request):
        return _unauthorized()
    if isinstance(cause, UnicodeDecodeError):
        reason = f"not UTF-8 ({cause.reason} at byte {cause.start})"
    else:
        reason = f"unreadable ({type(cause).__name__})"
    detail = [{"field": "body", "msg": f"malformed JSON: {reason}", "type": "json_invalid"}]
    return JSONResponse({"detail": detail}, 400)


def _unauthorized() -> Response:
    return JSONResponse({"detail": "missing or invalid API key"}, 401, headers={"WWW-Authenticate": "Bearer"})


async def queue_full(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueueFull)
    return JSONResponse({"detail": str(exc)}, 429, headers={"Retry-After": str(exc.retry_after)})


async def not_ready(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, 503, headers={"Retry-After": "1"})


async def prediction_failed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": "prediction failed; the error is in the server log"}, 500)


async def client_disconnected(request: Request, exc: Exception) -> Response:
    return Response(status_code=CLIENT_CLOSED)  # nobody reads it; the log line and metrics do


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, unreadable_body)
    app.add_exception_handler(QueueFull, queue_full)
    app.add_exception_handler(ModelNotReady, not_ready)
    app.add_exception_handler(BatcherClosed, not_ready)
    app.add_exception_handler(PredictionFailed, prediction_failed)
    app.add_exception_handler(ClientDisconnected, client_disconnected)
