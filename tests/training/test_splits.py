"""Split properties: grouped by author, stratified, deterministic, and frozen by hash."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import Note
from notecheck.training.splits import FrozenSplit, content_hash, proportions, split_notes

LABELS = ["genuine", "genuine", "genuine", "disclosed_ad", "undisclosed_ad", "undisclosed_ad"]


def synthetic(n_authors: int = 60, seed: int = 0) -> list[LabelledNote]:
    rng = random.Random(seed)
    notes = []
    for a in range(n_authors):
        lang = "zh" if a % 2 else "en"
        for k in range(rng.randint(4, 14)):
            label = rng.choice(LABELS)
            note = Note(text=f"note {a}-{k}", id=f"a{a}-{k}", author_id=f"a{a}", lang=lang)
            notes.append(LabelledNote(note, label))
    return notes


def test_no_author_in_two_splits() -> None:
    split = split_notes(synthetic())
    authors = [{n.note.author_id for n in part} for part in split.parts().values()]
    assert not (authors[0] & authors[1]) and not (authors[0] & authors[2]) and not (authors[1] & authors[2])
    assert sum(len(p) for p in split.parts().values()) == len(synthetic())


def test_sizes_and_strata_within_tolerance() -> None:
    notes = synthetic(120)
    split = split_notes(notes)
    assert 0.10 <= len(split.test) / len(notes) <= 0.20
    assert 0.10 <= len(split.validation) / len(notes) <= 0.20
    overall = proportions(notes)
    for part in (split.train, split.test):
        for stratum, share in proportions(part).items():
            assert abs(share - overall[stratum]) < 0.08, stratum


def test_same_seed_same_split_other_seed_other_split() -> None:
    a, b, c = (
        split_notes(synthetic(), seed=5),
        split_notes(synthetic(), seed=5),
        split_notes(synthetic(), seed=6),
    )
    assert content_hash(a.test) == content_hash(b.test)
    assert content_hash(a.test) != content_hash(c.test)


def test_frozen_split_round_trip(tmp_path: Path) -> None:
    notes = synthetic()
    split = split_notes(notes, seed=3)
    FrozenSplit.from_split(split, seed=3).save(tmp_path / "split.json")
    frozen = FrozenSplit.load(tmp_path / "split.json")
    again = frozen.apply(list(reversed(notes)))
    assert content_hash(again.test) == content_hash(split.test)
    assert {n.note.id for n in again.train} == {n.note.id for n in split.train}


def test_new_data_never_enters_test_and_leaky_authors_are_left_out() -> None:
    notes = synthetic()
    split = split_notes(notes)
    frozen = FrozenSplit.from_split(split, seed=13)
    test_author = split.test[0].note.author_id
    new = [
        LabelledNote(Note(text="fresh", id="new-1", author_id="brand-new"), "genuine"),
        LabelledNote(Note(text="leak", id="new-2", author_id=test_author), "genuine"),
    ]
    again = frozen.apply(notes + new)
    assert "new-1" in {n.note.id for n in again.train}
    assert "new-2" not in {n.note.id for part in again.parts().values() for n in part}
    assert content_hash(again.test) == frozen.test_hash


def test_changed_test_note_is_refused() -> None:
    notes = synthetic()
    frozen = FrozenSplit.from_split(split_notes(notes), seed=13)
    victim = next(n for n in notes if n.note.id in set(frozen.test_ids))
    victim.note.text += " edited"
    with pytest.raises(DatasetError, match="frozen test split"):
        frozen.apply(notes)


def test_too_few_authors() -> None:
    with pytest.raises(DatasetError, match="authors"):
        split_notes(synthetic(3))


def test_writer_split_holds_out_whole_writers_of_both_languages(tmp_path: Path) -> None:
    from notecheck.model.loader import LabelledNote
    from notecheck.model.schema import Note
    from notecheck.training.splits import FrozenSplit, split_by_writer, writer_of

    notes = []
    for lang in ("zh", "en"):
        for w in range(6):
            for i in range(9):
                note = Note(text=f"{lang}{w} {i}", id=f"{lang}{w}-{i}", author_id=f"{lang}{w}-a{i % 3}", lang=lang)
                extra = {"writer": f"{lang}{w}", "pair_id": f"{lang}{w}-p{i // 2}"}
                notes.append(LabelledNote(note, ("genuine", "undisclosed_ad", "disclosed_ad")[i % 3], extra))
    split, test_w, val_w = split_by_writer(notes, seed=5)
    assert len(test_w) == len(val_w) == 4 and not set(test_w) & set(val_w)
    assert {w[:2] for w in test_w} == {w[:2] for w in val_w} == {"zh", "en"}
    assert {writer_of(n) for n in split.test} == set(test_w)
    assert not {writer_of(n) for n in split.train} & set(test_w + val_w)
    pairs = {part: {n.extra["pair_id"] for n in getattr(split, part)} for part in ("train", "validation", "test")}
    assert not pairs["train"] & pairs["test"] and not pairs["validation"] & pairs["test"]  # twins stay together
    frozen = FrozenSplit.from_split(split, 5, test_w, val_w)
    frozen.save(tmp_path / "split.json")
    again = FrozenSplit.load(tmp_path / "split.json")
    assert again.test_writers == sorted(test_w)
    # a new note by a held-out writer never leaks into training
    newcomer = LabelledNote(
        Note(text="new", id="late-1", author_id="late-a", lang="zh"), "genuine", {"writer": test_w[0]}
    )
    applied = again.apply([*notes, newcomer])
    assert "late-1" not in {n.note.id for n in applied.train} and len(applied.test) == len(split.test)
    old_style = {"seed": 1, "test_ids": [], "validation_ids": [], "test_hash": frozen.test_hash}
    (tmp_path / "old.json").write_text(json.dumps(old_style), encoding="utf-8")
    assert FrozenSplit.load(tmp_path / "old.json").test_writers == []


def test_a_new_split_holds_out_writers_when_the_notes_name_them(tmp_path: Path) -> None:
    from notecheck.model.loader import LabelledNote
    from notecheck.model.schema import Note
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import make_split
    from notecheck.training.splits import FrozenSplit

    notes = [
        LabelledNote(
            Note(text=f"{lang}{w} {i}", id=f"{lang}{w}-{i}", author_id=f"{lang}{w}-a{i % 2}", lang=lang),
            ("genuine", "undisclosed_ad")[i % 2],
            {"writer": f"{lang}{w}"},
        )
        for lang in ("zh", "en")
        for w in range(6)
        for i in range(6)
    ]
    split = make_split(notes, TrainConfig(split_file=str(tmp_path / "s.json")))
    frozen = FrozenSplit.load(tmp_path / "s.json")
    assert len(frozen.test_writers) == 4 and {n.extra["writer"] for n in split.test} == set(frozen.test_writers)
