"""Moderation thresholds on calibrated P(commercial), chosen on the validation split.

- `flag`: the lowest threshold whose precision reaches the target (default 0.95) *with confidence*: the
  lower Wilson bound (one-sided 95%) of validation precision must reach it, so a lucky streak of a dozen
  notes does not set the flag; flagged notes are almost all commercial and as many as possible are flagged.
- `review`: the highest threshold whose recall reaches the target (default 0.90), so the review queue
  catches most commercial notes while staying as short as possible.
- `commercial`: the verdict boundary, the threshold with the best macro-F1.

Candidate thresholds are the observed probabilities (a threshold `t` selects the notes with `p >= t`), so
"the lowest threshold reaching precision 0.95" is exact on the validation sample, the same convention as
`sklearn.metrics.precision_recall_curve`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from notecheck.model.metadata import Thresholds

log = logging.getLogger(__name__)

#: The flag threshold needs at least this many flagged validation notes: precision 1.0 on one note is luck.
MIN_FLAG_SUPPORT = 5
#: z of the one-sided 95% lower confidence bound on precision used for `flag`
FLAG_Z = 1.645


@dataclass
class Sweep:
    """Confusion counts at each candidate threshold `t` (predicted commercial: `p >= t`)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    @property
    def selected(self) -> np.ndarray:
        return self.tp + self.fp

    @property
    def precision(self) -> np.ndarray:
        return np.divide(self.tp, self.selected, out=np.zeros(self.tp.shape), where=self.selected > 0)

    def precision_lower_bound(self, z: float = FLAG_Z) -> np.ndarray:
        """Wilson lower bound of precision at each threshold (0 where nothing is selected)."""
        n = self.selected.astype(np.float64)
        safe = np.maximum(n, 1.0)
        p = self.tp / safe
        centre = (p + z * z / (2 * safe)) / (1 + z * z / safe)
        half = z / (1 + z * z / safe) * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe))
        return np.where(n > 0, np.maximum(0.0, centre - half), 0.0)

    @property
    def recall(self) -> np.ndarray:
        positives = self.tp + self.fn
        return np.divide(self.tp, positives, out=np.zeros(self.tp.shape), where=positives > 0)

    @property
    def macro_f1(self) -> np.ndarray:
        """Macro-F1 over both classes (an empty class scores 0, as `sklearn` with zero_division=0)."""
        den_pos, den_neg = 2 * self.tp + self.fp + self.fn, 2 * self.tn + self.fp + self.fn
        f1_pos = np.divide(2 * self.tp, den_pos, out=np.zeros(self.tp.shape), where=den_pos > 0)
        f1_neg = np.divide(2 * self.tn, den_neg, out=np.zeros(self.tn.shape), where=den_neg > 0)
        return (f1_pos + f1_neg) / 2


