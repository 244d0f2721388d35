"""Words of a note and the merging of token scores onto them, for explanations.

A *word* is a span of the ORIGINAL title or text: a Latin-script word or number ("ANNA15", "don't", "29.99",
"20%"), a Chinese word from jieba's segmentation, or one symbol (punctuation, an emoji with its joiners
and modifiers). Whitespace belongs to no word. Tokens map onto words by character overlap, so a sub-word
token's score lands on its word and a token spanning two words is shared by overlap length.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from notecheck.model.disclosure import mask
from notecheck.model.schema import Note

Field = str  # "title" or "text"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_JOINERS = "\u200d\ufe0f\u20e3\U0001f3fb-\U0001f3ff"  # ZWJ, emoji presentation, keycap, skin tones
_SEGMENT = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    rf"|(?P<word>[^\W_{_CJK}]+(?:['’-][^\W_{_CJK}]+|[.,]\d+)*%?)"
    rf"|(?P<symbol>[^\s{_JOINERS}](?:\u200d[^\s]|[{_JOINERS}])*|[{_JOINERS}]+)"
)
_jieba_lock = threading.Lock()
_jieba_ready = False


@dataclass(frozen=True)
class Word:
    """A span of a note field: `text == getattr(note, field)[start:end]`."""

    start: int
    end: int
    text: str
    field: Field


def _jieba_spans(run: str) -> list[tuple[int, int]]:
    """Word spans of a run of Chinese characters. jieba loads its dictionary once, quietly."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return [(start, end) for _, start, end in jieba.tokenize(run)]


def split_words(source: str, field: Field = "text") -> list[Word]:
    """The words of `source`, in order, never overlapping.

    >>> [w.text for w in split_words("Use code ANNA15! 优惠码冲鸭👍🏻")]  # doctest: +SKIP
    ['Use', 'code', 'ANNA15', '!', '优惠', '码', '冲', '鸭', '👍🏻']
    """
    words: list[Word] = []
    for m in _SEGMENT.finditer(source):
        if m.lastgroup == "cjk":
            base = m.start()
            words += [Word(base + s, base + e, source[base + s : base + e], field) for s, e in _jieba_spans(m.group())]
        else:
            words.append(Word(m.start(), m.end(), m.group(), field))
    return words


def note_words(note: Note) -> list[Word]:
    """Words of the title, then of the text."""
    return split_words(note.title or "", "title") + split_words(note.text, "text")


@dataclass(frozen=True)
class InputLayout:
    """Where the title and the body sit inside `model.classifier.model_input(note)`.

    The input is `mask(title).strip() + "\\n" + mask(text)` (or just `mask(text)`): masking keeps lengths,
    so only the stripped leading blanks of the title shift its offsets.
    """

    title_len: int  # characters of the title inside the model input
    title_lead: int  # leading characters stripped from the masked title
    body_offset: int  # where the body starts inside the model input

    @classmethod
    def of(cls, note: Note, body_offset: int) -> InputLayout:
        masked = mask(note.title) if note.title else ""
        stripped = masked.strip()
        return cls(len(stripped), len(masked) - len(masked.lstrip()), body_offset)

    def to_field(self, start: int, end: int) -> tuple[Field, int, int] | None:
        """A model-input span as (field, start, end) of the original note; None for the joint between them."""
        if start < self.title_len:
            return "title", start + self.title_lead, min(end, self.title_len) + self.title_lead
        if end > self.body_offset:
            return "text", max(start, self.body_offset) - self.body_offset, end - self.body_offset
        return None


def merge_scores(
    words: Sequence[Word], layout: InputLayout, offsets: Sequence[tuple[int, int]], scores: Sequence[float]
) -> list[float]:
    """Sum token scores onto words; a token overlapping several words is shared by overlap length.

    Tokens with an empty span (special tokens) or covering only whitespace add nothing.
    """
    by_field: dict[Field, list[int]] = {}
    for i, w in enumerate(words):
        by_field.setdefault(w.field, []).append(i)
    starts = {f: [words[i].start for i in idx] for f, idx in by_field.items()}
    totals = [0.0] * len(words)
    for (a, b), score in zip(offsets, scores, strict=True):
        span = layout.to_field(a, b) if b > a else None
        if span is None or span[0] not in by_field:
            continue
        field, start, end = span
        idx, pos = by_field[field], max(0, bisect.bisect_right(starts[field], start) - 1)
        hits: list[tuple[int, int]] = []
        while pos < len(idx) and words[idx[pos]].start < end:
            w = words[idx[pos]]
            overlap = min(end, w.end) - max(start, w.start)
            if overlap > 0:
                hits.append((idx[pos], overlap))
            pos += 1
        covered = sum(n for _, n in hits)
        for i, n in hits:
            totals[i] += float(score) * n / covered
    return totals


def without_spans(source: str, spans: Sequence[tuple[int, int]]) -> str:
    """`source` with the characters of `spans` removed (spans may come in any order, never overlap)."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(source[last:start])
        last = max(last, end)
    out.append(source[last:])
    return "".join(out)


def delete_words(note: Note, words: Sequence[Word]) -> Note:
    """A copy of `note` with the characters of `words` removed from its title and text."""
    spans: dict[Field, list[tuple[int, int]]] = {"title": [], "text": []}
    for w in words:
        spans[w.field].append((w.start, w.end))
    return Note(
        text=without_spans(note.text, spans["text"]),
        id=note.id,
        title=without_spans(note.title or "", spans["title"]),
        author_id=note.author_id,
        lang=note.lang,
        metadata=dict(note.metadata),
    )
