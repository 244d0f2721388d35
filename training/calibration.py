"""Temperature scaling (Guo et al., 2017) and the calibration measures reported beside it.

A fine-tuned classifier is usually over-confident. One scalar `T`, fitted on the validation split, divides
the logits before the softmax: it changes no ranking and no argmax, only how far probabilities sit from
0.5, so the moderation thresholds chosen afterwards mean what they say.

Two forms of the reliability measure exist; both functions here take `form`:

- `"confidence"` (the default, as in Guo et al.): the confidence of a note is the probability of the class
  it is predicted to be, `max(p, 1 - p)`, and a bin compares mean confidence with accuracy.
- `"binary"`: bins over P(commercial) itself, comparing the mean P(commercial) with the share of
  commercial notes. Same idea, but it also shows on which side of 0.5 the model is off.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from scipy.optimize import minimize_scalar

log = logging.getLogger(__name__)

Form = Literal["confidence", "binary"]
T_MIN, T_MAX = 0.05, 20.0


def _nll(margin: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of 0/1 labels under sigmoid(margin / T): a stable log1p(exp) form."""
    z = margin / temperature
    signed = np.where(labels == 1, z, -z)  # the logit of the true class minus the other one
    return float(np.mean(np.logaddexp(0.0, -signed)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising the NLL of softmax(logits / T) on (validation) notes.

    `logits` is (n, 2) in `CLASSIFIER_LABELS` order, `labels` 0/1 (1 = commercial). Log T is searched,
    so 0.5 and 2 are equally far from 1. Degenerate input (no notes, one class only, all-equal logits,
    non-finite values) returns 1.0: there is nothing to fit, and 1.0 leaves the model as trained.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 2, 5000); y = (rng.random(5000) < 1 / (1 + np.exp(-z))).astype(int)
    >>> round(fit_temperature(np.stack([np.zeros_like(z), 4 * z], axis=1), y))
    4
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if logits.ndim != 2 or logits.shape[1] != 2 or logits.shape[0] != labels.size:
        raise ValueError(f"logits must be (n, 2) matching {labels.size} labels, got {logits.shape}")
    margin = logits[:, 1] - logits[:, 0]
    if labels.size == 0 or len(np.unique(labels)) < 2:
        log.warning("temperature scaling skipped: validation needs both classes (T = 1)")
        return 1.0
    if not np.all(np.isfinite(margin)) or np.ptp(margin) == 0.0:
        log.warning("temperature scaling skipped: logits are constant or not finite (T = 1)")
        return 1.0
    result = minimize_scalar(
        lambda log_t: _nll(margin, labels, float(np.exp(log_t))),
        bounds=(np.log(T_MIN), np.log(T_MAX)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    temperature = float(np.exp(result.x))
    if not result.success or not np.isfinite(temperature):
        log.warning("temperature scaling did not converge (%s): T = 1", result.message)
        return 1.0
    if _nll(margin, labels, temperature) > _nll(margin, labels, 1.0):
        return 1.0  # never do worse than leaving the model alone
    if temperature <= T_MIN * 1.01 or temperature >= T_MAX * 0.99:
        log.warning("temperature %.3f sits at the edge of the search range [%s, %s]", temperature, T_MIN, T_MAX)
    before, after = _nll(margin, labels, 1.0), _nll(margin, labels, temperature)
    log.info("temperature %.3f: validation NLL %.4f -> %.4f", temperature, before, after)
    return temperature


def reliability_bins(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = 15, form: Form = "confidence"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width bins over [0, 1]: (mean confidence, accuracy, count) per bin, for the diagram and ECE.

    With `form="binary"` the first array is the mean P(commercial) and the second the share of commercial
    notes. Empty bins hold NaN in the first two arrays and 0 in `counts`. A value of exactly 1.0 falls into
    the last bin.
    """
    probs = np.asarray(probs, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(np.int64).ravel()
    if probs.size != labels.size:
        raise ValueError(f"{probs.size} probabilities for {labels.size} labels")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if form == "confidence":
        predicted = (probs >= 0.5).astype(np.int64)
        values = np.where(predicted == 1, probs, 1.0 - probs)
        hits = (predicted == labels).astype(np.float64)
    elif form == "binary":
        values, hits = probs, labels.astype(np.float64)
    else:
        raise ValueError(f"form must be 'confidence' or 'binary', got {form!r}")
    index = np.clip((values * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_value = np.bincount(index, weights=values, minlength=n_bins) / counts
        accuracy = np.bincount(index, weights=hits, minlength=n_bins) / counts
    return mean_value, accuracy, counts


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = 15, form: Form = "confidence"
) -> float:
    """ECE: the count-weighted mean gap |accuracy - confidence| over equal-width bins (0 is perfect).

    `probs` are P(commercial); see the module docstring for the two forms. 0.0 for no notes.

    >>> expected_calibration_error(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1, 1, 0, 0]))  # doctest: +ELLIPSIS
    0.09999...
    """
    mean_value, accuracy, counts = reliability_bins(probs, labels, n_bins, form)
    total = counts.sum()
    if total == 0:
        return 0.0
    filled = counts > 0
    return float(np.sum(counts[filled] * np.abs(accuracy[filled] - mean_value[filled])) / total)
