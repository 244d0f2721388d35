"""Deterministic train/validation/test splits, grouped by author (or by writer) and stratified by label and language.

No author appears in two splits, so the model is never tested on a voice it trained on. With a `writer`
field in the data, `split_by_writer` goes further: test and validation hold whole *writers* the model never
saw, the honest measure for notes nobody on the team wrote. The test split is frozen once made: `FrozenSplit`
records its note ids (and held-out writers) and content hash, and every later training or retraining run
re-uses exactly those notes (and refuses to run if their content changed).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import detect_lang

log = logging.getLogger(__name__)


@dataclass
class Split:
    train: list[LabelledNote]
    validation: list[LabelledNote]
    test: list[LabelledNote]

    def describe(self) -> str:
        return ", ".join(f"{name} {len(part)}" for name, part in self.parts().items())

    def parts(self) -> dict[str, list[LabelledNote]]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def content_hash(notes: Sequence[LabelledNote]) -> str:
    """sha256 over the notes' ids, titles, texts and labels, independent of their order."""
    lines = sorted(f"{n.note.id}\x1f{n.note.title}\x1f{n.note.text}\x1f{n.label}" for n in notes)
    return hashlib.sha256("\x1e".join(lines).encode("utf-8")).hexdigest()


def group_of(item: LabelledNote) -> str:
    return item.note.author_id or f"note:{item.note.id}"


def stratum_of(item: LabelledNote) -> str:
    return f"{item.label}|{item.note.lang or detect_lang(item.note.text)}"


