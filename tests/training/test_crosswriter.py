"""Cross-writer folds: whole writers held out, both languages in every group, nothing leaks between parts."""

from __future__ import annotations

import pytest

from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import Note
from notecheck.training.crosswriter import make_folds, writer_groups, writer_of


def corpus(writers_per_lang: int = 6, authors: int = 3, per_author: int = 8) -> list[LabelledNote]:
    out = []
    for lang in ("zh", "en"):
        for w in range(writers_per_lang):
            writer = f"{lang}w{w}"
            for a in range(authors):
                for i in range(per_author):
                    label = ("genuine", "disclosed_ad", "undisclosed_ad")[i % 3]
                    note = Note(text=f"{writer} {a} {i}", id=f"{writer}-{a}-{i}", author_id=f"{writer}-a{a}", lang=lang)
                    out.append(LabelledNote(note, label, {"writer": writer}))
    return out


def test_writer_of_falls_back_to_the_author() -> None:
    assert writer_of(LabelledNote(Note(text="x", id="n1", author_id="a1"), "genuine")) == "author:a1"
    assert writer_of(corpus(1, 1, 1)[0]) == "zhw0"


def test_groups_are_deterministic_and_mix_languages() -> None:
    notes = corpus()
    groups = writer_groups(notes, k=5)
    assert groups == writer_groups(list(reversed(notes)), k=5)
    assert sorted(w for g in groups for w in g) == sorted({writer_of(n) for n in notes})
    assert all({w[:2] for w in g} == {"zh", "en"} for g in groups)
    assert writer_groups(notes, k=5, seed=1) != groups
    with pytest.raises(DatasetError, match="cannot fill"):
        writer_groups(corpus(writers_per_lang=3), k=5)


def test_folds_hold_out_whole_writers_and_keep_parts_apart() -> None:
    notes = corpus()
    excluded = ["zhw5", "enw5"]
    folds = make_folds(notes, k=5, exclude=excluded, max_validation=20)
    assert len(folds) == 5
    for fold in folds:
        out_w = {writer_of(n) for n in fold.test_out}
        assert out_w == set(fold.test_writers) and not out_w & set(excluded)
        train_w = {writer_of(n) for n in fold.train}
        assert not train_w & (out_w | {writer_of(n) for n in fold.validation})
        assert {writer_of(n) for n in fold.test_in} <= train_w  # in-distribution: same writers...
        assert not {n.note.author_id for n in fold.test_in} & {n.note.author_id for n in fold.train}  # ...new authors
        assert len(fold.validation) == 20 and all(n.extra["writer"] not in excluded for n in fold.train)
    assert sorted(w for f in folds for w in f.test_writers) == sorted({writer_of(n) for n in notes} - set(excluded))


def test_fewer_than_three_groups_are_refused() -> None:
    with pytest.raises(DatasetError, match="at least 3"):
        writer_groups(corpus(), k=2)
