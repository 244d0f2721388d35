"""The review queue's operations, each one short transaction: enqueue, claim, decide, skip, undo, progress.

Two moderators never get the same item: a claim is a conditional UPDATE that only succeeds on an item that
is open and unclaimed, claimed by the same moderator, or whose lease has run out, which is atomic on SQLite
and PostgreSQL alike. A decision is committed before the call returns (and SQLite syncs it to disk), and
decisions are never deleted: an undo stamps the decision and reopens the item for the moderator who undid it.

>>> queue = ReviewQueue(connect("sqlite:///:memory:"))  # doctest: +SKIP
>>> item = queue.claim("alice")  # doctest: +SKIP
>>> queue.decide(item.id, "alice", "undisclosed_ad")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from notecheck.model.errors import NotecheckError
from notecheck.model.review.entries import MAX_ID, Entry, item_row
from notecheck.model.review.priority import ReviewPriority
from notecheck.model.review.tables import ReviewDecision, ReviewItem, ReviewSkip
from notecheck.model.schema import VERDICTS

QUEUED_ACTIONS = ("review", "flag")
ITEMS = cast(Table, ReviewItem.__table__)
SKIPS = cast(Table, ReviewSkip.__table__)
DEFAULT_LEASE = dt.timedelta(minutes=10)
CLAIM_TRIES = 8  # candidates tried before giving up when other moderators keep taking them
MAX_COMMENT = 2000


class ReviewError(NotecheckError):
    """A queue operation that cannot be done as asked (unknown item, a lease another moderator holds...)."""


@dataclass(frozen=True)
class EnqueueResult:
    added: int  # new items
    already: int  # review/flag notes whose id was queued before (never queued twice)
    not_queued: int  # notes the model allowed (or without an id)


@dataclass(frozen=True)
class Progress:
    open: int  # items nobody has decided
    decided: int  # items with a standing decision
    mine_today: int  # this moderator's standing decisions since midnight UTC
    held_by_others: int  # open items under another moderator's live lease
    skipped_by_me: int  # open items this moderator skipped


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReviewQueue:
    def __init__(
        self,
        engine: Engine,
        priority: ReviewPriority | None = None,
        lease: dt.timedelta = DEFAULT_LEASE,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.priority = priority or ReviewPriority()
        self.lease = lease
        self.rng = rng or random.Random()

    # -- filling the queue ------------------------------------------------------------------------------
    def enqueue(self, entries: Iterable[Entry], boundary: float, model_version: str, source: str = "") -> EnqueueResult:
        """Queue the `review` and `flag` notes among `entries` (the others are not queued). A note id already
        in the queue is left as it is, even when two servers enqueue it at the same moment (rows are inserted
        in note-id order, so two overlapping batches cannot deadlock on PostgreSQL)."""
        added = already = skipped = 0
        created = now_utc()
        wanted: dict[str, Entry] = {}
        for entry in entries:
            note_id = entry.note.id or ""
            if entry.prediction.action not in QUEUED_ACTIONS or not note_id or len(note_id) > MAX_ID:
                skipped += 1
            elif note_id in wanted:
                already += 1  # the same id twice in one batch: queued once
            else:
                wanted[note_id] = entry
        with Session(self.engine) as session, session.begin():
            for note_id in sorted(wanted):
                row = item_row(wanted[note_id], boundary, model_version, source, self.priority, created)
                stmt = self._insert(ITEMS).values(**row).on_conflict_do_nothing(index_elements=["note_id"])
                if session.execute(stmt.returning(ITEMS.c.id)).first() is not None:
                    added += 1
                else:
                    already += 1
        return EnqueueResult(added, already, skipped)

    def _insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT for this engine's dialect."""
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)

    # -- working the queue ------------------------------------------------------------------------------
    # Every write transaction starts with its write (an UPDATE or INSERT), never with a read: on SQLite in WAL
    # mode a read transaction that later writes fails at once when another writer committed in between, and a
    # check-then-write would let two requests both pass the check. The conditional UPDATE decides who wins.

    def claim(self, moderator: str, now: dt.datetime | None = None) -> ReviewItem | None:
        """The moderator's current item (a live lease they hold), else the next one by priority (or, for
        `audit_share` of claims, a uniformly random open one), leased to them; None when nothing is left."""
        now = now or now_utc()
        with Session(self.engine, expire_on_commit=False) as session:
            held = session.scalars(
                select(ReviewItem)
                .where(ReviewItem.status == "open", ReviewItem.claimed_by == moderator, ReviewItem.claimed_until > now)
                .order_by(ReviewItem.claimed_until.desc())
                .limit(1)
            ).first()
            if held is not None:
                return held
            audit = self.rng.random() < self.priority.audit_share
            candidates = self._candidates(session, moderator, now, audit)
        for item_id in candidates:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                taken = session.execute(
                    update(ReviewItem)
                    .where(ReviewItem.id == item_id, ReviewItem.status == "open", _claimable(moderator, now))
                    .values(claimed_by=moderator, claimed_until=now + self.lease, picked_by=_picked(audit))
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return session.get(ReviewItem, item_id)
        return None

    def _candidates(self, session: Session, moderator: str, now: dt.datetime, audit: bool) -> list[int]:
        """Ids to try to claim, best first; for an audit claim, from a uniformly random position (the seeded
        `rng` picks it, so an audit draw is reproducible)."""
        skipped = select(ReviewSkip.item_id).where(ReviewSkip.moderator == moderator)
        open_items = select(ReviewItem.id).where(
            ReviewItem.status == "open", _claimable(moderator, now), ReviewItem.id.not_in(skipped)
        )
        if not audit:
            query = open_items.order_by(ReviewItem.priority.desc(), ReviewItem.id).limit(CLAIM_TRIES)
            return list(session.scalars(query).all())
        count = session.scalar(select(func.count()).select_from(open_items.subquery())) or 0
        if count == 0:
            return []
        start = self.rng.randrange(count)
        return list(session.scalars(open_items.order_by(ReviewItem.id).offset(start).limit(CLAIM_TRIES)).all())

    def decide(
        self, item_id: int, moderator: str, verdict: str, comment: str | None = None, now: dt.datetime | None = None
    ) -> ReviewDecision:
        """Record `verdict` for the item and close it; committed before returning. The moderator must hold the
        item's lease, or the lease must have run out with nobody else holding it. Of two requests deciding
        the same item at once (two tabs, a re-posted form), exactly one wins; the other gets `ReviewError`."""
        if verdict not in VERDICTS:
            raise ReviewError(f"verdict: must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        now = now or now_utc()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            closed = session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id, ReviewItem.status == "open", _claimable(moderator, now))
                .values(status="decided", claimed_by=None, claimed_until=None)
            )
            item = session.get(ReviewItem, item_id)
            if item is None:
                raise ReviewError(f"review item {item_id} does not exist")
            if closed.rowcount != 1:  # type: ignore[attr-defined]
                if item.status != "open":
                    raise ReviewError(f"note {item.note_id} is already decided")
                raise ReviewError(f"note {item.note_id} is leased to another moderator; take the next note")
            decision = ReviewDecision(
                item_id=item.id,
                note_id=item.note_id,
                verdict=verdict,
                moderator=moderator,
                decided_at=now,
                comment=(comment or "").strip()[:MAX_COMMENT] or None,
                model_verdict=item.verdict,
                model_action=item.action,
                model_p=item.p_commercial,
                model_version=item.model_version,
                picked_by=item.picked_by,
            )
            session.add(decision)
        return decision

    def skip(self, item_id: int, moderator: str, now: dt.datetime | None = None) -> None:
        """Hand the item back and do not offer it to this moderator again."""
        now = now or now_utc()
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id, ReviewItem.claimed_by == moderator)
                .values(claimed_by=None, claimed_until=None)
            )
            if session.get(ReviewItem, item_id) is None:
                raise ReviewError(f"review item {item_id} does not exist")
            session.execute(
                self._insert(SKIPS)
                .values(item_id=item_id, moderator=moderator, skipped_at=now)
                .on_conflict_do_nothing(index_elements=["item_id", "moderator"])
            )

    def undo(self, moderator: str, now: dt.datetime | None = None) -> ReviewItem | None:
        """Withdraw the moderator's latest standing decision (kept, stamped as undone) and give the item back
        to them under a fresh lease; None when they have nothing to undo."""
        now = now or now_utc()
        latest = (
            select(ReviewDecision.id)
            .where(ReviewDecision.moderator == moderator, ReviewDecision.undone_at.is_(None))
            .order_by(ReviewDecision.decided_at.desc(), ReviewDecision.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            undone = session.execute(
                update(ReviewDecision)
                .where(ReviewDecision.id == latest, ReviewDecision.undone_at.is_(None))
                .values(undone_at=now, undone_by=moderator)
                .returning(ReviewDecision.item_id)
            ).first()
            if undone is None:
                return None
            item_id = undone[0]
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(status="open", claimed_by=moderator, claimed_until=now + self.lease)
            )
            session.execute(SKIPS.delete().where(SKIPS.c.item_id == item_id, SKIPS.c.moderator == moderator))
            return session.get(ReviewItem, item_id)

    def save_evidence(self, item_id: int, evidence: Sequence[dict[str, Any]], method: str, model_version: str) -> None:
        """Store the word evidence computed for an item (and by which model), so it is explained once."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(evidence=list(evidence), explain_method=method, evidence_model=model_version)
            )

    def progress(self, moderator: str, now: dt.datetime | None = None) -> Progress:
        now = now or now_utc()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with Session(self.engine) as session:
            counts = dict(
                session.execute(select(ReviewItem.status, func.count()).group_by(ReviewItem.status)).tuples().all()
            )
            mine = session.scalar(
                select(func.count()).where(
                    ReviewDecision.moderator == moderator,
                    ReviewDecision.undone_at.is_(None),
                    ReviewDecision.decided_at >= midnight,
                )
            )
            others = session.scalar(
                select(func.count()).where(
                    ReviewItem.status == "open", ReviewItem.claimed_by != moderator, ReviewItem.claimed_until > now
                )
            )
            skipped = session.scalar(
                select(func.count())
                .select_from(ReviewSkip)
                .join(ReviewItem, ReviewItem.id == ReviewSkip.item_id)
                .where(ReviewSkip.moderator == moderator, ReviewItem.status == "open")
            )
        return Progress(counts.get("open", 0), counts.get("decided", 0), mine or 0, others or 0, skipped or 0)

    def item(self, item_id: int) -> ReviewItem | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(ReviewItem, item_id)


def _picked(audit: bool) -> str:
    return "audit" if audit else "priority"


def _claimable(moderator: str, now: dt.datetime) -> Any:
    """Open to this moderator: unclaimed, theirs, or leased to someone whose lease has run out."""
    return or_(
        ReviewItem.claimed_by.is_(None),
        ReviewItem.claimed_by == moderator,
        and_(ReviewItem.claimed_until.is_not(None), ReviewItem.claimed_until <= now),
    )
