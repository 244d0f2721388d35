"""One access record per request (`notecheck.access` logger) and the request metrics, as plain ASGI middleware.

The record's fields travel as a dict (`extra={JSON_FIELDS: ...}`, see `serving.logs`), so the JSON formatter
writes them as JSON values beside `time`, `level`, `logger` and `message` ("POST /v1/predict 200"). They name
the request id (the client's `X-Request-ID` when it is sane, else a fresh one, echoed back in the response
header), method, route template, status, latency and number of notes. Note text appears only when the route
put it in `request.state.texts` (it does so only with `NOTECHECK_LOG_TEXT=true`).
Unhandled errors become a JSON 500 here, so they carry the request id and are counted like any other.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notecheck.serving.logs import JSON_FIELDS, JsonFormatter
from notecheck.serving.metrics import Metrics

ACCESS_LOGGER = "notecheck.access"
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")  # anything else could forge log lines or bloat them

access_log = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger(__name__)


def request_id(scope: Scope) -> str:
    given = Headers(scope=scope).get(REQUEST_ID_HEADER.lower(), "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The matched route's template (`/v1/predict`), never the raw path: bounded metric labels."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestLogMiddleware:
    """Outermost middleware: sees every response, including 413s and 500s."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status, started = 500, False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s (request %s)", scope["method"], route_of(scope), rid)
            if started:
                raise
            await JSONResponse({"detail": "internal server error"}, 500)(scope, receive, send_with_id)
        finally:
            self._record(scope, state, rid, status, time.perf_counter() - began)

    def _record(self, scope: Scope, state: dict[str, Any], rid: str, status: int, seconds: float) -> None:
        route = route_of(scope)
        line: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": rid,
            "method": scope["method"],
            "route": route,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
            "n_notes": state.get("n_notes"),
        }
        if "texts" in state:
            line["texts"] = state["texts"]
        access_log.info("%s %s %d", scope["method"], route, status, extra={JSON_FIELDS: line})
        if self.metrics is not None:
            self.metrics.observe_request(scope["method"], route, status, seconds)


def configure_access_log(stream: IO[str] | None = None) -> None:
    """Send access lines, one JSON object each, to `stream` (stderr), not through the root format.

    Only the access log: `serving.logs.uvicorn_log_config()` makes every logger of the server write JSON.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    access_log.handlers[:] = [handler]
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
