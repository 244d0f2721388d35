"""Security headers on every answer, and the Content-Security-Policy of the HTML pages.

Every answer says `X-Content-Type-Options: nosniff` (a JSON body holding someone's note is never sniffed into
HTML), `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY` (no page of ours is framed).

HTML answers also get a `Content-Security-Policy`. The default, `POLICY`, is strict: nothing loads, nothing
runs, forms post nowhere; only inline styles are allowed, because the explanation pages colour words with
`style=` attributes. A page that needs more builds its own policy from the same base and sets the header
itself; the middleware never replaces a policy a page set:

>>> review = content_security_policy({"script-src": ["'self'"], "form-action": ["'self'"]})
>>> review.split("; ")[-3:]
["form-action 'self'", "frame-ancestors 'none'", "script-src 'self'"]

FastAPI's interactive docs (`/docs`, `/redoc`) load Swagger UI and ReDoc from a CDN and run inline scripts;
they are left without a policy (`docs_pages`) rather than broken.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The strict base policy of every HTML page: directive -> allowed sources.
POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),  # no scripts, images, fonts, frames or fetches
    "style-src": ("'unsafe-inline'",),  # the pages' `style=` attributes
    "base-uri": ("'none'",),
    "form-action": ("'none'",),
    "frame-ancestors": ("'none'",),
}
#: Headers every answer carries.
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def content_security_policy(extra: Mapping[str, Sequence[str]] | None = None) -> str:
    """The `Content-Security-Policy` value of `POLICY` with `extra` sources allowed per directive.

    Sources extend a directive (its `'none'` goes); a directive `POLICY` lacks is added after the others.
    """
    directives = {name: list(sources) for name, sources in POLICY.items()}
    for name, sources in (extra or {}).items():
        kept = [s for s in directives.get(name, []) if s != "'none'"]
        directives[name] = kept + [s for s in sources if s not in kept]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def docs_pages(app: FastAPI) -> tuple[str, ...]:
    """The paths of FastAPI's own documentation pages (see the module docstring)."""
    return tuple(p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p)


class SecurityHeadersMiddleware:
    """Plain ASGI middleware: adds `HEADERS` to every answer and `policy` to HTML answers without one."""

    def __init__(self, app: ASGIApp, policy: str | None = None, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.policy = policy or content_security_policy()
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard_html = scope.get("path") not in self.exempt

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").lower().startswith("text/html")
                if html and guard_html:
                    headers.setdefault("Content-Security-Policy", self.policy)
                message["headers"] = headers.raw
            await send(message)

        await self.app(scope, receive, send_with_headers)
