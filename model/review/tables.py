"""The review queue's tables (SQLAlchemy 2 declarative models). Migrations in `migrations/` create them.

- `review_items`: one row per note under review (never two for one note id), with what the model said and why
  (prediction, signals, word evidence once computed) and who holds it (a lease that expires).
- `review_decisions`: append-only audit of every decision: who, when, the verdict, what the model had said; an
  undo stamps `undone_at`/`undone_by` instead of deleting, so the history stays whole.
- `review_skips`: who skipped which item, so a skipped note is not handed straight back to the same moderator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones and gives them back naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the review tables store UTC times only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_open", "status", "priority"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note_id: Mapped[str] = mapped_column(String(200), unique=True)
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[str | None] = mapped_column(String(200))
    lang: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(64))
    exposure: Mapped[int | None] = mapped_column(BigInteger)
    # what the model said
    verdict: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    p_commercial: Mapped[float] = mapped_column(Float)
    p_model: Mapped[float | None] = mapped_column(Float)
    disclosure: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rating, reason, markers (spans)
    signal_effects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # rule signal spans
    evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # word spans with scores, once explained
    explain_method: Mapped[str | None] = mapped_column(String(32))
    evidence_model: Mapped[str | None] = mapped_column(String(200))  # the model version that explained it
    model_version: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200), default="")  # "api", or the scored file
    # the queue
    priority: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | decided
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    picked_by: Mapped[str | None] = mapped_column(String(16))  # priority | audit: how the last claim chose it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ReviewDecision(Base):
    __tablename__ = "review_decisions"
    __table_args__ = (Index("ix_review_decisions_moderator", "moderator", "decided_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), index=True)
    note_id: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(32))
    moderator: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    # what the model had said when the decision was made (the audit trail, and the agreement plots)
    model_verdict: Mapped[str] = mapped_column(String(32))
    model_action: Mapped[str] = mapped_column(String(16))
    model_p: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(200))
    picked_by: Mapped[str | None] = mapped_column(String(16))
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(200))


class ReviewSkip(Base):
    __tablename__ = "review_skips"
    __table_args__ = (UniqueConstraint("item_id", "moderator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"))
    moderator: Mapped[str] = mapped_column(String(200))
    skipped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
