"""A decision the server has answered survives `kill -9`: it is committed (and synced, on SQLite) first."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx
import pytest
from browser_support import serve_process
from sqlalchemy import select
from sqlalchemy.orm import Session

from notecheck.model.review.db import connect, forget_engines
from notecheck.model.review.tables import ReviewDecision, ReviewItem

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOTE = re.compile(r'data-note-id="([^"]+)"')


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    token = CSRF.search(client.get("/review/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/review/login", data={"csrf": token, "name": "ola"}).status_code == 303
    return client


def test_an_answered_decision_survives_kill_9(tmp_path: Path, tiny_model_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'review.db'}"
    env = {"NOTECHECK_DATABASE_URL": db, "NOTECHECK_REVIEW_EXPLAIN_METHOD": "none"}
    notes = [{"id": f"k{i}", "text": f"私信我拿优惠码 link in bio {i}"} for i in range(30)]
    with serve_process(tiny_model_dir, env) as (base, process):
        answer = httpx.post(f"{base}/v1/predict", json={"notes": notes, "enqueue": True}, timeout=60).json()
        assert answer["enqueued"]["added"] >= 1
        client = signed_in(base)
        page = client.get("/review").text
        note_id = NOTE.search(page).group(1)  # type: ignore[union-attr]
        with Session(connect(db)) as session:
            item_id = session.scalars(select(ReviewItem.id).where(ReviewItem.note_id == note_id)).one()
        form = {"csrf": CSRF.search(page).group(1), "item_id": item_id, "verdict": "undisclosed_ad"}  # type: ignore[union-attr]
        assert client.post("/review/decide", data=form, headers={"HX-Request": "true"}).status_code == 200
        process.send_signal(signal.SIGKILL)  # no shutdown, no flush: only what was committed remains
        process.wait(timeout=10)
    forget_engines()
    with Session(connect(db)) as session:
        saved = session.scalars(select(ReviewDecision)).one()
        status = session.scalars(select(ReviewItem.status).where(ReviewItem.id == item_id)).one()
    assert (saved.note_id, saved.verdict, saved.moderator, status) == (note_id, "undisclosed_ad", "ola", "decided")
    forget_engines()
    with serve_process(tiny_model_dir, env) as (base, _):  # after the crash the note is not handed out again
        assert note_id not in signed_in(base).get("/review").text
