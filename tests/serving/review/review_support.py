"""Helpers for the review workspace tests: sign in through the real form, read a page's CSRF token, and
queue notes directly."""

from __future__ import annotations

import re

import httpx

from notecheck.model.classifier import Prediction
from notecheck.model.disclosure import rate
from notecheck.model.review.entries import Entry
from notecheck.model.schema import Note

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOTE_ID = re.compile(r'data-note-id="([^"]+)"')
HTMX = {"HX-Request": "true"}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def note_on(html: str) -> str | None:
    found = NOTE_ID.search(html)
    return found.group(1) if found else None


async def sign_in(client: httpx.AsyncClient, name: str = "alice", key: str = "") -> httpx.Response:
    page = await client.get("/review/login")
    assert page.status_code == 200
    return await client.post("/review/login", data={"csrf": csrf_of(page.text), "name": name, "key": key})


def entries(n: int, prefix: str = "n") -> list[Entry]:
    """`n` review notes, the earlier nearer the boundary (so claimed first)."""
    out = []
    for i in range(n):
        note = Note(
            text=f"{prefix}{i}: 私信我拿优惠码 DM me for the link", id=f"{prefix}{i}", lang="zh", author_id=f"a{i}"
        )
        p = 0.5 + 0.01 * i
        out.append(
            Entry(note, Prediction(note.id, p, "undisclosed_ad", "review", rate(note.text), False, 9), exposure=100)
        )
    return out
