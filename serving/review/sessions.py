"""Signed session cookies and CSRF tokens for the review pages (no server-side session store).

The cookie holds `{moderator, csrf, expires}` signed with HMAC-SHA256 under `NOTECHECK_SESSION_SECRET` (random
per process when unset, so a restart signs everyone out). Every form carries the session's CSRF token and every
POST checks it in constant time; the sign-in form, before there is a session, uses a double-submit cookie.
Cookies are `HttpOnly` and `SameSite=Strict`, and `Secure` when the browser came over https.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "notecheck_review"
LOGIN_COOKIE = "notecheck_login"
SESSION_SECONDS = 12 * 3600  # a working day: then sign in again


@dataclass(frozen=True)
class ReviewSession:
    moderator: str
    csrf: str
    expires: float


class SessionSigner:
    def __init__(self, secret: str | None) -> None:
        self._key = (secret or secrets.token_urlsafe(32)).encode("utf-8")

    def _sign(self, payload: bytes) -> str:
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(payload).decode() + "." + base64.urlsafe_b64encode(mac).decode()

    def _unsign(self, token: str) -> bytes | None:
        body, _, mac = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(body.encode())
            given = base64.urlsafe_b64decode(mac.encode())
        except (ValueError, UnicodeEncodeError):
            return None
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()
        return payload if hmac.compare_digest(given, expected) else None

    def start(self, response: Response, moderator: str, secure: bool) -> ReviewSession:
        session = ReviewSession(moderator, secrets.token_urlsafe(24), time.time() + SESSION_SECONDS)
        payload = json.dumps({"m": session.moderator, "c": session.csrf, "e": session.expires}).encode("utf-8")
        self._set(response, SESSION_COOKIE, self._sign(payload), SESSION_SECONDS, secure)
        response.delete_cookie(LOGIN_COOKIE, path="/review")
        return session

    def read(self, request: Request) -> ReviewSession | None:
        """The request's valid, unexpired session, or None."""
        token = request.cookies.get(SESSION_COOKIE)
        payload = self._unsign(token) if token else None
        if payload is None:
            return None
        try:
            data = json.loads(payload)
            session = ReviewSession(str(data["m"]), str(data["c"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/review")

    def login_token(self, request: Request) -> str:
        """The sign-in form's CSRF token: the browser's pending one, or a new one."""
        return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)

    def pend_login(self, response: Response, token: str, secure: bool) -> None:
        """Set the sign-in token as a short-lived cookie too (double submit: the form must carry the same)."""
        self._set(response, LOGIN_COOKIE, token, 3600, secure)

    def _set(self, response: Response, name: str, value: str, max_age: int, secure: bool) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/review", httponly=True, samesite="strict", secure=secure
        )


def is_https(request: Request) -> bool:
    """Whether the browser reached us over TLS (uvicorn reads X-Forwarded-Proto from a trusted local proxy):
    only then may cookies be `Secure`, or a plain-http browser would drop them and sign-in would never stick."""
    return request.url.scheme == "https"


def tokens_match(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())
