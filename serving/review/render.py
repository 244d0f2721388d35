"""A review item as HTML people can read: the note's words shaded by their evidence both ways (red towards an
ad, blue towards genuine, four intensity steps), rule signals underlined by kind, disclosure markers boxed.

Only classes, no inline styles, so the page's Content-Security-Policy can forbid inline CSS.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from notecheck.model.explain import WordAttribution
from notecheck.model.highlight import pieces
from notecheck.model.review.tables import ReviewItem
from notecheck.model.signals import Signal

STEPS = 4  # intensity steps of the shading, each a CSS class


@dataclass(frozen=True)
class Evidence:
    text: str
    score: float


def _words(item: ReviewItem) -> list[WordAttribution]:
    return [
        WordAttribution(int(w["start"]), int(w["end"]), str(w["text"]), str(w["field"]), float(w["score"]))
        for w in item.evidence or []
    ]


def _signals(item: ReviewItem) -> list[Signal]:
    return [
        Signal(s["kind"], int(s["start"]), int(s["end"]), str(s["text"]), s["field"], str(s["detail"]))
        for s in item.signals or []
    ]


def _step(score: float, scale: float) -> int:
    return max(1, min(STEPS, round(STEPS * abs(score) / scale + 0.49)))


def field_html(item: ReviewItem, field: str) -> Markup:
    """The title or the text with every word and signal marked up."""
    source = item.title if field == "title" else item.text
    words, signals = _words(item), _signals(item)
    scale = max((abs(w.score) for w in words), default=0.0) or 1.0
    out = []
    for piece in pieces(source, field, words, signals):
        text = html.escape(piece.text)
        classes, tips = [], []
        if piece.word is not None and abs(piece.word.score) >= 0.05 * scale:
            side = "ad" if piece.word.score > 0 else "gen"
            classes.append(f"ev-{side}-{_step(piece.word.score, scale)}")
            tips.append(f"evidence {piece.word.score:+.2f}")
        for signal in piece.signals:
            classes.append(f"sig sig-{signal.kind}")
            tips.append(f"{signal.kind}: {signal.detail}")
        if classes:
            tip = html.escape("; ".join(tips), quote=True)
            text = f'<span class="{" ".join(dict.fromkeys(classes))}" title="{tip}">{text}</span>'
        out.append(text)
    return Markup("".join(out))


def top_evidence(item: ReviewItem, k: int = 6) -> tuple[list[Evidence], list[Evidence]]:
    """The `k` words that pushed most towards an ad, and the `k` that pushed most towards genuine."""
    words = _words(item)
    towards = sorted((w for w in words if w.score > 0), key=lambda w: -w.score)[:k]
    against = sorted((w for w in words if w.score < 0), key=lambda w: w.score)[:k]
    return [Evidence(w.text, w.score) for w in towards], [Evidence(w.text, w.score) for w in against]


def signal_rows(item: ReviewItem) -> list[dict[str, Any]]:
    """The signals that moved P, strongest first (from the combiner's `signal_effects`)."""
    return sorted(item.signal_effects or [], key=lambda e: -abs(float(e.get("logit", 0.0))))