def sweep(probs: np.ndarray, labels: np.ndarray, candidates: np.ndarray | None = None) -> Sweep:
    """Confusion counts at each candidate threshold (default: the unique probabilities, ascending)."""
    probs = np.asarray(probs, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(np.int64).ravel()
    if probs.size != labels.size:
        raise ValueError(f"{probs.size} probabilities for {labels.size} labels")
    cands = np.unique(probs) if candidates is None else np.asarray(candidates, dtype=np.float64)
    order = np.argsort(probs, kind="stable")
    sorted_p, sorted_y = probs[order], labels[order]
    # positives at or above position i: total minus the cumulative count below i
    pos_below = np.concatenate([[0], np.cumsum(sorted_y)])
    first = np.searchsorted(sorted_p, cands, side="left")  # first index with p >= t
    n, n_pos = probs.size, int(labels.sum())
    tp = n_pos - pos_below[first]
    selected = n - first
    fp = selected - tp
    fn = n_pos - tp
    tn = (n - n_pos) - fp
    return Sweep(cands, tp, fp, fn, tn)


def _flag_threshold(s: Sweep, target: float, min_support: int) -> float:
    supported = s.selected >= min(min_support, int(s.selected.max()))
    bound = s.precision_lower_bound()
    reaching = np.flatnonzero((bound >= target) & supported)
    if reaching.size:
        return float(s.thresholds[reaching[0]])
    best = np.where(supported, bound, -1.0)
    index = int(np.flatnonzero(best == best.max())[0])  # lowest threshold among the most surely precise
    log.warning(
        "flag precision %.2f is not reached with confidence on validation (best lower bound %.3f, precision %.3f, "
        "%d notes flagged): flag = %.4f",
        target,
        bound[index],
        s.precision[index],
        s.selected[index],
        s.thresholds[index],
    )
    return float(s.thresholds[index])


def _review_threshold(s: Sweep, target: float) -> float:
    reaching = np.flatnonzero(s.recall >= target)
    # recall never rises with the threshold and the lowest candidate selects every note (recall 1.0)
    return float(s.thresholds[reaching[-1]]) if reaching.size else float(s.thresholds[0])


def choose_thresholds(
    probs: np.ndarray,
    labels: np.ndarray,
    flag_precision: float = 0.95,
    review_recall: float = 0.90,
    min_flag_support: int = MIN_FLAG_SUPPORT,
) -> Thresholds:
    """Thresholds for the verdict and the two moderation actions, from validation P(commercial) and labels.

    The verdict boundary stays at 0.5: the probabilities are calibrated, so 0.5 is where commercial becomes
    the likelier class, and a boundary tuned for macro-F1 on a few hundred validation notes from a dozen
    authors moved to extremes (0.95) that did not carry over. `flag` is the lowest threshold whose validation
    precision reaches the target by its lower confidence bound, but never below the verdict boundary (a note
    called genuine is never flagged); `review` is the highest threshold whose recall reaches its target, capped
    at `flag`.
    Unreachable flag precision falls back to the most precise threshold (with a warning). Without both
    classes there is nothing to choose from, and the defaults come back.

    >>> p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 0.95])
    >>> choose_thresholds(p, np.array([0, 0, 1, 0, 1, 1, 1, 1]), 0.95, 0.9, min_flag_support=2)
    Thresholds(commercial=0.5, review=0.3, flag=0.7)
    """
    probs = np.asarray(probs, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(np.int64).ravel()
    if not 0 < flag_precision <= 1 or not 0 < review_recall <= 1:
        raise ValueError(f"targets must be in (0, 1], got {flag_precision} and {review_recall}")
    if probs.size == 0 or len(np.unique(labels)) < 2:
        log.warning("thresholds need validation notes of both classes: using the defaults")
        return Thresholds()
    s = sweep(probs, labels)
    commercial = Thresholds().commercial
    flag = max(_flag_threshold(s, flag_precision, min_flag_support), commercial)
    review = min(_review_threshold(s, review_recall), flag)
    log.info("thresholds: commercial %.4f, review %.4f, flag %.4f", commercial, review, flag)
    return Thresholds(commercial=commercial, review=review, flag=flag)


def action_report(probs: np.ndarray, labels: np.ndarray, thresholds: Thresholds) -> dict[str, Any]:
    """What the thresholds do on a labelled sample: for `flag` and `review` (every note with p >= its
    threshold, so flagged notes count towards review too), the precision and recall of commercial notes
    and the share of traffic selected; `allow_share` is the share below `review`.

    Disclosure is not considered here: `decide` also allows clearly disclosed ads whatever their score.
    """
    probs = np.asarray(probs, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(np.int64).ravel()
    n = max(probs.size, 1)
    report: dict[str, Any] = {}
    for action in ("flag", "review"):
        t = float(getattr(thresholds, action))
        s = sweep(probs, labels, np.array([t]))
        report[action] = {
            "threshold": t,
            "precision": float(s.precision[0]),
            "recall": float(s.recall[0]),
            "share": float(s.selected[0] / n),
            "n": int(s.selected[0]),
        }
    report["allow_share"] = float(np.sum(probs < thresholds.review) / n)
    return report
