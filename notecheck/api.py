"""The Python API: `from notecheck import Notecheck`.

>>> from notecheck import Notecheck  # doctest: +SKIP
>>> nc = Notecheck.load("runs/default")  # doctest: +SKIP
>>> nc.predict(["新买的面霜用了一周，还不错", "DM me for the link, code ANNA15"]).to_pandas()  # doctest: +SKIP

Every method takes a list (or one item) and returns a list of the same length and order: `predict` and
`explain` one result per note, `kol` one report per author. Results are the core's own types
(`Prediction`, `Explanation`, `KolReport`), each with `.to_dict()`; the lists add `.to_dicts()` and
`.to_pandas()`. The CLI and the HTTP API call the same `Classifier.predict` underneath.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.loader import validate_row
from notecheck.model.paths import bundled_path
from notecheck.model.readers import ColumnMap
from notecheck.model.schema import Note

if TYPE_CHECKING:
    import pandas as pd

    from notecheck.model.classifier import Prediction
    from notecheck.model.explain import Explanation
    from notecheck.model.kol.check import KolReport

#: Where `Notecheck.load()` looks without a path: `NOTECHECK_MODEL_DIR`, else what `notecheck demo` trains.
DEFAULT_MODEL_DIR = Path("runs") / "default"

NoteLike = str | Note | Mapping[str, Any]


class _HasDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=_HasDict)


class Results(list[T], Generic[T]):
    """A plain list of results with two helpers: `to_dicts()` and `to_pandas()` (one row per result)."""

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame.from_records(self.to_dicts())


def default_model_dir() -> Path:
    """`NOTECHECK_MODEL_DIR` when set, else `runs/default` (where `notecheck demo` puts the default model),
    from the working directory or, failing that, the clone's."""
    return Path(os.environ.get("NOTECHECK_MODEL_DIR") or bundled_path(DEFAULT_MODEL_DIR))


def as_notes(items: NoteLike | Iterable[NoteLike]) -> list[Note]:
    """Strings, `Note`s or dicts with the note-file fields (`text`, `title`, `id`, `author_id`, `likes`, ...).

    A dict is checked the way a row of a note file is, so a bad field is named: `notes[2].text: empty text`.
    """
    if isinstance(items, str | Note | Mapping):
        items = [items]
    notes = []
    for i, item in enumerate(items):
        if isinstance(item, Note):
            notes.append(item)
        elif isinstance(item, str):
            notes.append(Note(text=item))
        elif isinstance(item, Mapping):
            notes.append(validate_row(item, ColumnMap(), None, ("notes", i)).note)
        else:
            raise DatasetError("notes", i, "note", f"must be a string, a Note or a dict, got {type(item).__name__}")
    return notes


class Notecheck:
    """A loaded model and everything it answers: verdicts, explanations, KOL reports."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    @classmethod
    def load(cls, path: str | Path | None = None, runtime: str = "fp32") -> Notecheck:
        """Load a model directory (a `notecheck train` output); without `path`, `default_model_dir()`."""
        where = Path(path) if path is not None else default_model_dir()
        if path is None and not where.is_dir():
            raise ConfigError(
                f"no model at {where}: train the default one with `notecheck demo` (or `notecheck train`), "
                "or pass a model directory"
            )
        return cls(Classifier.from_pretrained(where, runtime=runtime))

    @property
    def version(self) -> str:
        return self.classifier.version

    def predict(self, notes: NoteLike | Iterable[NoteLike]) -> Results[Prediction]:
        """One `Prediction` per note (verdict, calibrated `p_commercial`, moderation action, disclosure, signals)."""
        return Results(self.classifier.predict(as_notes(notes)))

    def explain(self, notes: NoteLike | Iterable[NoteLike], method: str = "ig", top_k: int = 8) -> Results[Explanation]:
        """Which words and which rule signals made each verdict (`method`: `ig` or `occlusion`)."""
        from notecheck.model.explain import Explainer

        return Results(Explainer(self.classifier).explain(as_notes(notes), method=method, top_k=top_k))

    def kol(
        self,
        notes: NoteLike | Iterable[NoteLike],
        profiles: Mapping[str, Any] | str | Path | None = None,
        as_of: dt.date | None = None,
    ) -> Results[KolReport]:
        """One authenticity report per `author_id` in `notes`: private orders, disclosure, engagement.

        `profiles` maps author id to a `Profile` (or its dict: followers, account_type), or names a
        `profiles.jsonl`; without it, follower-based checks are reported as not measured.
        """
        from notecheck.model.kol.check import Profile, build_reports
        from notecheck.model.kol.data import load_profiles, reference_from_notes

        plain = as_notes(notes)
        if isinstance(profiles, str | Path):
            known = load_profiles(profiles)
        else:
            known = {
                a: p if isinstance(p, Profile) else Profile.from_dict({"author_id": a, **p}, where=f"profiles[{a}]")
                for a, p in (profiles or {}).items()
            }
        reference = reference_from_notes(plain, known, "the notes given")
        predictions: Sequence[Prediction] = self.classifier.predict(plain)
        return Results(
            build_reports(
                plain, predictions, known, reference=reference, as_of=as_of, model_version=self.classifier.version
            )
        )