def hold_out_groups(items: Sequence[LabelledNote], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (rest, held) with about `fraction` of items held out, whole groups at a time."""
    n_splits = max(2, round(1 / fraction))
    groups = [group_of(i) for i in items]
    if len(set(groups)) < n_splits:
        raise DatasetError(
            "split", None, "author_id", f"need at least {n_splits} authors to split, got {len(set(groups))}"
        )
    strata = [stratum_of(i) for i in items]
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(folds.split(np.zeros(len(items)), strata, groups))
    return rest.tolist(), held.tolist()


def split_notes(notes: Sequence[LabelledNote], seed: int = 13, test: float = 0.15, validation: float = 0.15) -> Split:
    """Split by author, stratified by label x language; the same seed gives the same split."""
    rest_idx, test_idx = hold_out_groups(notes, test, seed)
    rest = [notes[i] for i in rest_idx]
    train_idx, val_idx = hold_out_groups(rest, validation / (1 - test), seed + 1)
    split = Split([rest[i] for i in train_idx], [rest[i] for i in val_idx], [notes[i] for i in test_idx])
    log.info("split by author: %s", split.describe())
    return split


def writer_of(item: LabelledNote) -> str:
    """Who wrote a note: its `writer` field, else its author (each author then counts as a writer)."""
    value = item.extra.get("writer") or item.note.metadata.get("writer")
    return str(value) if value else f"author:{group_of(item)}"


def choose_writers(notes: Sequence[LabelledNote], per_lang: int, seed: int, exclude: Sequence[str] = ()) -> list[str]:
    """`per_lang` writers of each language, by a seeded hash of their names (chosen blind to results)."""
    langs: dict[str, Counter[str]] = {}
    for n in notes:
        langs.setdefault(writer_of(n), Counter())[n.note.lang or detect_lang(n.note.text)] += 1
    chosen = []
    for lang in sorted({c.most_common(1)[0][0] for c in langs.values()}):
        pool = sorted(
            (w for w, c in langs.items() if c.most_common(1)[0][0] == lang and w not in exclude),
            key=lambda w: hashlib.sha256(f"{seed}:{w}".encode()).hexdigest(),
        )
        if len(pool) < per_lang:
            raise DatasetError("split", None, "writer", f"need {per_lang} {lang} writers to hold out, have {len(pool)}")
        chosen += pool[:per_lang]
    return sorted(chosen)


def split_by_writer(
    notes: Sequence[LabelledNote], seed: int = 13, test_per_lang: int = 2, validation_per_lang: int = 2
) -> tuple[Split, list[str], list[str]]:
    """Test and validation of whole writers never seen in training, both languages in each; returns the
    split and the test and validation writers. Counterfactual twins share a writer, so they share a side."""
    test_writers = choose_writers(notes, test_per_lang, seed)
    val_writers = choose_writers(notes, validation_per_lang, seed + 1, exclude=test_writers)
    parts: dict[str, list[LabelledNote]] = {"train": [], "validation": [], "test": []}
    for n in notes:
        w = writer_of(n)
        parts["test" if w in test_writers else "validation" if w in val_writers else "train"].append(n)
    split = Split(parts["train"], parts["validation"], parts["test"])
    log.info("split by writer: %s (test %s, validation %s)", split.describe(), test_writers, val_writers)
    return split, test_writers, val_writers


@dataclass
class FrozenSplit:
    """The record that pins a split: ids per part, the held-out writers (writer splits) and the test hash."""

    seed: int
    test_ids: list[str]
    validation_ids: list[str]
    test_hash: str
    test_writers: list[str] = field(default_factory=list)
    validation_writers: list[str] = field(default_factory=list)

    @classmethod
    def from_split(
        cls, split: Split, seed: int, test_writers: Sequence[str] = (), validation_writers: Sequence[str] = ()
    ) -> FrozenSplit:
        return cls(
            seed=seed,
            test_ids=sorted(str(n.note.id) for n in split.test),
            validation_ids=sorted(str(n.note.id) for n in split.validation),
            test_hash=content_hash(split.test),
            test_writers=sorted(test_writers),
            validation_writers=sorted(validation_writers),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FrozenSplit:
        try:
            return cls(**json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise DatasetError(path, None, None, f"not a frozen split file: {exc}") from exc

    def apply(self, notes: Sequence[LabelledNote]) -> Split:
        """Re-create the pinned split. Notes not seen when it was frozen go to training, except those by an
        author or a writer of the validation or test split (they would leak that voice), which are left out."""
        test_ids, val_ids = set(self.test_ids), set(self.validation_ids)
        test = [n for n in notes if n.note.id in test_ids]
        validation = [n for n in notes if n.note.id in val_ids]
        if len(test) != len(test_ids) or content_hash(test) != self.test_hash:
            raise DatasetError("split", None, None, "the frozen test split's notes are missing or changed")
        held_authors = {group_of(n) for n in test + validation}
        held_writers = set(self.test_writers) | set(self.validation_writers)
        train, dropped = [], 0
        for n in notes:
            if n.note.id in test_ids or n.note.id in val_ids:
                continue
            if group_of(n) in held_authors or writer_of(n) in held_writers:
                dropped += 1
                continue
            train.append(n)
        if dropped:
            log.warning("%d new notes left out: their authors or writers are in the validation or test split", dropped)
        return Split(train, validation, test)


def proportions(notes: Sequence[LabelledNote]) -> dict[str, float]:
    counts = Counter(stratum_of(n) for n in notes)
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in sorted(counts.items())}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m notecheck.training.splits data/notes --out data/splits.json`: freeze a writer-held-out split."""
    import argparse

    from notecheck.model.loader import load_notes

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("data", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--test-per-lang", type=int, default=2)
    parser.add_argument("--validation-per-lang", type=int, default=2)
    args = parser.parse_args(argv)
    from notecheck.training.pipeline import data_files

    notes, _ = load_notes(data_files(args.data))
    split, test_w, val_w = split_by_writer(notes, args.seed, args.test_per_lang, args.validation_per_lang)
    FrozenSplit.from_split(split, args.seed, test_w, val_w).save(args.out)
    print(f"{split.describe()}; test writers {', '.join(test_w)}; validation writers {', '.join(val_w)}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
