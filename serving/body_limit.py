"""Refuse request bodies over `NOTECHECK_MAX_BODY_BYTES` with HTTP 413, before they are parsed.

The declared `Content-Length` is checked first; the bytes actually streamed are counted too, because a
chunked body declares no length and a declared length can lie.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the limit of {limit} bytes")


class InvalidContentLength(HTTPException):
    def __init__(self) -> None:
        super().__init__(400, "invalid Content-Length")


class BodyLimitMiddleware:
    """Plain ASGI middleware (no buffering): refuses on the header, or as soon as the count passes the limit.

    A request refused on its header still goes through the app's routing, with a body that cannot be read
    (its first read raises) and an answer that is dropped: so the request log counts the 413 under the route
    it was sent to, while not one byte of the body is read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._refused_by_header(Headers(scope=scope).get("content-length"))
        received, started = 0, False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused is not None:
                raise refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = BodyTooLarge(self.max_bytes)
                    raise refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # whatever the app made of the refused read, the answer is ours
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if refused is None:
                raise
        if refused is not None and not started:
            await JSONResponse({"detail": refused.detail}, refused.status_code)(scope, receive, send)

    def _refused_by_header(self, declared: str | None) -> HTTPException | None:
        if declared is None:
            return None
        if not declared.isdigit():
            return InvalidContentLength()
        return BodyTooLarge(self.max_bytes) if int(declared) > self.max_bytes else None
