"""Cross-writer evaluation: train on some writers, test on writers the model never saw.

Our own test split was written by the hands that wrote the training notes, so it flatters any model that
learns how our writers write. Here every fold holds out a whole group of writers (both languages in each
group) and reports, beside it, the in-distribution figure on held-out authors of the training writers:

- fold k tests on writer group k (out of distribution: *writer-held-out*);
- validation (temperature, signal combiner, thresholds) is writer group k+1, also unseen in training;
- training uses the remaining groups, less an author-grouped share kept as the *in-distribution* test.

Writers of the frozen test split stay out of every fold, so choosing a recipe here never looks at them.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import detect_lang
from notecheck.training.splits import hold_out_groups, writer_of

log = logging.getLogger(__name__)


def writer_langs(notes: Sequence[LabelledNote]) -> dict[str, str]:
    """Each writer's main language."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for n in notes:
        counts[writer_of(n)][n.note.lang or detect_lang(n.note.text)] += 1
    return {w: c.most_common(1)[0][0] for w, c in counts.items()}


def _order(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def writer_groups(
    notes: Sequence[LabelledNote], k: int = 5, seed: int = 13, exclude: Sequence[str] = ()
) -> list[list[str]]:
    """`k` groups of whole writers, each language dealt round-robin so every group has both languages.

    The order is a seeded hash of the writer names: deterministic, and not chosen by looking at results.
    """
    if k < 3:
        raise DatasetError("folds", None, None, f"need at least 3 writer groups (test, validation, train), got {k}")
    langs = {w: lang for w, lang in writer_langs(notes).items() if w not in set(exclude)}
    groups: list[list[str]] = [[] for _ in range(k)]
    slot = 0
    for lang in sorted(set(langs.values())):
        writers = sorted((w for w, g in langs.items() if g == lang), key=lambda w: _order(w, seed))
        if len(writers) < k:
            raise DatasetError("writers", None, "writer", f"{len(writers)} {lang} writers cannot fill {k} folds")
        for w in writers:
            groups[slot % k].append(w)
            slot += 1
    return [sorted(g) for g in groups]


@dataclass
class Fold:
    """One cross-writer fold: notes to train on, validate on (unseen writers) and test on, in and out."""

    index: int
    test_writers: list[str]
    validation_writers: list[str]
    train: list[LabelledNote]
    validation: list[LabelledNote]
    test_out: list[LabelledNote]  # writers never seen in training
    test_in: list[LabelledNote]  # unseen authors of the training writers

    def describe(self) -> str:
        return (
            f"fold {self.index}: test writers {', '.join(self.test_writers)} ({len(self.test_out)} notes); "
            f"validation {', '.join(self.validation_writers)} ({len(self.validation)}); "
            f"train {len(self.train)}; in-distribution test {len(self.test_in)}"
        )


def make_folds(
    notes: Sequence[LabelledNote],
    k: int = 5,
    seed: int = 13,
    exclude: Sequence[str] = (),
    in_distribution: float = 0.15,
    max_train: int = 0,
    max_validation: int = 0,
    max_in: int = 0,
) -> list[Fold]:
    """The `k` cross-writer folds. `max_train`, `max_validation` and `max_in` (when > 0) subsample each
    fold's training, validation and in-distribution test notes (the affordable budget on two CPU cores),
    at random with a fixed seed, the same way for every recipe; the writer-held-out test is never cut."""
    groups = writer_groups(notes, k, seed, exclude)
    by_writer: dict[str, list[LabelledNote]] = defaultdict(list)
    for n in notes:
        by_writer[writer_of(n)].append(n)
    folds = []
    for i in range(k):
        test_w, val_w = groups[i], groups[(i + 1) % k]
        rest = [n for w in sorted(by_writer) if w not in test_w + val_w and w not in exclude for n in by_writer[w]]
        keep, held = hold_out_groups(rest, in_distribution, seed + i)
        rng = random.Random(seed * 7919 + i)
        folds.append(
            Fold(
                i,
                test_w,
                val_w,
                _sample([rest[j] for j in keep], max_train, rng),
                _sample([n for w in val_w for n in by_writer[w]], max_validation, rng),
                [n for w in test_w for n in by_writer[w]],
                _sample([rest[j] for j in held], max_in, rng),
            )
        )
    return folds


def _sample(notes: list[LabelledNote], limit: int, rng: random.Random) -> list[LabelledNote]:
    if not limit or len(notes) <= limit:
        return notes
    return sorted(rng.sample(notes, limit), key=lambda n: str(n.note.id))
