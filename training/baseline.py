"""`fit_tfidf`: the character n-gram TF-IDF + logistic regression baseline.

It reads exactly what the transformer reads (`model.classifier.model_input`: title and body with clear
disclosure markers blanked), so the two backends are compared on the same task. The regression strength
`C` is chosen on validation macro-F1 from a small grid; classes are weighted by inverse frequency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from notecheck.model.classifier import model_input
from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import is_commercial
from notecheck.model.tfidf import TfidfParams, TfidfScorer
from notecheck.training.config import TrainConfig
from notecheck.training.metrics import binary_macro_f1

log = logging.getLogger(__name__)

#: Inverse regularisation strengths tried on validation, weakest regularisation last.
C_GRID: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
#: Below this many training notes an n-gram seen once is kept (tiny data sets would lose most features).
MIN_NOTES_FOR_MIN_DF = 50


def binary_labels(notes: Sequence[LabelledNote]) -> np.ndarray:
    """0/1 labels (1 = commercial) of labelled notes."""
    return np.array([int(is_commercial(str(n.label))) for n in notes], dtype=np.int64)


def _regression(c: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=seed)


def fit_tfidf(
    train: Sequence[LabelledNote],
    validation: Sequence[LabelledNote],
    config: TrainConfig,
    grid: Sequence[float] = C_GRID,
) -> TfidfScorer:
    """Fit the vectorizer on the training notes, then one regression per `C` in `grid`; keep the best on
    validation macro-F1 (ties go to the smaller, more regularised `C`).

    Without a usable validation split (empty, or one class only) `C = 1` is used and a warning logged.
    Raises `DatasetError` when the training notes do not hold both classes.

    >>> scorer = fit_tfidf(split.train, split.validation, TrainConfig(model="tfidf"))  # doctest: +SKIP
    >>> scorer.params.C  # doctest: +SKIP
    3.0
    """
    labels = binary_labels(train)
    if len(np.unique(labels)) < 2:
        raise DatasetError("training notes", None, "label", "the TF-IDF baseline needs both commercial and genuine")
    started = time.perf_counter()
    params = TfidfParams(min_df=TfidfParams.min_df if len(train) >= MIN_NOTES_FOR_MIN_DF else 1)
    vectorizer = params.vectorizer()
    features = vectorizer.fit_transform([model_input(n.note) for n in train])
    log.info("TF-IDF: %d character n-grams from %d training notes", features.shape[1], len(train))

    val_labels = binary_labels(validation)
    best_c, best_f1, best = 1.0, -1.0, None
    if len(np.unique(val_labels)) < 2:
        log.warning("validation lacks one class: the TF-IDF baseline uses C = 1 without a search")
    else:
        val_features = vectorizer.transform([model_input(n.note) for n in validation])
        for c in grid:
            fitted = _regression(c, config.seed).fit(features, labels)
            f1 = binary_macro_f1(val_labels, (fitted.decision_function(val_features) >= 0).astype(np.int64))
            log.info("TF-IDF: C = %g gives validation macro-F1 %.4f", c, f1)
            if f1 > best_f1:
                best_c, best_f1, best = c, f1, fitted
    if best is None:
        best = _regression(best_c, config.seed).fit(features, labels)
    params.C = best_c
    log.info("TF-IDF: chose C = %g (validation macro-F1 %.4f) in %.1fs", best_c, best_f1, time.perf_counter() - started)
    return TfidfScorer(vectorizer, best.coef_.ravel(), float(best.intercept_[0]), params)
