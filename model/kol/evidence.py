"""The notes that drove a KOL finding: the undisclosed ads, most confident first, with their top signals.

Signals come from `model.signals.find_signals` (rule-based: funnels, prices, products, calls to action,
disclosure wording).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from notecheck.model.classifier import Prediction
from notecheck.model.schema import Note
from notecheck.model.signals import find_signals

SIGNAL_SOURCE = "notecheck.model.signals"  # named in reports: where the evidence signals come from
MAX_EVIDENCE = 10  # evidence notes listed per report
MAX_SIGNALS_PER_NOTE = 5
SIGNAL_PRIORITY = ("funnel", "giveaway", "call_to_action", "price", "product", "disclosure")  # `model.signals` kinds


@dataclass(frozen=True)
class Evidence:
    """A note that drove the finding: its verdict, score, disclosure and the strongest signals in it."""

    note_id: str | None
    verdict: str
    p_commercial: float
    action: str
    disclosure: str
    signals: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "verdict": self.verdict,
            "p_commercial": round(self.p_commercial, 6),
            "action": self.action,
            "disclosure": self.disclosure,
            "signals": list(self.signals),
        }


def note_signals(note: Note) -> tuple[dict[str, Any], ...]:
    """The note's strongest named signals: ways to buy first, then calls to action, prices, products and
    disclosure wording."""
    found = [{"kind": str(s.kind), "text": str(s.text), "field": str(s.field)} for s in find_signals(note)]
    found.sort(key=lambda s: SIGNAL_PRIORITY.index(s["kind"]) if s["kind"] in SIGNAL_PRIORITY else 99)
    return tuple(found[:MAX_SIGNALS_PER_NOTE])


def find_evidence(notes: Sequence[Note], predictions: Sequence[Prediction]) -> tuple[tuple[Evidence, ...], str]:
    """The undisclosed ads, most confident first (ties by note id), with their top signals."""
    pairs = [(n, p) for n, p in zip(notes, predictions, strict=True) if p.verdict == "undisclosed_ad"]
    pairs.sort(key=lambda pair: (-pair[1].p_commercial, pair[0].id or ""))
    out = tuple(
        Evidence(n.id, p.verdict, p.p_commercial, p.action, p.disclosure.reason, note_signals(n))
        for n, p in pairs[:MAX_EVIDENCE]
    )
    return out, SIGNAL_SOURCE
