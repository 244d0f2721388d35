"""Classification metrics shared by training, evaluation and the retrain gate.

Every function returns plain floats (or `None` where a metric is undefined, e.g. ROC AUC on a sample with
one class), so results go straight into JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score


def binary_macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over commercial vs genuine (both classes weigh the same whatever their frequency)."""
    return float(f1_score(labels, predicted, average="macro", labels=[0, 1], zero_division=0))


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def binary_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Counts and rates of a 0/1 prediction against 0/1 labels (1 = commercial).

    `precision` and `recall` are those of the commercial class; an empty denominator gives 0.0.
    `single_class` says the sample holds one class only, where macro-F1 says little.

    >>> binary_metrics(np.array([1, 0, 1, 0]), np.array([1, 0, 0, 0]))["recall"]
    0.5
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    n = int(labels.size)
    return {
        "n": n,
        "n_commercial": int(labels.sum()),
        "macro_f1": binary_macro_f1(labels, predicted) if n else 0.0,
        "accuracy": _ratio(float(np.sum(labels == predicted)), n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "single_class": bool(n and len(np.unique(labels)) < 2),
    }


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """ROC AUC and PR AUC (average precision) of scores for the commercial class; `None` with one class."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0 or len(np.unique(labels)) < 2:
        return {"roc_auc": None, "pr_auc": None}
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
    }


def brier_score(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean squared error of P(commercial): lower is better, 0.25 is a coin flip."""
    labels = np.asarray(labels, dtype=np.float64)
    return float(np.mean((np.asarray(probs, dtype=np.float64) - labels) ** 2)) if labels.size else 0.0
