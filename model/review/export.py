"""What the decisions say, for retraining and for watching drift.

`standing_decisions` is the latest decision on each item that was not undone. `write_decisions` writes them in
the retrain format (JSONL: `id`, `text`, `title`, `label`, `lang`, `author_id`, `writer` = the moderator,
`decided_at`, plus the model's verdict for the record), which `notecheck retrain --data` and
`--from-review` read. `review_stats` gathers what the stats page plots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from notecheck.model.review.tables import ReviewDecision, ReviewItem


def standing_decisions(engine: Engine) -> list[tuple[ReviewDecision, ReviewItem]]:
    """(decision, item) for every decided item, its latest decision that was not undone, oldest first."""
    with Session(engine, expire_on_commit=False) as session:
        rows = session.execute(
            select(ReviewDecision, ReviewItem)
            .join(ReviewItem, ReviewItem.id == ReviewDecision.item_id)
            .where(ReviewDecision.undone_at.is_(None), ReviewItem.status == "decided")
            .order_by(ReviewDecision.decided_at, ReviewDecision.id)
        ).tuples()
        latest: dict[int, tuple[ReviewDecision, ReviewItem]] = {}
        for decision, item in rows:
            latest[item.id] = (decision, item)
    return sorted(latest.values(), key=lambda pair: (pair[0].decided_at, pair[0].id))


def decision_record(decision: ReviewDecision, item: ReviewItem) -> dict[str, Any]:
    """One retrain row: the note, the moderator's label, who decided and when, and what the model had said."""
    return {
        "id": item.note_id,
        "title": item.title,
        "text": item.text,
        "label": decision.verdict,
        "lang": item.lang,
        "author_id": item.author_id,
        "writer": decision.moderator,
        "decided_at": decision.decided_at.isoformat(timespec="seconds"),
        "category": item.category,
        "exposure": item.exposure,
        "comment": decision.comment,
        "model_verdict": decision.model_verdict,
        "model_p": round(decision.model_p, 6),
        "model_version": decision.model_version,
        "picked_by": decision.picked_by,
    }


def write_decisions(engine: Engine, path: str | Path) -> int:
    """Write the standing decisions as JSONL to `path` (atomically: a crash leaves the old file or none)."""
    path = Path(path)
    records = [decision_record(d, i) for d, i in standing_decisions(engine)]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    return len(records)


@dataclass
class ReviewStats:
    """The drift signals: decisions per day, agreement with the model per category and language, and the
    model's P on the notes moderators overturned."""

    per_day: dict[str, int] = field(default_factory=dict)
    agreement_by_category: dict[str, tuple[int, int]] = field(default_factory=dict)  # (agreed, decided)
    agreement_by_lang: dict[str, tuple[int, int]] = field(default_factory=dict)
    overturned_p: list[float] = field(default_factory=list)
    decided: int = 0
    agreed: int = 0
    audit_decided: int = 0
    audit_agreed: int = 0
    undone: int = 0


def review_stats(engine: Engine) -> ReviewStats:
    stats = ReviewStats()
    per_day: Counter[str] = Counter()
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for decision, item in standing_decisions(engine):
        agreed = decision.verdict == decision.model_verdict
        per_day[decision.decided_at.astimezone(dt.UTC).date().isoformat()] += 1
        for table, key in ((by_cat, item.category or "unknown"), (by_lang, item.lang or "unknown")):
            table[key][0] += agreed
            table[key][1] += 1
        stats.decided += 1
        stats.agreed += agreed
        if decision.picked_by == "audit":
            stats.audit_decided += 1
            stats.audit_agreed += agreed
        if not agreed:
            stats.overturned_p.append(decision.model_p)
    with Session(engine) as session:
        stats.undone = session.scalar(select(func.count()).where(ReviewDecision.undone_at.is_not(None))) or 0
    stats.per_day = dict(sorted(per_day.items()))
    stats.agreement_by_category = {k: (v[0], v[1]) for k, v in sorted(by_cat.items())}
    stats.agreement_by_lang = {k: (v[0], v[1]) for k, v in sorted(by_lang.items())}
    return stats
