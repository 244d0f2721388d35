"""The note schema, the label set and the shapes predictions take.

Two label spaces live here on purpose:
- the *classifier* predicts `commercial` vs `genuine` from disclosure-masked text;
- the *verdict* shown to moderators (`genuine` / `disclosed_ad` / `undisclosed_ad`) combines that with the
  disclosure rating from `model.disclosure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: The classifier's classes, in id order. Saved as `id2label` in the model's config.
CLASSIFIER_LABELS: tuple[str, str] = ("genuine", "commercial")
COMMERCIAL = 1

#: The verdicts (and the dataset labels of the bundled data).
VERDICTS: tuple[str, str, str] = ("genuine", "disclosed_ad", "undisclosed_ad")
Verdict = Literal["genuine", "disclosed_ad", "undisclosed_ad"]
Action = Literal["allow", "review", "flag"]
Rating = Literal["clear", "inadequate", "none"]
LANGS: tuple[str, ...] = ("zh", "en")


@dataclass
class Note:
    """One note as users give it. Only `text` is required.

    >>> Note(text="新买的面霜，用了一周，还不错").title
    ''
    """

    text: str
    id: str | None = None
    title: str = ""
    author_id: str | None = None
    lang: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in `text` (JSON lets `"\\ud800"` through; no tokenizer can encode
    it), or None when the text is valid Unicode.

    >>> lone_surrogate("ok"), lone_surrogate("ab\\ud800")
    (None, 2)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return int(exc.start)
    return None


def is_commercial(label: str) -> bool:
    """Whether a verdict-space label is commercial (both kinds of ad are)."""
    return label in ("disclosed_ad", "undisclosed_ad", "commercial")


def detect_lang(text: str) -> str:
    """`zh` when at least a fifth of the letters are CJK ideographs, else `en`: cheap, enough for slices."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh" if letters and cjk / letters >= 0.2 else "en"
