"""Surface features that must not predict the label on their own: the data card's shortcut audit.

A feature whose ROC AUC for "commercial" is far from 0.5 is a shortcut a model can learn instead of what makes
a note an ad (hashtag-heavy ads, long ads, titled ads). Writers keep each one within 0.35-0.65. Standard
library only, so writers can run the check without the project's environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764\u203c\u2049]")
_HASHTAG = re.compile(r"[#＃][^\s#＃]+")
_MENTION = re.compile(r"@[^\s@]+")

#: name -> feature(title, text) -> number
SURFACE_FEATURES: dict[str, Callable[[str, str], float]] = {
    "length": lambda title, text: float(len(text)),
    "title present": lambda title, text: float(bool(title.strip())),
    "emoji": lambda title, text: float(len(_EMOJI.findall(title + text))),
    "hashtags": lambda title, text: float(len(_HASHTAG.findall(text))),
    "line breaks": lambda title, text: float(text.count("\n")),
    "digits": lambda title, text: float(sum(ch.isdigit() for ch in title + text)),
    "@mentions": lambda title, text: float(len(_MENTION.findall(text))),
    "exclamations": lambda title, text: float(sum(text.count(c) for c in "!！")),
}

#: the audit's bounds: a single feature's AUC outside them gives the label away
AUC_BOUNDS = (0.35, 0.65)


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """ROC AUC of `scores` for `labels == 1` by average ranks (ties count half); 0.5 when one class is absent.

    >>> auc([1, 2, 3, 4], [0, 0, 1, 1])
    1.0
    >>> auc([1, 1, 1, 1], [0, 1, 0, 1])
    0.5
    """
    pos = sum(1 for y in labels if y == 1)
    neg = len(labels) - pos
    if not pos or not neg:
        return 0.5
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def audit(titles: Sequence[str], texts: Sequence[str], labels: Sequence[int]) -> dict[str, float]:
    """Each surface feature's ROC AUC for `labels` (1 = commercial)."""
    return {
        name: auc([feature(t, x) for t, x in zip(titles, texts, strict=True)], labels)
        for name, feature in SURFACE_FEATURES.items()
    }
