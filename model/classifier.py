"""`Classifier`: load, save and predict. Every path (API, batch scoring, evaluation, Ray) calls `predict`.

A model is a directory: `save_pretrained` output (safetensors, `config.json` with `id2label`, tokenizer
files) plus `notecheck.json` (see `model.metadata`). The classifier scores disclosure-masked text for
P(commercial); the verdict combines that with the disclosure rating of the original text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from notecheck.model.combiner import Combiner, Effect, signal_features
from notecheck.model.disclosure import Disclosure, mask, rate
from notecheck.model.metadata import ModelMetadata, Thresholds
from notecheck.model.model_dir import inspect_model_dir
from notecheck.model.schema import Action, Note, Verdict
from notecheck.model.signals import find_signals

log = logging.getLogger(__name__)


class Scorer(Protocol):
    """A backend that turns model input strings into (n, 2) logits: transformer or TF-IDF."""

    def score(self, texts: Sequence[str]) -> Any: ...  # returns model.scorer.Scores

    def save(self, path: str | Path) -> None: ...


@dataclass
class Prediction:
    """One note's result. `p_commercial` is calibrated on the model and the note's signals together;
    `p_model` is the model's own calibrated P; `signal_effects` says which signal groups moved P and by how
    much; `truncated` says the model saw only the start."""

    id: str | None
    p_commercial: float
    verdict: Verdict
    action: Action
    disclosure: Disclosure
    truncated: bool
    n_tokens: int
    p_model: float | None = None
    signal_effects: tuple[Effect, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "p_commercial": round(self.p_commercial, 6),
            "p_model": round(self.p_commercial if self.p_model is None else self.p_model, 6),
            "action": self.action,
            "disclosure": self.disclosure.to_dict(),
            "signal_effects": [e.to_dict() for e in self.signal_effects],
            "truncated": self.truncated,
            "n_tokens": self.n_tokens,
        }


@dataclass
class Assessment:
    """Raw scores and the predictions made from them, for the same notes in the same order."""

    scores: Any  # model.scorer.Scores
    predictions: list[Prediction]


def as_note(item: Note | str) -> Note:
    return item if isinstance(item, Note) else Note(text=item)


def model_input(note: Note) -> str:
    """The string the model reads: title and body with clear disclosure markers blanked.

    Masking keeps lengths, so offsets into the body are offsets into this string shifted by
    `body_offset(note)`.
    """
    title = mask(note.title).strip() if note.title else ""
    return f"{title}\n{mask(note.text)}" if title else mask(note.text)


def body_offset(note: Note) -> int:
    """Where the note body starts inside `model_input(note)`."""
    title = mask(note.title).strip() if note.title else ""
    return len(title) + 1 if title else 0


def margins(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated log-odds of commercial from (n, 2) logits."""
    logits = np.asarray(logits, dtype=np.float64)
    out: np.ndarray = (logits[:, 1] - logits[:, 0]) / max(temperature, 1e-6)
    return out


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    """P(commercial) from (n, 2) logits: a softmax over logits / temperature, written as a sigmoid."""
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(margins(logits, temperature), -60, 60)))
    return out


def decide(p_commercial: float, disclosure: Disclosure, thresholds: Thresholds) -> tuple[Verdict, Action]:
    """Verdict and moderation action.

    A clear disclosure makes a note a `disclosed_ad` whatever P says: the author says it is an ad, and the
    disclosure rules already read mentions and negations ("not sponsored", 广告公司上班) below `clear`.
    A clearly disclosed ad breaks no rule, so it is allowed. Otherwise P decides the verdict at the
    `commercial` boundary and the action by the `review` and `flag` thresholds.
    """
    if disclosure.rating == "clear":
        return "disclosed_ad", "allow"
    verdict: Verdict = "genuine" if p_commercial < thresholds.commercial else "undisclosed_ad"
    if p_commercial >= thresholds.flag:
        return verdict, "flag"
    if p_commercial >= thresholds.review:
        return verdict, "review"
    return verdict, "allow"


