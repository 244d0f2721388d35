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

from notecheck.model.classifier import Prediction
from notecheck.model.errors import NotecheckError
from notecheck.model.review.priority import ReviewPriority
from notecheck.model.review.tables import ReviewDecision, ReviewItem, ReviewSkip
from notecheck.model.schema import VERDICTS, Note
from notecheck.model.signals import find_signals

QUEUED_ACTIONS = ("review", "flag")
ITEMS = cast(Table, ReviewItem.__table__)
SKIPS = cast(Table, ReviewSkip.__table__)
DEFAULT_LEASE = dt.timedelta(minutes=10)
CLAIM_TRIES = 8  # candidates tried before giving up when other moderators keep taking them


class ReviewError(NotecheckError):
    """A queue operation that cannot be done as asked (unknown item, a lease another moderator holds...)."""


@dataclass(frozen=True)
class Entry:
    """One scored note offered to the queue, with what the queue needs beyond the note itself."""

    note: Note
    prediction: Prediction
    exposure: int | None = None
    category: str | None = None


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
        in the queue is left as it is, even when two servers enqueue it at the same moment."""
        added = already = skipped = 0
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        created = now_utc()
        with Session(self.engine) as session, session.begin():
            for entry in entries:
                if entry.prediction.action not in QUEUED_ACTIONS or not entry.note.id:
                    skipped += 1
                    continue
                row = _item_row(entry, boundary, model_version, source, self.priority, created)
                stmt = insert(ITEMS).values(**row).on_conflict_do_nothing(index_elements=["note_id"])
                if session.execute(stmt.returning(ITEMS.c.id)).first() is not None:
                    added += 1
                else:
                    already += 1
        return EnqueueResult(added, already, skipped)

    # -- working the queue ------------------------------------------------------------------------------
    def claim(self, moderator: str, now: dt.datetime | None = None) -> ReviewItem | None:
        """The moderator's current item (a live lease they hold), else the next one by priority (or, for
        `audit_share` of claims, a random open one), leased to them; None when nothing is left for them."""
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
            order = [func.random()] if audit else [ReviewItem.priority.desc(), ReviewItem.id]
            skipped = select(ReviewSkip.item_id).where(ReviewSkip.moderator == moderator)
            candidates = session.scalars(
                select(ReviewItem.id)
                .where(ReviewItem.status == "open", _claimable(moderator, now), ReviewItem.id.not_in(skipped))
                .order_by(*order)
                .limit(CLAIM_TRIES)
            ).all()
            for item_id in candidates:
                taken = session.execute(
                    update(ReviewItem)
                    .where(ReviewItem.id == item_id, ReviewItem.status == "open", _claimable(moderator, now))
                    .values(
                        claimed_by=moderator, claimed_until=now + self.lease, picked_by="audit" if audit else "priority"
                    )
                )
                session.commit()
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return session.get(ReviewItem, item_id, populate_existing=True)
            return None

    def decide(
        self, item_id: int, moderator: str, verdict: str, comment: str | None = None, now: dt.datetime | None = None
    ) -> ReviewDecision:
        """Record `verdict` for the item and close it; committed before returning. The moderator must hold the
        item's lease, or the lease must have run out with nobody else holding it."""
        if verdict not in VERDICTS:
            raise ReviewError(f"verdict: must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        now = now or now_utc()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            item = _locked(session, item_id)
            if item.status != "open":
                raise ReviewError(f"note {item.note_id} is already decided")
            if item.claimed_by not in (None, moderator) and item.claimed_until and item.claimed_until > now:
                raise ReviewError(f"note {item.note_id} is leased to another moderator; take the next note")
            decision = ReviewDecision(
                item_id=item.id,
                note_id=item.note_id,
                verdict=verdict,
                moderator=moderator,
                decided_at=now,
                comment=(comment or "").strip() or None,
                model_verdict=item.verdict,
                model_action=item.action,
                model_p=item.p_commercial,
                model_version=item.model_version,
                picked_by=item.picked_by,
            )
            session.add(decision)
            item.status, item.claimed_by, item.claimed_until = "decided", None, None
        return decision

    def skip(self, item_id: int, moderator: str, now: dt.datetime | None = None) -> None:
        """Hand the item back and do not offer it to this moderator again."""
        now = now or now_utc()
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        with Session(self.engine) as session, session.begin():
            item = _locked(session, item_id)
            session.execute(
                insert(SKIPS)
                .values(item_id=item.id, moderator=moderator, skipped_at=now)
                .on_conflict_do_nothing(index_elements=["item_id", "moderator"])
            )
            if item.claimed_by == moderator:
                item.claimed_by, item.claimed_until = None, None

    def undo(self, moderator: str, now: dt.datetime | None = None) -> ReviewItem | None:
        """Withdraw the moderator's latest standing decision (kept, stamped as undone) and give the item back
        to them under a fresh lease; None when they have nothing to undo."""
        now = now or now_utc()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            decision = session.scalars(
                select(ReviewDecision)
                .where(ReviewDecision.moderator == moderator, ReviewDecision.undone_at.is_(None))
                .order_by(ReviewDecision.decided_at.desc(), ReviewDecision.id.desc())
                .limit(1)
            ).first()
            if decision is None:
                return None
            item = _locked(session, decision.item_id)
            decision.undone_at, decision.undone_by = now, moderator
            item.status, item.claimed_by, item.claimed_until = "open", moderator, now + self.lease
            session.execute(SKIPS.delete().where(SKIPS.c.item_id == item.id, SKIPS.c.moderator == moderator))
            return item

    def save_evidence(self, item_id: int, evidence: Sequence[dict[str, Any]], method: str) -> None:
        """Store the word evidence computed for an item, so it is explained once."""
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(evidence=list(evidence), explain_method=method)
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


def _claimable(moderator: str, now: dt.datetime) -> Any:
    return or_(
        ReviewItem.claimed_by.is_(None),
        ReviewItem.claimed_by == moderator,
        and_(ReviewItem.claimed_until.is_not(None), ReviewItem.claimed_until <= now),
    )


def _locked(session: Session, item_id: int) -> ReviewItem:
    """The item, row-locked until commit on PostgreSQL (SQLite serialises writers anyway)."""
    item = session.scalars(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update()).first()
    if item is None:
        raise ReviewError(f"review item {item_id} does not exist")
    return item


def _item_row(
    entry: Entry, boundary: float, model_version: str, source: str, priority: ReviewPriority, created: dt.datetime
) -> dict[str, Any]:
    note, p = entry.note, entry.prediction
    return {
        "note_id": note.id,
        "text": note.text,
        "title": note.title or "",
        "author_id": note.author_id,
        "lang": note.lang,
        "category": entry.category,
        "exposure": entry.exposure,
        "verdict": p.verdict,
        "action": p.action,
        "p_commercial": p.p_commercial,
        "p_model": p.p_model,
        "disclosure": p.disclosure.to_dict(),
        "signal_effects": [e.to_dict() for e in p.signal_effects],
        "signals": [s.to_dict() for s in find_signals(note)],
        "evidence": None,
        "model_version": model_version,
        "source": source[:200],
        "priority": priority.score(p.p_commercial, entry.exposure, boundary),
        "status": "open",
        "created_at": created,
    }


def row_entry(data: dict[str, Any] | None, note: Note, prediction: Prediction) -> Entry:
    """An `Entry` for a scored file row: its `exposure` (a non-negative whole number) and `category`, if given."""
    data = data or {}
    exposure = data.get("exposure")
    valid_exposure = isinstance(exposure, int | float) and not isinstance(exposure, bool) and exposure >= 0
    category = data.get("category")
    return Entry(
        note,
        prediction,
        exposure=int(exposure) if valid_exposure and exposure == exposure else None,  # type: ignore[arg-type]
        category=str(category)[:64] if isinstance(category, str) and category.strip() else None,
    )
