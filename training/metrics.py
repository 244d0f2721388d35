"""Classification metrics shared by training, evaluation and the retrain gate."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score


def binary_macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over commercial vs genuine (both classes weigh the same whatever their frequency)."""
    return float(f1_score(labels, predicted, average="macro", labels=[0, 1], zero_division=0))
