"""Rendering explanations for people: a standalone HTML snippet or page, and ANSI text for terminals.

Background intensity follows a word's score relative to the note's largest absolute score (red: towards
commercial, blue: towards genuine); rule signals are underlined. Without colours, the top evidence words are
put in [brackets].
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from notecheck.model.explain import Explanation, WordAttribution
from notecheck.model.signals import Signal

_TOWARDS = (220, 38, 38)  # red: raises P(commercial)
_AGAINST = (37, 99, 235)  # blue: lowers it
_SIGNAL_COLOUR = "#7c3aed"
_STYLE = (
    "font-family:system-ui,sans-serif;line-height:1.7;max-width:46em;border:1px solid #ddd;"
    "border-radius:6px;padding:0.8em 1em;margin:0.8em 0"
)


@dataclass(frozen=True)
class Piece:
    """A run of characters of one field with the same word and the same signals."""

    start: int
    text: str
    word: WordAttribution | None
    signals: tuple[Signal, ...]


def pieces(source: str, field: str, words: Sequence[WordAttribution], signals: Sequence[Signal]) -> list[Piece]:
    """Cut `source` at every word and signal boundary of `field`; each piece knows its word and signals."""
    words = [w for w in words if w.field == field]
    signals = [s for s in signals if s.field == field]
    spans = [(w.start, w.end) for w in words] + [(s.start, s.end) for s in signals]
    cuts = sorted({0, len(source)}.union(*spans))
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if b <= a:
            continue
        word = next((w for w in words if w.start <= a and b <= w.end), None)
        covering = tuple(s for s in signals if s.start <= a and b <= s.end)
        out.append(Piece(a, source[a:b], word, covering))
    return out


def _scale(words: Sequence[WordAttribution]) -> float:
    return max((abs(w.score) for w in words), default=0.0) or 1.0


def _rgba(score: float, scale: float) -> str:
    r, g, b = _TOWARDS if score > 0 else _AGAINST
    return f"rgba({r},{g},{b},{min(1.0, abs(score) / scale):.2f})"


def _field_html(source: str, field: str, e: Explanation, scale: float) -> str:
    out = []
    for p in pieces(source, field, e.words, e.signals):
        text = html.escape(p.text)
        style, tips = [], []
        if p.word is not None and p.word.score != 0:
            style.append(f"background:{_rgba(p.word.score, scale)}")
            tips.append(f"score {p.word.score:+.3f}")
        if p.signals:
            style.append(f"text-decoration:underline 2px {_SIGNAL_COLOUR};text-underline-offset:3px")
            tips += [f"{s.kind}: {s.detail}" for s in p.signals]
        if style:
            tip = html.escape("; ".join(tips), quote=True)
            text = f'<span style="{";".join(style)}" title="{tip}">{text}</span>'
        out.append(text)
    return "".join(out)


def explanation_html(e: Explanation) -> str:
    """One note as a standalone `<div>`: verdict line, title and text highlighted, top evidence, legend."""
    p, scale = e.prediction, _scale(e.words)
    head = (
        f"<b>{html.escape(p.verdict)}</b> · P(commercial) {p.p_commercial:.3f} · action {html.escape(p.action)}"
        f" · disclosure {html.escape(p.disclosure.rating)} · method {html.escape(e.method)}"
        f" · model {html.escape(e.model_version)}"
    )
    parts = [f'<div class="notecheck-explanation" style="{_STYLE}">', f'<div style="font-size:0.9em">{head}</div>']
    if e.note.id:
        parts.append(f'<div style="color:#666;font-size:0.8em">id {html.escape(e.note.id)}</div>')
    if e.note.title:
        parts.append(
            f'<div style="font-weight:bold;white-space:pre-wrap">{_field_html(e.note.title, "title", e, scale)}</div>'
        )
    parts.append(f'<div style="white-space:pre-wrap">{_field_html(e.note.text, "text", e, scale)}</div>')
    if e.evidence:
        top = ", ".join(f"{html.escape(w.text)} ({w.score:+.2f})" for w in e.evidence)
        parts.append(f'<div style="font-size:0.85em;margin-top:0.5em">top evidence: {top}</div>')
    parts.append(_legend())
    parts.append("</div>")
    return "\n".join(parts)


def _legend() -> str:
    red, blue = _rgba(1, 1), _rgba(-1, 1)
    return (
        '<div style="font-size:0.75em;color:#555;margin-top:0.5em">'
        f'<span style="background:{red}">&nbsp;red&nbsp;</span> raises P(commercial), '
        f'<span style="background:{blue}">&nbsp;blue&nbsp;</span> lowers it (intensity: share of the note\'s '
        "strongest word; scores are calibrated log-odds); "
        f'<span style="text-decoration:underline 2px {_SIGNAL_COLOUR}">underlined</span>: a rule signal '
        "(hover for which)</div>"
    )


def html_page(explanations: Sequence[Explanation], title: str = "notecheck explanations", footer: str = "") -> str:
    """A whole HTML document with one snippet per note; `footer` is trusted HTML put after them."""
    body = "\n".join([*(explanation_html(e) for e in explanations), footer])
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _ansi_bg(score: float, scale: float) -> str:
    share = min(1.0, abs(score) / scale)
    r, g, b = (255, round(255 - 200 * share), round(255 - 200 * share))
    if score < 0:
        r, b = b, r
    return f"\x1b[48;2;{r};{g};{b}m\x1b[38;2;0;0;0m"


def _field_ansi(source: str, field: str, e: Explanation, scale: float, color: bool) -> str:
    evidence = {(w.field, w.start) for w in e.evidence}
    out = []
    for p in pieces(source, field, e.words, e.signals):
        if not color:
            marked = p.word is not None and (p.word.field, p.word.start) in evidence
            first = marked and p.word is not None and p.word.start == p.start
            last = marked and p.word is not None and p.word.end == p.start + len(p.text)
            out.append(("[" if first else "") + p.text + ("]" if last else ""))
            continue
        codes = _ansi_bg(p.word.score, scale) if p.word is not None and p.word.score != 0 else ""
        codes += "\x1b[4m" if p.signals else ""
        out.append(f"{codes}{p.text}\x1b[0m" if codes else p.text)
    return "".join(out)


def explanation_ansi(e: Explanation, color: bool = True) -> str:
    """The note for a terminal: background by score and signals underlined, or [top evidence] in brackets."""
    scale = _scale(e.words)
    lines = []
    if e.note.title:
        lines.append(_field_ansi(e.note.title, "title", e, scale, color))
    lines.append(_field_ansi(e.note.text, "text", e, scale, color))
    return "\n".join(lines)
