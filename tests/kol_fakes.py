"""KOL test support: a classifier that answers with the notes' dataset labels, and the bundled data, loaded once.

Imported by module name (pytest puts `tests/` on `sys.path` for its conftest); named uniquely so no other
test directory's helper can shadow it. With ground-truth labels as "predictions", KOL tests check the
report logic without depending on a trained model.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from notecheck.model.classifier import Prediction, as_note
from notecheck.model.disclosure import Disclosure, rate
from notecheck.model.kol.check import Profile
from notecheck.model.kol.data import load_profiles
from notecheck.model.loader import LabelledNote, load_notes
from notecheck.model.metadata import ModelMetadata
from notecheck.model.schema import Note, is_commercial

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
KINDS = ("ordinary", "honest_kol", "private_order_kol", "bought_engagement")


class LabelClassifier:
    """`Classifier.predict`'s shape; the verdict is the note's label (looked up by id), P(commercial) 0.9 for
    ads and 0.1 otherwise, the disclosure rated by the real rules. Records every batch it is given."""

    def __init__(self, labels: Mapping[str, str], version: str = "labels-1") -> None:
        self.labels = dict(labels)
        self.metadata = ModelMetadata(version=version, base_model="dataset labels", max_length=64)
        self.batches: list[list[str | None]] = []

    @property
    def version(self) -> str:
        return self.metadata.version

    def predict(self, notes: Sequence[Note | str]) -> list[Prediction]:
        items = [as_note(n) for n in notes]
        self.batches.append([n.id for n in items])
        out = []
        for n in items:
            label = self.labels.get(n.id or "", "genuine")  # the server's warm-up note has no label
            p = 0.9 if is_commercial(label) else 0.1
            action = "flag" if label == "undisclosed_ad" else "allow"
            disclosure = _rate(n.text, n.title)
            out.append(Prediction(n.id, p, label, action, disclosure, False, len(n.text)))  # type: ignore[arg-type]
        return out


@functools.lru_cache(maxsize=8192)
def _rate(text: str, title: str) -> Disclosure:
    """The real disclosure rating, cached: tests score the same bundled notes again and again."""
    return rate(text, title)


@functools.cache
def bundled() -> tuple[list[LabelledNote], dict[str, Profile]]:
    """The first release's bundled notes (with labels) and profiles, loaded once per test session: its
    accounts were written to the engagement design of each account type (data/README.md), which these
    tests check the KOL report against."""
    notes, _ = load_notes(sorted((DATA / "notes").glob("[ez][nh]_*.jsonl")))
    return notes, load_profiles(DATA / "profiles.jsonl")


def label_classifier(notes: Iterable[LabelledNote]) -> LabelClassifier:
    return LabelClassifier({n.note.id or "": n.label or "genuine" for n in notes})


def authors_of_kind(profiles: Mapping[str, Profile], kind: str, present: set[str]) -> list[str]:
    return sorted(a for a, p in profiles.items() if p.account_type == kind and a in present)


def write_jsonl(path: Path, notes: Iterable[LabelledNote]) -> Path:
    """Write notes back as JSONL rows (with label and engagement fields), e.g. a subset for a CLI test."""
    with path.open("w", encoding="utf-8") as fh:
        for item in notes:
            n = item.note
            meta = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in n.metadata.items()}
            row = {"id": n.id, "author_id": n.author_id, "lang": n.lang, "label": item.label, "title": n.title}
            fh.write(json.dumps({**row, "text": n.text, **meta}, ensure_ascii=False) + "\n")
    return path
