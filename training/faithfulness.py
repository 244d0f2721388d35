"""Are explanations faithful? ERASER-style comprehensiveness and sufficiency (DeYoung et al., 2020).

For each note the model calls commercial, rank its words by attribution and, for each k in `ks` (percent of
the note's words, at least one word):

- comprehensiveness@k = P(note) - P(note without its top-k% words): high when the words named as evidence
  were what the model relied on;
- sufficiency@k = P(note) - P(only its top-k% words): low when the evidence alone carries the prediction.

Deleting a word removes its characters from the ORIGINAL title/text; P is `Classifier.predict_proba`, the
predict path. A random ranking of the same words (seeded per note) is the baseline every method must beat.
AOPC is the mean over the ks.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError
from notecheck.model.explain import METHODS, Explainer
from notecheck.model.schema import Note
from notecheck.model.words import Word, delete_words, note_words

log = logging.getLogger(__name__)
RANDOM = "random"


@dataclass
class FaithfulnessConfig:
    """What one faithfulness run measures."""

    methods: tuple[str, ...] = METHODS  # attribution methods to compare (the random baseline is always added)
    ks: tuple[int, ...] = (10, 20, 50)  # percentages of each note's words to delete or keep
    seed: int = 13  # the random baseline's rankings
    limit: int = 0  # at most this many notes predicted commercial (0: all)

    def validate(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(f"methods: unknown {', '.join(unknown)} (choose from {', '.join(METHODS)})")
        if not self.ks or any(not 0 < k <= 100 for k in self.ks):
            raise ConfigError(f"k: percentages between 1 and 100, got {list(self.ks)}")


@dataclass
class MethodResult:
    """One ranking method's scores, averaged over the notes; keys of the dicts are the k percentages."""

    comprehensiveness: dict[int, float]
    sufficiency: dict[int, float]
    aopc_comprehensiveness: float
    aopc_sufficiency: float
    seconds_per_note: float


@dataclass
class FaithfulnessReport:
    model_version: str
    n_notes: int  # notes given
    n_explained: int  # of them, predicted commercial (and within the limit)
    ks: list[int]
    seed: int
    results: dict[str, MethodResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        """A table: one row per method, comprehensiveness (higher is better) then sufficiency (lower is better)."""
        head = ["method", *(f"comp@{k}%" for k in self.ks), "AOPC comp ↑"]
        head += [*(f"suff@{k}%" for k in self.ks), "AOPC suff ↓", "s/note"]
        lines = [
            f"Faithfulness of `{self.model_version}` on {self.n_explained} notes predicted commercial "
            f"(of {self.n_notes}); P drops, seed {self.seed}.",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for name, r in self.results.items():
            cells = [name, *(f"{r.comprehensiveness[k]:.3f}" for k in self.ks), f"**{r.aopc_comprehensiveness:.3f}**"]
            cells += [*(f"{r.sufficiency[k]:.3f}" for k in self.ks), f"**{r.aopc_sufficiency:.3f}**"]
            cells.append(f"{r.seconds_per_note:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        js, md = directory / "faithfulness.json", directory / "faithfulness.md"
        js.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        md.write_text(self.markdown(), encoding="utf-8")
        return js, md


def top_count(n_words: int, k: int) -> int:
    """How many words k percent of `n_words` is: rounded up, at least one."""
    return max(1, math.ceil(n_words * k / 100))


def erasures(note: Note, ranked: Sequence[Word], ks: Sequence[int]) -> list[Note]:
    """For each k: the note without its top-k% words, then the note with only them (2 notes per k)."""
    out = []
    for k in ks:
        m = top_count(len(ranked), k)
        out += [delete_words(note, ranked[:m]), delete_words(note, ranked[m:])]
    return out


def score_rankings(
    classifier: Classifier, notes: Sequence[Note], rankings: Sequence[Sequence[Word]], ks: Sequence[int]
) -> tuple[dict[int, float], dict[int, float]]:
    """Mean comprehensiveness and sufficiency per k for one ranking of each note's words."""
    base = classifier.predict_proba(list(notes))
    variants = [v for note, ranked in zip(notes, rankings, strict=True) for v in erasures(note, ranked, ks)]
    probs = classifier.predict_proba(variants).reshape(len(notes), len(ks), 2)
    drops = base[:, None, None] - probs
    comp = {k: float(drops[:, i, 0].mean()) for i, k in enumerate(ks)}
    suff = {k: float(drops[:, i, 1].mean()) for i, k in enumerate(ks)}
    return comp, suff


def _result(comp: dict[int, float], suff: dict[int, float], seconds: float) -> MethodResult:
    return MethodResult(comp, suff, float(np.mean(list(comp.values()))), float(np.mean(list(suff.values()))), seconds)


def measure_faithfulness(
    classifier: Classifier, notes: Sequence[Note], config: FaithfulnessConfig | None = None
) -> FaithfulnessReport:
    """Comprehensiveness and sufficiency of each method and of random rankings, on notes predicted commercial."""
    config = config or FaithfulnessConfig()
    config.validate()
    probs = classifier.predict_proba(list(notes))
    chosen = [n for n, p in zip(notes, probs, strict=True) if p >= classifier.metadata.thresholds.commercial]
    chosen = chosen[: config.limit] if config.limit else chosen
    ks = sorted(set(config.ks))
    report = FaithfulnessReport(classifier.version, len(notes), len(chosen), ks, config.seed)
    if not chosen:
        log.warning("no note is predicted commercial: nothing to measure")
        return report
    explainer = Explainer(classifier)
    for method in config.methods:
        started, rankings = time.perf_counter(), []
        for note in tqdm(chosen, desc=f"explain ({method})", unit="note", leave=False):
            (e,) = explainer.explain([note], method=method)
            ranked = sorted(e.words, key=lambda w: (-w.score, w.field != "title", w.start))
            rankings.append([Word(w.start, w.end, w.text, w.field) for w in ranked])
        seconds = (time.perf_counter() - started) / len(chosen)
        report.results[method] = _result(*score_rankings(classifier, chosen, rankings, ks), seconds)
        log.debug("%s: AOPC comprehensiveness %.3f", method, report.results[method].aopc_comprehensiveness)
    shuffled = []
    for i, ws in enumerate(note_words(n) for n in chosen):
        order = np.random.default_rng([config.seed, i]).permutation(len(ws))
        shuffled.append([ws[j] for j in order])
    report.results[RANDOM] = _result(*score_rankings(classifier, chosen, shuffled, ks), 0.0)
    return report
