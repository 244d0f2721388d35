"""The `/review` pages: sign in, the queue one note at a time, decide / skip / undo, and `/review/stats`.

Every POST carries the session's CSRF token. A request from htmx (`HX-Request`) gets the workspace fragment
back; a plain form post is redirected to `/review` (post/redirect/get), so the page works without JavaScript.
Database work runs in worker threads; a decision is committed before the answer is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import SecretStr

from notecheck.model.review.export import review_stats
from notecheck.model.review.queue import ReviewError, ReviewQueue
from notecheck.model.review.tables import ReviewItem
from notecheck.serving.deps import key_matches
from notecheck.serving.review.evidence import ensure_evidence, evidence_note
from notecheck.serving.review.render import field_html, signal_rows, top_evidence
from notecheck.serving.review.sessions import LOGIN_COOKIE, ReviewSession, is_https, tokens_match
from notecheck.serving.review.state import ReviewState, review_state

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = {name: HERE / "static" / name for name in ("htmx.min.js", "review.js", "review.css")}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FLASH = {
    "decided": ("Saved.", "ok"),
    "skipped": ("Skipped: it goes to someone else.", "ok"),
    "undone": ("Undone: the note is back for you to decide again.", "ok"),
    "nothing": ("Nothing of yours to undo.", ""),
    "conflict": ("That note was decided or taken by another moderator meanwhile: here is the next one.", ""),
}
MAX_NAME = 64

router = APIRouter(prefix="/review", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
State = Annotated[ReviewState, Depends(review_state)]


def _session(request: Request, state: State) -> ReviewSession:
    """The signed-in moderator, or off to the sign-in page (htmx is told by `HX-Redirect`: it would otherwise
    follow a redirect silently and put the sign-in page inside the workspace)."""
    session = state.signer.read(request)
    if session is None:
        if _htmx(request):
            raise HTTPException(401, "signed out", headers={"HX-Redirect": "/review/login"})
        raise HTTPException(303, "sign in first", headers={"Location": "/review/login"})
    return session


Session = Annotated[ReviewSession, Depends(_session)]


def _checked(session: Session, csrf: Annotated[str, Form()] = "") -> ReviewSession:
    """The session, if the form carries its CSRF token; otherwise 403 (htmx reloads the page: `HX-Refresh`)."""
    if not tokens_match(csrf, session.csrf):
        raise HTTPException(403, "invalid or missing CSRF token: reload the page", headers={"HX-Refresh": "true"})
    return session


Checked = Annotated[ReviewSession, Depends(_checked)]


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    if name not in STATIC:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC[name], headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
async def login_page(request: Request, state: State) -> Response:
    if state.signer.read(request) is not None:
        return RedirectResponse("/review", 303)
    return _login(request, state)


def _login(request: Request, state: State, error: str = "", name: str = "", status: int = 200) -> Response:
    settings = state.settings
    token = state.signer.login_token(request)
    context: dict[str, Any] = {"needs_key": settings.review_auth_enabled, "needs_name": not settings.moderator_keys}
    context.update(error=error, name=name, moderator=None, login_csrf=token)
    response = _page(request, "login.html", context, status)
    state.signer.pend_login(response, token, is_https(request))
    return response


@router.post("/login")
async def login(
    request: Request,
    state: State,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
) -> Response:
    if not tokens_match(csrf, request.cookies.get(LOGIN_COOKIE)):
        return _login(request, state, "The sign-in form expired: please try again.", name, 403)
    moderator, error = _who(state, name.strip(), key.strip())
    if moderator is None:
        log.warning("review sign-in refused: %s", error)
        return _login(request, state, error, name, 401)
    response = RedirectResponse("/review", 303)
    state.signer.start(response, moderator, is_https(request))
    log.info("review sign-in: %s", moderator)
    return response


def _who(state: ReviewState, name: str, key: str) -> tuple[str | None, str]:
    """The moderator's name, or None and why not. A moderator key names its holder; an API key (or no key,
    where the server needs none) signs in under the name typed."""
    settings = state.settings
    if settings.review_auth_enabled:
        names = settings.moderator_names()
        for known, holder in names.items():
            if key and key_matches(key, [SecretStr(known)]):
                return holder, ""
        if not (key and key_matches(key, settings.api_keys)):
            return None, "That key is not a moderator key or an API key of this server."
    if not name or len(name) > MAX_NAME or not name.isprintable():
        return None, f"Enter your name (1 to {MAX_NAME} printable characters): it is recorded with every decision."
    if name.casefold() in {n.casefold() for n in settings.moderator_names().values()}:
        return None, f"{name!r} is the name of a moderator key: sign in with that key."  # no impersonation
    return name, ""


@router.post("/logout")
async def logout(state: State, session: Checked) -> Response:
    response = RedirectResponse("/review/login", 303)
    state.signer.end(response)
    return response


@router.get("")
async def workspace(request: Request, state: State, session: Session, flash: str = "") -> Response:
    context = await _workspace(request, state, session, flash)
    return _page(request, "review.html", context)


async def _workspace(
    request: Request, state: ReviewState, session: ReviewSession, flash: str = "", error: str = ""
) -> dict[str, Any]:
    """The workspace's context: the moderator's next note and progress, and a message: one of `FLASH` (the
    query string can only pick those), or `error` (what a refused decision said)."""
    queue = await state.queue()
    item = await asyncio.to_thread(queue.claim, session.moderator)
    if item is not None:
        item = await ensure_evidence(request, queue, item)
    progress = await asyncio.to_thread(queue.progress, session.moderator)
    message, kind = (error, "") if error else FLASH.get(flash, ("", ""))
    context: dict[str, Any] = {
        "moderator": session.moderator,
        "csrf": session.csrf,
        "progress": progress,
        "item": item,
        "flash": message,
        "flash_kind": kind,
    }
    if item is not None:
        context.update(_item_context(request, item))
    return context


def _item_context(request: Request, item: ReviewItem) -> dict[str, Any]:
    towards, against = top_evidence(item)
    return {
        "title_html": field_html(item, "title"),
        "text_html": field_html(item, "text"),
        "towards": towards,
        "against": against,
        "effects": signal_rows(item),
        "evidence_note": evidence_note(request, item),
    }


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def _run(
    request: Request, state: ReviewState, session: ReviewSession, work: Callable[[ReviewQueue], object], done: str
) -> Response:
    """Do `work` on the queue, then answer with the next workspace: htmx gets the fragment (409 with the
    reason when the queue refused), a plain form post is redirected (post/redirect/get)."""
    queue = await state.queue()
    flash, error, status = done, "", 200
    try:
        if await asyncio.to_thread(work, queue) is False:
            flash = "nothing"
    except ReviewError as exc:
        flash, error, status = "conflict", str(exc), 409
    if not _htmx(request):
        return RedirectResponse(f"/review?flash={flash}", 303)
    context = await _workspace(request, state, session, flash, error)
    return _page(request, "_workspace.html", context, status)


@router.post("/decide")
async def decide(
    request: Request,
    state: State,
    session: Checked,
    item_id: Annotated[int, Form()],
    verdict: Annotated[str, Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return await _run(
        request, state, session, lambda q: q.decide(item_id, session.moderator, verdict, comment), "decided"
    )


@router.post("/skip")
async def skip(request: Request, state: State, session: Checked, item_id: Annotated[int, Form()]) -> Response:
    return await _run(request, state, session, lambda q: q.skip(item_id, session.moderator), "skipped")


@router.post("/undo")
async def undo(request: Request, state: State, session: Checked) -> Response:
    return await _run(request, state, session, lambda q: q.undo(session.moderator) is not None, "undone")


@router.get("/stats")
async def stats_page(request: Request, state: State, session: Session) -> Response:
    from notecheck.serving.review.plots import stats_plots

    queue = await state.queue()
    stats = await asyncio.to_thread(review_stats, queue.engine)
    plots = await asyncio.to_thread(stats_plots, stats)
    context = {"moderator": session.moderator, "csrf": session.csrf, "stats": stats, "plots": plots, "pct": _pct}
    return _page(request, "stats.html", context)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"
