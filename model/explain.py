"""Why a note got its verdict: word attributions that are true of the model, plus the rule signals.

Every method explains the same quantity, the note's **calibrated log-odds of commercial**,
`(logit_commercial - logit_genuine) / temperature` (so `sigmoid` of it is the `p_commercial` that
`Classifier.predict` reports), and every score is in those units: a word with score +1.2 raised the
log-odds by about 1.2.

- `ig`: Integrated Gradients (Captum) on the input word embeddings, from a baseline where every non-special
  token is the pad token's embedding (the special tokens are kept, so they get no attribution). Attributions
  sum to f(note) - f(baseline) up to the reported `completeness_gap`. Position embeddings are added inside
  the model after the word embeddings, so they are the same for the note and the baseline.
- `grad_x_input`: gradient times input embedding, one backward pass: cheap, for bulk use, but measure before
  trusting it (`notecheck faithfulness`): on an early e5-small model its top words were no better than random.
- `occlusion`: delete each word from the ORIGINAL note and re-score through `Classifier.scores` (the predict
  path); the score is the drop in log-odds. Model-agnostic: the only method for the TF-IDF backend, which
  has no embeddings to differentiate (the gradient methods raise `ExplanationError` there).

Token scores are merged onto words of the original title and text (see `model.words`). Words the model never
saw (blanked disclosure markers, text past `max_length`) score 0: they had no effect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from notecheck.model.classifier import Classifier, Prediction, as_note, body_offset, model_input
from notecheck.model.errors import NotecheckError
from notecheck.model.options import EXPLAIN_METHODS
from notecheck.model.schema import Note
from notecheck.model.signals import Signal, find_signals
from notecheck.model.words import InputLayout, Word, delete_words, merge_scores, note_words

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = EXPLAIN_METHODS
GRADIENT_METHODS = ("ig", "grad_x_input")
TARGET = "calibrated log-odds of commercial: (logit_commercial - logit_genuine) / temperature"


class ExplanationError(NotecheckError):
    """An explanation cannot be made as asked (unknown method, a backend without gradients)."""


@dataclass(frozen=True)
class WordAttribution:
    """A word of the original note and its score: `text == getattr(note, field)[start:end]`."""

    start: int
    end: int
    text: str
    field: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "field": self.field,
            "score": round(self.score, 6),
        }


def top_words(words: Sequence[WordAttribution], k: int) -> list[WordAttribution]:
    """The `k` words that raised P(commercial) most, strongest first (only positive scores count)."""
    return sorted((w for w in words if w.score > 0), key=lambda w: (-w.score, w.field != "title", w.start))[:k]


@dataclass
class Explanation:
    """One note's prediction (the calibrated numbers of `Classifier.predict`), its words with scores in
    position order (title first), the top evidence, the rule signals and how it was computed."""

    note: Note
    prediction: Prediction
    method: str
    words: list[WordAttribution]
    evidence: list[WordAttribution]
    signals: list[Signal]
    model_version: str
    completeness_gap: float | None = None  # IG: |sum of attributions - (f(note) - f(baseline))|
    target: str = field(default=TARGET)

    def top(self, k: int) -> list[WordAttribution]:
        return top_words(self.words, k)

    def to_dict(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "id": self.note.id,
            "verdict": p.verdict,
            "p_commercial": round(p.p_commercial, 6),
            "action": p.action,
            "disclosure": p.disclosure.to_dict(),
            "truncated": p.truncated,
            "method": self.method,
            "target": self.target,
            "model_version": self.model_version,
            "completeness_gap": None if self.completeness_gap is None else round(self.completeness_gap, 6),
            "evidence": [w.to_dict() for w in self.evidence],
            "signals": [s.to_dict() for s in self.signals],
            "words": [w.to_dict() for w in self.words],
        }


class Explainer:
    """Explains a `Classifier`'s predictions. Gradient methods need the transformer backend (fp32 or bf16).

    >>> Explainer(Classifier.from_pretrained("runs/default")).explain(["Use my code ANNA15!"])[0].evidence
    ... # doctest: +SKIP
    [WordAttribution(start=12, end=18, text='ANNA15', field='text', score=2.31), ...]
    """

    def __init__(
        self,
        classifier: Classifier,
        n_steps: int = 24,
        internal_batch_size: int | None = None,
        bf16: bool | None = None,
    ) -> None:
        self.classifier = classifier
        self.n_steps = n_steps  # fewer widen the completeness gap fast: 20 steps nearly double it (README, speed)
        self.internal_batch_size = internal_batch_size or n_steps  # all IG steps in one batch
        self.bf16 = bf16  # gradients under bf16 autocast; None: where the CPU has native bf16

    def explain(self, notes: Sequence[Note | str], method: str = "ig", top_k: int = 8) -> list[Explanation]:
        """One `Explanation` per note, same order and length."""
        if method not in METHODS:
            raise ExplanationError(f"method: must be one of {', '.join(METHODS)}, got '{method}'")
        if top_k < 1:
            raise ExplanationError(f"top_k: must be at least 1, got {top_k}")
        items = [as_note(n) for n in notes]
        if method in GRADIENT_METHODS:
            self._check_gradients(method)
        predictions = self.classifier.predict(items)
        out = []
        for note, prediction in zip(items, predictions, strict=True):
            words = note_words(note)
            scores, gap = self.word_scores(note, words, method)
            attributed = [
                WordAttribution(w.start, w.end, w.text, w.field, s) for w, s in zip(words, scores, strict=True)
            ]
            out.append(
                Explanation(
                    note=note,
                    prediction=prediction,
                    method=method,
                    words=attributed,
                    evidence=top_words(attributed, top_k),
                    signals=find_signals(note),
                    model_version=self.classifier.version,
                    completeness_gap=gap,
                )
            )
        return out

    def word_scores(self, note: Note, words: Sequence[Word], method: str) -> tuple[list[float], float | None]:
        """Each word's score (calibrated log-odds units) and, for IG, the completeness gap."""
        if method == "occlusion":
            return self._occlusion(note, words), None
        from notecheck.model.attribution import token_attributions
        from notecheck.model.scorer import bf16_is_fast

        text = model_input(note)
        tokens = token_attributions(
            self.classifier.scorer,  # type: ignore[arg-type]  # checked by _check_gradients
            text,
            method,
            temperature=self.classifier.metadata.temperature,
            n_steps=self.n_steps,
            internal_batch_size=self.internal_batch_size,
            bf16=self.bf16 if self.bf16 is not None else bf16_is_fast(),
        )
        layout = InputLayout.of(note, body_offset(note))
        return merge_scores(words, layout, tokens.offsets, tokens.scores.tolist()), tokens.completeness_gap

    def log_odds(self, notes: Sequence[Note]) -> np.ndarray:
        """Calibrated log-odds of commercial through the predict path (`Classifier.scores`)."""
        if not notes:
            return np.zeros(0)
        logits = np.asarray(self.classifier.scores(list(notes)).logits, dtype=np.float64)
        return (logits[:, 1] - logits[:, 0]) / max(self.classifier.metadata.temperature, 1e-6)

    def _occlusion(self, note: Note, words: Sequence[Word]) -> list[float]:
        values = self.log_odds([note, *(delete_words(note, [w]) for w in words)])
        return [float(v) for v in values[0] - values[1:]]

    def _check_gradients(self, method: str) -> None:
        from notecheck.model.scorer import TransformerScorer

        scorer = self.classifier.scorer
        if not isinstance(scorer, TransformerScorer):
            raise ExplanationError(
                f"method '{method}' differentiates through the transformer's embeddings; this model's backend "
                f"is '{self.classifier.metadata.backend}': use method 'occlusion'"
            )
        quantized = any("quantized" in type(m).__module__ for m in scorer.model.modules())
        if quantized:
            raise ExplanationError(
                f"method '{method}' needs gradients, which the int8 runtime does not have: load the model with "
                "runtime fp32 or bf16, or use method 'occlusion'"
            )
