"""The bundled notes keep the data card's promises: labels agree with the disclosure rules, every v2 file passes
the writers' checker, pairs are complete and on one side of the frozen split, and no surface feature alone
gives the label away."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from notecheck.model.disclosure import rate
from notecheck.model.loader import load_notes
from notecheck.model.schema import is_commercial
from notecheck.training.datacheck import check
from notecheck.training.shortcuts import AUC_BOUNDS, audit
from notecheck.training.splits import FrozenSplit, writer_of

DATA = Path(__file__).resolve().parents[1] / "data"
V2_FILES = sorted((DATA / "notes").glob("[ze]w[0-9][0-9].jsonl"))


@pytest.fixture(scope="module")
def notes() -> list:
    loaded, _ = load_notes(sorted((DATA / "notes").glob("*.jsonl")))
    return loaded


def test_labels_agree_with_the_disclosure_rules(notes: list) -> None:
    wrong = []
    for n in notes:
        rating = rate(n.note.text, n.note.title).rating
        if (n.label == "disclosed_ad") != (rating == "clear"):
            wrong.append((n.note.id, n.label, rating))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("path", V2_FILES, ids=[p.stem for p in V2_FILES])
def test_every_writer_file_passes_the_checker(path: Path) -> None:
    problems, rows = check(path)
    assert not problems, problems[:5]
    assert len(rows) >= 250 and (DATA / "writers" / f"{path.stem}.md").is_file()


def test_v2_meets_the_dataset_targets(notes: list) -> None:
    v2 = [n for n in notes if n.extra.get("pair_id") is not None or n.extra.get("form")]
    assert len(notes) >= 8000 and len(v2) >= 6000
    assert len({writer_of(n) for n in notes}) >= 26
    assert sum(n.note.lang == "zh" for n in notes) / len(notes) >= 0.5
    assert len({n.note.author_id for n in v2}) >= 300
    assert sum(not n.note.title.strip() for n in notes) / len(notes) >= 0.4
    for lang, limit in (("en", 200), ("zh", 80)):
        mine = [n for n in notes if n.note.lang == lang]
        assert sum(len(n.note.text) < limit for n in mine) / len(mine) >= 0.3, lang
    pairs = Counter(n.extra["pair_id"] for n in notes if n.extra.get("pair_id"))
    assert sum(1 for c in pairs.values() if c == 2) >= 1500 and all(c == 2 for c in pairs.values())
    forms = Counter(n.extra.get("form") for n in v2)
    assert all(count >= 60 for form, count in forms.items() if form), forms
    profiles = {json.loads(line)["author_id"] for line in (DATA / "profiles.jsonl").read_text().splitlines()}
    assert {n.note.author_id for n in notes} <= profiles


def test_no_surface_feature_gives_the_label_away(notes: list) -> None:
    labels = [int(is_commercial(str(n.label))) for n in notes]
    result = audit([n.note.title for n in notes], [n.note.text for n in notes], labels)
    low, high = AUC_BOUNDS
    assert all(low <= v <= high for v in result.values()), result


def test_the_frozen_split_holds_out_whole_writers_and_keeps_pairs_together(notes: list) -> None:
    frozen = FrozenSplit.load(DATA / "splits.json")
    split = frozen.apply(notes)
    assert len(frozen.test_writers) >= 4 and len(frozen.validation_writers) >= 2
    assert {writer_of(n) for n in split.test} == set(frozen.test_writers)
    assert {n.note.lang for n in split.test} == {"zh", "en"}
    train_writers = {writer_of(n) for n in split.train}
    assert not train_writers & set(frozen.test_writers + frozen.validation_writers)
    side = {}
    for part, items in split.parts().items():
        for n in items:
            if n.extra.get("pair_id"):
                assert side.setdefault(n.extra["pair_id"], part) == part
    old = FrozenSplit.load(DATA / "splits_v1.json").apply(notes)  # the old split still applies
    assert len(old.test) == 316
