"""The /review pages through the app: sign-in (keys, names, CSRF), deciding with htmx and without,
leases between moderators, security headers, the stats page, and queueing from /v1/predict."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from review_support import HTMX, csrf_of, entries, note_on, sign_in
from serving_support import FakeClassifier, running
from sqlalchemy import select
from sqlalchemy.orm import Session

from notecheck.model.review.db import connect, forget_engines
from notecheck.model.review.queue import ReviewQueue
from notecheck.model.review.tables import ReviewDecision, ReviewItem
from notecheck.serving.app import create_app
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
MOD_KEY = "moderator-key-0123456789"
API_KEY = "api-key-0123456789abcdef"


@pytest.fixture
def db(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'review.db'}"
    yield url
    forget_engines()


def app_for(db: str, classifier: Any = None, **settings: Any) -> Any:
    """The app on `db`; claims follow priority order unless a test asks for audit draws (an unseeded 5 %
    audit share would make "the next note" a coin toss)."""
    settings.setdefault("review_audit_share", 0.0)
    return create_app(Settings(database_url=db, **settings), classifier=classifier or FakeClassifier())


def fill(db: str, n: int = 3) -> ReviewQueue:
    queue = ReviewQueue(connect(db))
    queue.enqueue(entries(n), 0.5, "fake-1", "test")
    return queue


async def test_pages_need_a_session(db: str) -> None:
    async with running(app_for(db)) as client:
        page = await client.get("/review")
        assert page.status_code == 303 and page.headers["location"] == "/review/login"
        partial = await client.post("/review/undo", headers=HTMX, data={"csrf": "x"})
        assert partial.status_code == 401 and partial.headers["hx-redirect"] == "/review/login"
        assert (await client.get("/review/stats")).status_code == 303


async def test_sign_in_needs_the_form_token_and_a_name_without_keys(db: str) -> None:
    async with running(app_for(db)) as client:
        forged = await client.post("/review/login", data={"csrf": "guess", "name": "mallory"})
        assert forged.status_code == 403 and "expired" in forged.text
        nameless = await sign_in(client, name="")
        assert nameless.status_code == 401 and "Enter your name" in nameless.text
        ok = await sign_in(client, name="alice")
        assert ok.status_code == 303 and "notecheck_review" in ok.headers["set-cookie"]
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert 'id="moderator">alice<' in (await client.get("/review")).text


async def test_keys_name_their_holder(db: str) -> None:
    app = app_for(db, moderator_keys=[f"carol:{MOD_KEY}"], api_keys=[API_KEY])
    async with running(app) as client:
        assert (await sign_in(client, "eve", "wrong-key-0123456789")).status_code == 401
        assert (await sign_in(client, "", API_KEY)).status_code == 401  # an API key needs a typed name
        assert (await sign_in(client, "Carol", API_KEY)).status_code == 401  # nor may it borrow a key holder's
        assert (await sign_in(client, "mallory", MOD_KEY)).status_code == 303
        assert 'id="moderator">carol<' in (await client.get("/review")).text  # the key names its holder
        client.cookies.clear()
        assert (await sign_in(client, "dan", API_KEY)).status_code == 303
        assert 'id="moderator">dan<' in (await client.get("/review")).text


async def test_deciding_with_htmx_and_without(db: str) -> None:
    fill(db, 3)
    async with running(app_for(db)) as client:
        await sign_in(client)
        page = await client.get("/review")
        first, csrf = note_on(page.text), csrf_of(page.text)
        assert first == "n0" and "3</b> open" in page.text
        item_id = _item_id(db, first)
        no_token = await client.post("/review/decide", data={"item_id": item_id, "verdict": "genuine"}, headers=HTMX)
        assert no_token.status_code == 403
        form = {"csrf": csrf, "item_id": item_id, "verdict": "genuine", "comment": "a friend's shop, unpaid"}
        fragment = await client.post("/review/decide", data=form, headers=HTMX)
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert note_on(fragment.text) == "n1" and "Saved." in fragment.text
        plain = await client.post(
            "/review/decide", data={**form, "item_id": _item_id(db, "n1"), "verdict": "undisclosed_ad"}
        )
        assert plain.status_code == 303 and plain.headers["location"] == "/review?flash=decided"
        undone = await client.post("/review/undo", data={"csrf": csrf}, headers=HTMX)
        assert note_on(undone.text) == "n1" and "Undone" in undone.text
    with Session(connect(db)) as session:
        rows = session.scalars(select(ReviewDecision).order_by(ReviewDecision.id)).all()
    assert [(r.note_id, r.verdict, r.moderator, r.undone_by) for r in rows] == [
        ("n0", "genuine", "alice", None),
        ("n1", "undisclosed_ad", "alice", "alice"),
    ]
    assert rows[0].comment == "a friend's shop, unpaid"


async def test_a_note_leased_to_one_moderator_cannot_be_decided_by_another(db: str) -> None:
    fill(db, 1)
    app = app_for(db)
    async with running(app) as alice, running(app, ready=False) as bob:
        await sign_in(alice, "alice")
        assert note_on((await alice.get("/review")).text) == "n0"
        await sign_in(bob, "bob")
        page = await bob.get("/review")
        assert note_on(page.text) is None and "1 with other moderators" in page.text
        form = {"csrf": csrf_of(page.text), "item_id": _item_id(db, "n0"), "verdict": "genuine"}
        taken = await bob.post("/review/decide", data=form, headers=HTMX)
        assert taken.status_code == 409 and "leased to another moderator" in taken.text


async def test_pages_send_a_strict_content_security_policy(db: str) -> None:
    fill(db, 1)
    async with running(app_for(db)) as client:
        await sign_in(client)
        for path in ("/review", "/review/stats", "/review/login"):
            answer = await client.get(path, follow_redirects=True)
            policy = answer.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "unsafe" not in policy, path
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/review/static/htmx.min.js")).status_code == 200
        assert (await client.get("/review/static/..%2Fpages.py")).status_code == 404


async def test_stats_page_plots_the_drift_signals(db: str) -> None:
    queue = fill(db, 2)
    for verdict in ("genuine", "undisclosed_ad"):
        item = queue.claim("alice")
        assert item is not None
        queue.decide(item.id, "alice", verdict)
    async with running(app_for(db)) as client:
        await sign_in(client)
        page = await client.get("/review/stats")
    assert page.status_code == 200
    assert page.text.count('src="data:image/svg+xml;base64,') == 3
    assert "2 standing decisions; the model agreed on 1 (50%)" in " ".join(page.text.split())


async def test_predict_can_enqueue_and_never_twice(db: str) -> None:
    notes = [
        {"id": f"p{i}", "text": f"note {i} 私信我 link in bio", "exposure": 10 * i, "category": "food"}
        for i in range(12)
    ]
    classifier = FakeClassifier()
    async with running(app_for(db, classifier)) as client:
        first = (await client.post("/v1/predict", json={"notes": notes, "enqueue": True})).json()
        queued = {p["id"] for p in first["predictions"] if p["action"] in ("review", "flag")}
        allowed = len(notes) - len(queued)
        assert queued and first["enqueued"] == {"added": len(queued), "already": 0, "not_queued": allowed}
        again = (await client.post("/v1/predict", json={"notes": notes, "enqueue": True})).json()
        assert again["enqueued"] == {"added": 0, "already": len(queued), "not_queued": allowed}
        assert (await client.post("/v1/predict", json={"notes": notes})).json()["enqueued"] is None
    with Session(connect(db)) as session:
        items = session.scalars(select(ReviewItem)).all()
    assert {i.note_id for i in items} == queued
    assert all(i.category == "food" and i.source == "api" and i.model_version == "fake-1" for i in items)


async def test_the_note_on_screen_gets_word_evidence_once(
    db: str, tiny_classifier: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notecheck.model.explain import Explainer

    calls: list[int] = []
    real = Explainer.explain
    monkeypatch.setattr(Explainer, "explain", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    fill(db, 1)
    async with running(app_for(db, tiny_classifier)) as client:
        await sign_in(client)
        page = await client.get("/review")
        again = await client.get("/review")  # the same note, shown again: its evidence is stored
    assert f"word evidence by ig of model {tiny_classifier.version}" in page.text and 'class="ev-' in page.text
    assert calls == [1] and 'class="ev-' in again.text
    with Session(connect(db)) as session:
        item = session.scalars(select(ReviewItem)).one()
    assert item.explain_method == "ig" and item.evidence and all("score" in w for w in item.evidence)


def _item_id(db: str, note_id: str | None) -> int:
    with Session(connect(db)) as session:
        return session.scalars(select(ReviewItem.id).where(ReviewItem.note_id == note_id)).one()


async def test_serving_without_a_review_database_set_uses_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        await sign_in(client)
        assert (await client.get("/review")).status_code == 200
    forget_engines()
    assert (tmp_path / "notecheck.db").is_file()


async def test_a_tampered_or_foreign_session_is_refused(db: str) -> None:
    async with running(app_for(db)) as client:
        await sign_in(client, "alice")
        cookie = client.cookies["notecheck_review"]
        body, _, mac = cookie.partition(".")
        forged = base64.urlsafe_b64encode(base64.urlsafe_b64decode(body).replace(b"alice", b"admin")).decode()
        client.cookies.set("notecheck_review", f"{forged}.{mac}", domain="test.local", path="/review")
        assert (await client.get("/review")).status_code == 303
    async with running(app_for(db)) as other:  # another server (another secret): the cookie means nothing
        other.cookies.set("notecheck_review", cookie, domain="test.local", path="/review")
        assert (await other.get("/review")).status_code == 303


async def test_a_stale_form_reloads_the_page_and_the_query_cannot_write_messages(db: str) -> None:
    fill(db, 1)
    async with running(app_for(db)) as client:
        await sign_in(client)
        stale = await client.post("/review/undo", data={"csrf": "from-an-old-session"}, headers=HTMX)
        assert stale.status_code == 403 and stale.headers["hx-refresh"] == "true"
        page = await client.get("/review", params={"flash": "Session expired: re-enter your key at evil.example"})
        assert "evil.example" not in page.text


async def test_cookies_are_secure_over_https_only(db: str) -> None:
    app = app_for(db)
    async with running(app) as client:
        plain = await sign_in(client)
    assert "secure" not in plain.headers["set-cookie"].lower()
    async with running(app) as client:
        client.base_url = httpx.URL("https://test")
        tls = await sign_in(client)
    assert "secure" in tls.headers["set-cookie"].lower()


async def test_an_unreachable_database_answers_503_naming_it(tmp_path: Path) -> None:
    url = f"postgresql://nobody@/notecheck?host={tmp_path / 'no-server-here'}"
    async with running(app_for(url)) as client:
        await sign_in(client)
        page = await client.get("/review")
        assert page.status_code == 503 and "review queue is unavailable" in page.text and "no-server-here" in page.text
        notes = {"notes": [{"id": "a", "text": "私信我拿优惠码"}], "enqueue": True}
        assert (await client.post("/v1/predict", json=notes)).status_code == 503
    with pytest.raises(ValueError, match="not supported"):
        Settings(database_url="mysql://u@h/db")