class Classifier:
    """Predicts verdicts for notes. Build with `from_pretrained(dir)`; `predict` keeps order and length."""

    def __init__(self, scorer: Scorer, metadata: ModelMetadata) -> None:
        self.scorer = scorer
        self.metadata = metadata

    @property
    def version(self) -> str:
        return self.metadata.version

    @classmethod
    def from_pretrained(cls, path: str | Path, runtime: str = "fp32", **scorer_kwargs: Any) -> Classifier:
        """Load a model directory. Raises `ModelLoadError` naming the missing or corrupt file, what is wrong
        with it and what to do (`model.model_dir` checks the directory before anything is read).

        `runtime` picks fp32 (exact), bf16 or int8 (faster on CPU); the TF-IDF backend ignores it.
        """
        path = Path(path)
        metadata = inspect_model_dir(path)  # the file at fault named before any library reads one
        scorer: Scorer
        if metadata.backend == "tfidf":
            from notecheck.model.tfidf import TfidfScorer

            scorer = TfidfScorer.load(path)
        else:
            from notecheck.model.scorer import TransformerScorer

            scorer = TransformerScorer.load(path, metadata.max_length, runtime=runtime, **scorer_kwargs)
            if metadata.vocab.get("file"):  # a trimmed vocabulary whose whole tokenizer is read through a remap
                from notecheck.model.vocab import load_remap

                scorer.vocab = load_remap(path, scorer.tokenizer)
        log.info("loaded model %s (%s) from %s", metadata.version, metadata.backend, path)
        return cls(scorer, metadata)

    def save_pretrained(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.scorer.save(path)
        metadata = self.metadata
        if metadata.quantized:
            from dataclasses import replace

            from notecheck.model.openvino_runtime import INT8_FILE

            if not (path / INT8_FILE).is_file():  # the record names a file this save did not write
                log.warning("%s: saved without its int8 model (%s); it runs unquantized", path, INT8_FILE)
                metadata = replace(metadata, quantized={})
        metadata.save(path)
        return path

    @property
    def combiner(self) -> Combiner | None:
        return Combiner.from_dict(self.metadata.combiner)

    def scores(self, notes: Sequence[Note | str]) -> Any:
        """Raw logits and tokenization facts for notes (evaluation and calibration use this)."""
        return self.scorer.score([model_input(as_note(n)) for n in notes])

    def predict_proba(self, notes: Sequence[Note | str]) -> np.ndarray:
        """Calibrated P(commercial) per note, in input order (the same P `predict` reports)."""
        return np.array([p.p_commercial for p in self.predict(notes)], dtype=np.float64)

    def assess(self, notes: Sequence[Note | str]) -> Assessment:
        """Score notes once and decide: the raw scores (evaluation needs the logits) and the predictions."""
        items = [as_note(n) for n in notes]
        if not items:
            return Assessment(None, [])
        raw = self.scores(items)
        meta = self.metadata
        margin = margins(raw.logits, meta.temperature)
        p_model = 1.0 / (1.0 + np.exp(-np.clip(margin, -60, 60)))
        disclosures = [rate(note.text, note.title) for note in items]
        combiner = self.combiner
        features = [signal_features(find_signals(n), d) for n, d in zip(items, disclosures, strict=True)]
        probs = combiner.probability(margin, features) if combiner else p_model
        results = []
        for i, note in enumerate(items):
            verdict, action = decide(float(probs[i]), disclosures[i], meta.thresholds)
            effects = tuple(combiner.effects(float(margin[i]), features[i])) if combiner else ()
            results.append(
                Prediction(
                    note.id,
                    float(probs[i]),
                    verdict,
                    action,
                    disclosures[i],
                    bool(raw.truncated[i]),
                    int(raw.n_tokens[i]),
                    p_model=float(p_model[i]),
                    signal_effects=effects,
                )
            )
        return Assessment(raw, results)

    def predict(self, notes: Sequence[Note | str]) -> list[Prediction]:
        """One `Prediction` per input note, same order and length.

        >>> clf.predict(["新买的面霜用了一周", "Use my code ANNA15 for 15% off!"])  # doctest: +SKIP
        [Prediction(id=None, p_commercial=0.04, verdict='genuine', ...), Prediction(...)]
        """
        return self.assess(notes).predictions
