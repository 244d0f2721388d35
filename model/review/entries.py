"""What the queue stores about a scored note: `Entry` (a note, its prediction, and its exposure and category),
made from an API note or a file row, and the item row written for it, with every value kept within its column.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from notecheck.model.classifier import Prediction
from notecheck.model.review.priority import ReviewPriority
from notecheck.model.schema import Note
from notecheck.model.signals import find_signals

MAX_ID = 200  # characters of a note id or an author id (the columns' width)
MAX_EXPOSURE = 10**15  # beyond any platform's reach: larger values are treated as unknown


@dataclass(frozen=True)
class Entry:
    """One scored note offered to the queue, with what the queue needs beyond the note itself."""

    note: Note
    prediction: Prediction
    exposure: int | None = None
    category: str | None = None


def item_row(
    entry: Entry, boundary: float, model_version: str, source: str, priority: ReviewPriority, created: dt.datetime
) -> dict[str, Any]:
    note, p = entry.note, entry.prediction
    return {
        "note_id": note.id,
        "text": note.text,
        "title": note.title or "",
        "author_id": (note.author_id or None) and note.author_id[:MAX_ID],
        "lang": (note.lang or None) and note.lang[:8],
        "category": (entry.category or None) and entry.category[:64],
        "exposure": _exposure(entry.exposure),
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
        "priority": priority.score(p.p_commercial, _exposure(entry.exposure), boundary),
        "status": "open",
        "created_at": created,
    }


def _exposure(value: object) -> int | None:
    """A usable exposure: a finite whole number from 0 to `MAX_EXPOSURE`, else unknown (None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_EXPOSURE:
        return None
    return int(value)


def row_entry(data: dict[str, Any] | None, note: Note, prediction: Prediction) -> Entry:
    """An `Entry` for a scored file row: its `exposure` (a non-negative whole number) and `category`, if given."""
    data = data or {}
    category = data.get("category")
    return Entry(
        note,
        prediction,
        exposure=_exposure(data.get("exposure")),
        category=category.strip()[:64] if isinstance(category, str) and category.strip() else None,
    )
