"""Copy-paste comments: the share of an author's comments that duplicate or nearly duplicate another one.

Comment farms post the same few generic lines under every note ("好用！已入手", "求链接", "Need this!!"),
varied by an emoji or an extra "!!". Comments are compared after `normalise_comment` (letters and digits
only, lower-cased), as identical strings or by character 3-gram Jaccard similarity >= 0.8.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from notecheck.model.schema import Note

NEAR_DUPLICATE_JACCARD = 0.8  # character 3-gram Jaccard at or above which two comments are near-duplicates
MAX_COMMENTS = 5000  # comments compared per author (the first ones, in note order): bounds the pairwise work


def normalise_comment(text: str) -> str:
    """Lower-cased letters and digits only: emoji, punctuation and whitespace stripped (NFKC first).

    >>> normalise_comment("Need this!! 🔥")
    'needthis'
    >>> normalise_comment("好用！已入手👍")
    '好用已入手'
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def char_ngrams(text: str, n: int = 3) -> frozenset[str]:
    """Character n-grams of `text`; a text shorter than `n` is its own single gram."""
    if len(text) < n:
        return frozenset([text])
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def duplicate_flags(comments: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[bool]:
    """For each comment, whether another comment is identical after `normalise_comment` or a near-duplicate
    (character 3-gram Jaccard >= `threshold`). Emoji-only comments normalise to "" and match each other.

    Candidates come from an inverted index of 3-grams, so unrelated comments are never compared.
    """
    normal = [normalise_comment(c) for c in comments]
    grams = [char_ngrams(t) for t in normal]
    flags = [False] * len(normal)
    first_seen: dict[str, int] = {}
    index: dict[str, list[int]] = {}
    for i, (text, gs) in enumerate(zip(normal, grams, strict=True)):
        if text in first_seen:
            flags[i] = flags[first_seen[text]] = True
        else:
            first_seen[text] = i
            candidates = {j for g in gs for j in index.get(g, ())}
            for j in sorted(candidates):
                small, large = sorted((len(gs), len(grams[j])))
                if large and small / large < threshold:
                    continue  # Jaccard can never reach the threshold: sizes too different
                if jaccard(gs, grams[j]) >= threshold:
                    flags[i] = flags[j] = True
            for g in gs:
                index.setdefault(g, []).append(i)
    return flags


def duplicate_share(comments: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> float | None:
    """Share of comments that duplicate or nearly duplicate another one; None without comments.

    >>> duplicate_share(["Need this!!", "Need this!! 🔥", "Where is the dress from?"])
    0.6666666666666666
    """
    flags = duplicate_flags(list(comments)[:MAX_COMMENTS], threshold)
    return sum(flags) / len(flags) if flags else None


def comment_texts(notes: Iterable[Note]) -> list[str]:
    """All comment texts of the notes, in order (`comment_texts` in each note's metadata)."""
    out: list[str] = []
    for note in notes:
        texts = note.metadata.get("comment_texts") or []
        out.extend(t for t in texts if isinstance(t, str))
    return out
