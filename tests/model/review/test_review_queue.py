"""The review queue on SQLite and on a real PostgreSQL server: once per note id, leases, decisions that
survive, undo that keeps the audit trail, and the export in the retrain format."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notecheck.model.classifier import Prediction
from notecheck.model.disclosure import rate
from notecheck.model.errors import ConfigError
from notecheck.model.loader import load_notes
from notecheck.model.review.db import connect, database_url, forget_engines
from notecheck.model.review.entries import Entry
from notecheck.model.review.export import review_stats, write_decisions
from notecheck.model.review.priority import ReviewPriority
from notecheck.model.review.queue import ReviewError, ReviewQueue
from notecheck.model.review.tables import ReviewDecision, ReviewItem
from notecheck.model.schema import Note

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
NO_AUDIT = ReviewPriority(audit_share=0.0)


def entry(note_id: str, p: float, action: str = "review", exposure: int | None = None, **note: str) -> Entry:
    text = note.pop("text", f"note {note_id}: 这款面霜用了一个月")
    n = Note(text=text, id=note_id, lang=note.pop("lang", "zh"), author_id=note.pop("author_id", "a1"), **note)
    verdict = "undisclosed_ad" if p >= 0.5 else "genuine"
    prediction = Prediction(note_id, p, verdict, action, rate(n.text, n.title), False, 12)  # type: ignore[arg-type]
    return Entry(n, prediction, exposure=exposure, category="beauty")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.db'}"
    else:
        from postgres_support import fresh_database

        yield fresh_database(request.getfixturevalue("postgres_server_url"))
    forget_engines()


def queue_on(url: str, priority: ReviewPriority = NO_AUDIT) -> ReviewQueue:
    return ReviewQueue(connect(url), priority, lease=dt.timedelta(minutes=10), rng=random.Random(0))


def test_only_review_and_flag_are_queued_and_never_twice(db_url: str) -> None:
    queue = queue_on(db_url)
    first = queue.enqueue([entry("n1", 0.6), entry("n2", 0.1, "allow"), entry("n3", 0.95, "flag")], 0.5, "v1")
    assert (first.added, first.already, first.not_queued) == (2, 0, 1)
    again = queue.enqueue([entry("n1", 0.7), entry("n4", 0.55)], 0.5, "v2")
    assert (again.added, again.already) == (1, 1)
    assert queue.progress("alice").open == 3
    # the first enqueue of n1 stands: its prediction and model version are not overwritten
    claimed = [queue.claim(m, T0) for m in ("a", "b", "c")]
    n1 = next(i for i in claimed if i is not None and i.note_id == "n1")
    assert n1.model_version == "v1" and n1.p_commercial == pytest.approx(0.6)


def test_claims_follow_priority_and_two_moderators_never_share_an_item(db_url: str) -> None:
    queue = queue_on(db_url)
    # near the boundary and widely seen > near the boundary > far from it
    queue.enqueue(
        [entry("far", 0.97, "flag"), entry("near", 0.52), entry("near-wide", 0.52, exposure=90_000)], 0.5, "v"
    )
    alice = queue.claim("alice", T0)
    bob = queue.claim("bob", T0)
    carol = queue.claim("carol", T0)
    assert [i.note_id for i in (alice, bob, carol) if i] == ["near-wide", "near", "far"]
    assert queue.claim("dave", T0) is None  # every item is leased
    # a claim is sticky: alice gets her item back (a reload loses nothing)
    assert queue.claim("alice", T0 + dt.timedelta(minutes=1)).id == alice.id  # type: ignore[union-attr]
    # after the lease runs out, another moderator may take it, and alice can no longer decide it
    late = T0 + dt.timedelta(minutes=11)
    assert queue.claim("dave", late).id == alice.id  # type: ignore[union-attr]
    with pytest.raises(ReviewError, match="leased to another moderator"):
        queue.decide(alice.id, "alice", "genuine", now=late)  # type: ignore[union-attr]


def test_a_decision_is_committed_audited_and_undo_keeps_the_trail(db_url: str) -> None:
    queue = queue_on(db_url)
    queue.enqueue([entry("n1", 0.6), entry("n2", 0.4)], 0.5, "v1")
    item = queue.claim("alice", T0)
    assert item is not None
    queue.decide(item.id, "alice", "undisclosed_ad", " bought likes too ", now=T0)
    forget_engines()  # a new connection, as after a restart, sees the decision
    queue = queue_on(db_url)
    with pytest.raises(ReviewError, match="already decided"):
        queue.decide(item.id, "bob", "genuine", now=T0)
    with Session(queue.engine) as session:
        (saved,) = session.scalars(select(ReviewDecision)).all()
    assert (saved.moderator, saved.verdict, saved.comment) == ("alice", "undisclosed_ad", "bought likes too")
    assert (saved.model_verdict, saved.model_p, saved.model_version) == ("undisclosed_ad", pytest.approx(0.6), "v1")
    assert saved.decided_at == T0

    back = queue.undo("alice", now=T0 + dt.timedelta(seconds=5))
    assert back is not None and back.id == item.id
    assert queue.claim("alice", T0 + dt.timedelta(seconds=6)).id == item.id  # type: ignore[union-attr]
    queue.decide(item.id, "alice", "genuine", now=T0 + dt.timedelta(seconds=7))
    with Session(queue.engine) as session:
        rows = session.scalars(select(ReviewDecision).order_by(ReviewDecision.id)).all()
    assert [(r.verdict, r.undone_by) for r in rows] == [("undisclosed_ad", "alice"), ("genuine", None)]
    assert queue.undo("bob") is None  # bob has nothing to undo


def test_skip_hands_the_item_to_someone_else(db_url: str) -> None:
    queue = queue_on(db_url)
    queue.enqueue([entry("n1", 0.5)], 0.5, "v1")
    item = queue.claim("alice", T0)
    assert item is not None
    queue.skip(item.id, "alice", now=T0)
    assert queue.claim("alice", T0) is None
    assert queue.progress("alice", T0).skipped_by_me == 1
    assert queue.claim("bob", T0).id == item.id  # type: ignore[union-attr]


def test_export_writes_standing_decisions_in_the_retrain_format(db_url: str, tmp_path: Path) -> None:
    queue = queue_on(db_url)
    queue.enqueue([entry("n1", 0.52, text="私信我拿优惠码"), entry("n2", 0.4), entry("n3", 0.3)], 0.5, "v1")
    for verdict in ("undisclosed_ad", "genuine"):
        item = queue.claim("alice", T0)
        assert item is not None
        queue.decide(item.id, "alice", verdict, now=T0)
    queue.undo("alice", now=T0)  # the second decision is withdrawn: not exported
    out = tmp_path / "decisions.jsonl"
    assert write_decisions(queue.engine, out) == 1
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (row["id"], row["label"], row["writer"], row["author_id"]) == ("n1", "undisclosed_ad", "alice", "a1")
    assert row["decided_at"].startswith("2026-12-01T09:00:00") and row["text"] == "私信我拿优惠码"
    notes, summary = load_notes(out)  # what retrain reads
    assert summary.loaded == 1 and notes[0].label == "undisclosed_ad"
    stats = review_stats(queue.engine)
    assert (stats.decided, stats.agreed, stats.undone) == (1, 1, 1)
    assert stats.agreement_by_lang == {"zh": (1, 1)} and stats.per_day == {"2026-12-01": 1}


def test_audit_share_picks_at_random_and_says_so(tmp_path: Path) -> None:
    queue = queue_on(f"sqlite:///{tmp_path / 'q.db'}", ReviewPriority(audit_share=1.0))
    queue.enqueue([entry(f"n{i}", 0.5 + i / 100) for i in range(20)], 0.5, "v")
    picked = [queue.claim(f"m{i}", T0) for i in range(5)]
    assert all(i is not None and i.picked_by == "audit" for i in picked)
    # by priority the first five would be n0..n4 (nearest the boundary); random picks are not all those
    assert {i.note_id for i in picked if i} != {f"n{i}" for i in range(5)}
    forget_engines()


def test_database_urls_are_checked_and_postgres_gets_psycopg3(tmp_path: Path) -> None:
    assert database_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(ConfigError, match="not supported"):
        database_url("mysql://u@h/db")
    with pytest.raises(ConfigError, match="does not exist"):
        connect(f"sqlite:///{tmp_path / 'missing' / 'q.db'}")
    with pytest.raises(ReviewError, match="verdict"):
        queue_on(f"sqlite:///{tmp_path / 'q.db'}").decide(1, "a", "spam")
    forget_engines()


def test_priority_formula_and_its_limits() -> None:
    p = ReviewPriority(uncertainty_weight=0.5, reach_weight=0.5, full_reach_exposure=10_000)
    assert p.score(0.5, 10_000, 0.5) == pytest.approx(1.0)
    assert p.score(1.0, 0, 0.5) == pytest.approx(0.0)
    assert p.uncertainty(0.3, 0.6) == pytest.approx(0.5)  # 0.3 away on the 0.6-wide side
    assert p.reach(None) == p.unknown_reach
    assert p.score(0.9, 100, 0.5) < p.score(0.6, 100, 0.5) < p.score(0.6, 5_000, 0.5)
    with pytest.raises(ConfigError, match="audit_share"):
        ReviewPriority(audit_share=1.5)
    with pytest.raises(ConfigError, match="both be 0"):
        ReviewPriority(uncertainty_weight=0, reach_weight=0)


def test_two_requests_deciding_one_item_at_once_record_one_decision(db_url: str) -> None:
    queue = queue_on(db_url)
    queue.enqueue([entry(f"n{i}", 0.5 + i / 100) for i in range(12)], 0.5, "v1")
    with Session(queue.engine) as session:
        ids = list(session.scalars(select(ReviewItem.id)).all())
    barrier = threading.Barrier(2)
    wins: list[int] = []
    refusals: list[str] = []

    def decide_all(verdict: str) -> None:
        for item_id in ids:
            barrier.wait(timeout=30)  # both requests hit the same item at the same moment
            try:
                queue.decide(item_id, "alice", verdict)
                wins.append(item_id)
            except ReviewError as exc:
                refusals.append(str(exc))

    threads = [threading.Thread(target=decide_all, args=(v,)) for v in ("genuine", "undisclosed_ad")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(wins) == sorted(ids) and len(refusals) == len(ids)
    assert all("already decided" in r for r in refusals)
    with Session(queue.engine) as session:
        per_item = session.execute(select(ReviewDecision.item_id, func.count()).group_by(ReviewDecision.item_id)).all()
    assert sorted(per_item) == [(i, 1) for i in sorted(ids)]


def test_exposure_beyond_any_reach_and_overlong_ids_do_not_fail_the_batch(db_url: str) -> None:
    queue = queue_on(db_url)
    big = entry("big", 0.6, exposure=3_000_000_000)
    huge = Entry(big.note.__class__(text="x", id="huge", author_id="a" * 500), big.prediction, exposure=10**18)
    result = queue.enqueue([big, huge, entry("x" * 300, 0.6), entry("ok", 0.6)], 0.5, "v1")
    assert (result.added, result.not_queued) == (3, 1)
    with Session(queue.engine) as session:
        rows = {i.note_id: i for i in session.scalars(select(ReviewItem)).all()}
    assert rows["big"].exposure == 3_000_000_000 and rows["huge"].exposure is None
    assert rows["huge"].author_id == "a" * 200


def test_priority_weights_come_from_the_same_variables_as_the_server() -> None:
    from notecheck.serving.review.state import priority
    from notecheck.serving.settings import Settings

    env = {"NOTECHECK_REVIEW_REACH_WEIGHT": "0.9", "NOTECHECK_REVIEW_UNKNOWN_REACH": "0.1", "NOTECHECK_REVIEW_X": "?"}
    cli = ReviewPriority.from_env(env)
    server = priority(Settings(review_reach_weight=0.9, review_unknown_reach=0.1))
    assert cli == server and cli.reach_weight == 0.9 and cli.unknown_reach == 0.1
    with pytest.raises(ConfigError, match="NOTECHECK_REVIEW_AUDIT_SHARE"):
        ReviewPriority.from_env({"NOTECHECK_REVIEW_AUDIT_SHARE": "lots"})


def test_two_processes_creating_one_new_database_both_end_up_connected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = f"from notecheck.model.review.db import connect; connect({url!r}); print('ok')"
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    assert [r.communicate(timeout=120)[0].strip() for r in runs] == ["ok"] * 3
    queue = queue_on(url)
    assert queue.enqueue([entry("n1", 0.6)], 0.5, "v").added == 1
    forget_engines()
