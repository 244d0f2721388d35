"""Fitting the signal combiner (`model.combiner`) on validation notes.

A plain L2-regularised logistic regression on [calibrated model margin, signal-group indicators]. It is fitted
on validation notes (never the training notes the model has memorised, whose margins are overconfident), so
its probabilities are calibrated on everything a note shows, the way temperature scaling calibrates the model
alone. Weights are kept as plain numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from notecheck.model.combiner import FEATURES, Combiner, signal_features
from notecheck.model.disclosure import Disclosure, rate
from notecheck.model.schema import Note
from notecheck.model.signals import find_signals

log = logging.getLogger(__name__)

#: inverse regularisation strength: a few hundred validation notes should not buy extreme weights
DEFAULT_C = 1.0


def note_features(notes: Sequence[Note], disclosures: Sequence[Disclosure] | None = None) -> list[dict[str, float]]:
    """The combiner's signal indicators for each note (the same function `Classifier.assess` uses); pass the
    notes' disclosure ratings when they are already known."""
    rated = disclosures if disclosures is not None else [rate(n.text, n.title) for n in notes]
    return [signal_features(find_signals(n), d) for n, d in zip(notes, rated, strict=True)]


def fit_combiner(
    margin: np.ndarray, features: Sequence[Mapping[str, float]], labels: np.ndarray, c: float = DEFAULT_C
) -> Combiner | None:
    """Fit the combiner; None when the labels hold one class only (there is nothing to learn) or when the
    model's own score would get a negative weight.

    A feature no validation note shows gets weight 0 (the regulariser keeps it there), so an unseen signal
    group never moves a prediction.
    """
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels).astype(np.int64)
    if len(np.unique(labels)) < 2:
        log.warning("the combiner needs validation notes of both classes: predictions use the model alone")
        return None
    x = np.column_stack([np.asarray(margin, dtype=np.float64)] + [[f[k] for f in features] for k in FEATURES])
    lr = LogisticRegression(C=c, max_iter=1000).fit(x, labels)
    if lr.coef_[0][0] <= 0:
        # a model whose score runs against the labels is broken (mislabelled training data, say): the combiner
        # must not rescue it by inverting it, or the retrain gate would compare a disguised model
        log.warning("the model's score does not rise with the labels on validation: no combiner is fitted")
        return None
    weights = {k: float(w) for k, w in zip(FEATURES, lr.coef_[0][1:], strict=True)}
    combiner = Combiner(bias=float(lr.intercept_[0]), model_weight=float(lr.coef_[0][0]), weights=weights)
    log.info("combiner: model weight %.3f, %s", combiner.model_weight, {k: round(v, 2) for k, v in weights.items()})
    return combiner
