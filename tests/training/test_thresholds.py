"""Thresholds reach their targets on validation and are the extreme ones that do; edge cases are handled."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import f1_score

from notecheck.model.kol.rules import wilson_interval
from notecheck.model.metadata import Thresholds
from notecheck.training.thresholds import FLAG_Z, action_report, choose_thresholds, sweep


def scores(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A realistic overlap: commercial notes score higher on average, with ties from rounding."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.int64)
    probs = np.clip(rng.normal(0.3 + 0.4 * labels, 0.18), 0, 1).round(3)
    return probs, labels


def brute(probs: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float, int]:
    """Precision, recall and number selected at threshold t, the slow obvious way."""
    chosen = probs >= t
    tp = int(np.sum(chosen & (labels == 1)))
    precision = tp / chosen.sum() if chosen.any() else 0.0
    return precision, tp / labels.sum(), int(chosen.sum())


def sure_precision(probs: np.ndarray, labels: np.ndarray, t: float) -> float:
    """The one-sided lower confidence bound of precision at threshold t (an independent Wilson formula)."""
    chosen = probs >= t
    return wilson_interval(int(np.sum(chosen & (labels == 1))), int(chosen.sum()), FLAG_Z)[0]


def test_sweep_matches_the_obvious_count() -> None:
    probs, labels = scores(100)
    s = sweep(probs, labels)
    for i, t in enumerate(s.thresholds):
        precision, recall, selected = brute(probs, labels, t)
        assert s.precision[i] == pytest.approx(precision)
        assert s.recall[i] == pytest.approx(recall)
        assert s.selected[i] == selected
        predicted = (probs >= t).astype(int)
        assert s.macro_f1[i] == pytest.approx(f1_score(labels, predicted, average="macro", zero_division=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flag_is_the_lowest_threshold_whose_precision_bound_reaches_the_target(seed: int) -> None:
    probs, labels = scores(seed=seed)
    th = choose_thresholds(probs, labels, flag_precision=0.9, review_recall=0.9)
    precision, _, selected = brute(probs, labels, th.flag)
    assert sure_precision(probs, labels, th.flag) >= 0.9 and precision >= 0.9 and selected >= 5
    lower = np.unique(probs[probs < th.flag])
    assert all(sure_precision(probs, labels, t) < 0.9 or brute(probs, labels, t)[2] < 5 for t in lower)
    # the bound is stricter than the point estimate: some lower threshold reaches 0.9 by luck alone
    assert any(brute(probs, labels, t)[0] >= 0.9 and brute(probs, labels, t)[2] >= 5 for t in lower)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_review_is_the_highest_threshold_reaching_the_recall_target(seed: int) -> None:
    probs, labels = scores(seed=seed)
    th = choose_thresholds(probs, labels, flag_precision=0.9, review_recall=0.9)
    assert th.review <= th.flag
    assert brute(probs, labels, th.review)[1] >= 0.9
    higher = np.unique(probs[probs > th.review])
    assert all(brute(probs, labels, t)[1] < 0.9 for t in higher)


def test_known_distribution() -> None:
    # 80 commercial notes above 0.8 with one genuine among them at 0.85, then a mixed band below
    probs = np.concatenate([np.linspace(0.99, 0.81, 80), [0.85], np.linspace(0.79, 0.6, 20), np.linspace(0.5, 0.1, 40)])
    labels = np.array([1] * 80 + [0] + [1, 0] * 10 + [0] * 40)
    th = choose_thresholds(probs, labels, flag_precision=0.9, review_recall=0.85)
    # at 0.81: 80/81 precise, lower bound 0.943 >= 0.9; one step lower (0.79) the bound is still 0.94,
    # so the lowest threshold whose bound reaches 0.9 lies inside the mixed band
    assert sure_precision(probs, labels, th.flag) >= 0.9
    assert sure_precision(probs, labels, np.max(probs[probs < th.flag])) < 0.9
    assert th.review == pytest.approx(np.min(probs[probs >= th.review]))
    assert th.commercial == 0.5


def test_a_handful_of_perfect_notes_does_not_set_the_flag() -> None:
    # 5/5 correct at the top reads as precision 1.0 but its lower bound is about 0.65
    probs = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.3, 0.2])
    labels = np.array([1, 1, 1, 1, 1, 0, 1, 1, 0, 0])
    th = choose_thresholds(probs, labels, flag_precision=0.95, review_recall=0.85)
    assert sure_precision(probs, labels, th.flag) < 0.95  # unreachable: the most surely precise is kept
    bounds = {t: sure_precision(probs, labels, t) for t in probs if (probs >= t).sum() >= 5}
    assert th.flag == max(bounds, key=lambda t: (bounds[t], -t))


def test_review_is_capped_at_flag() -> None:
    # every commercial note above every genuine one, plus two genuine close under them
    probs = np.array([0.99] * 200 + [0.9, 0.89] + [0.1] * 20)
    labels = np.array([1] * 200 + [0, 0] + [0] * 20)
    probs[:200] = np.linspace(0.91, 0.99, 200)
    th = choose_thresholds(probs, labels, flag_precision=0.95, review_recall=0.5)
    assert th.flag == pytest.approx(0.89)  # 200/202, lower bound 0.969 >= 0.95 still
    assert th.review == th.flag  # recall 0.5 alone would ask for ~0.95


def test_unreachable_precision_falls_back_to_the_most_precise_threshold(caplog: pytest.LogCaptureFixture) -> None:
    probs = np.linspace(0.5, 1.0, 50)  # all above the verdict boundary, so only precision decides
    labels = np.tile([1, 0], 25)  # precision about 0.5 everywhere
    with caplog.at_level(logging.WARNING, logger="notecheck.training.thresholds"):
        th = choose_thresholds(probs, labels, flag_precision=0.95)
    assert "not reached with confidence" in caplog.text
    s = sweep(probs, labels)
    supported = s.selected >= 5
    assert sure_precision(probs, labels, th.flag) == pytest.approx(s.precision_lower_bound()[supported].max())
    assert brute(probs, labels, th.flag)[2] >= 5


def test_flag_needs_minimum_support() -> None:
    # the top note alone is commercial (precision 1 on one note); below it precision drops under target
    probs = np.array([0.99, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    th = choose_thresholds(probs, labels, min_flag_support=5)
    assert brute(probs, labels, th.flag)[2] >= 5


def test_verdict_boundary_stays_at_half_and_flag_never_below_it() -> None:
    # a model so separated that 95% precision is already reached at 0.03 on validation
    probs = np.array([0.01] * 20 + [0.03] * 2 + list(np.linspace(0.04, 0.99, 40)))
    labels = np.array([0] * 20 + [0, 1] + [1] * 40)
    th = choose_thresholds(probs, labels, flag_precision=0.95, review_recall=0.9)
    assert th.commercial == 0.5
    assert th.flag == 0.5  # 0.03 would flag notes the verdict calls genuine
    assert th.review <= th.flag and brute(probs, labels, th.review)[1] >= 0.9


def test_one_class_gives_the_defaults() -> None:
    assert choose_thresholds(np.array([0.2, 0.8]), np.array([1, 1])) == Thresholds()
    assert choose_thresholds(np.zeros(0), np.zeros(0)) == Thresholds()
    with pytest.raises(ValueError):
        choose_thresholds(np.array([0.2, 0.8]), np.array([0, 1]), flag_precision=1.5)


def test_action_report_by_hand() -> None:
    probs = np.array([0.95, 0.9, 0.6, 0.55, 0.2])
    labels = np.array([1, 0, 1, 0, 1])
    report = action_report(probs, labels, Thresholds(commercial=0.5, review=0.5, flag=0.9))
    assert report["flag"] == {"threshold": 0.9, "precision": 0.5, "recall": pytest.approx(1 / 3), "share": 0.4, "n": 2}
    assert report["review"]["precision"] == 0.5
    assert report["review"]["recall"] == pytest.approx(2 / 3)
    assert report["review"]["share"] == 0.8
    assert report["allow_share"] == pytest.approx(0.2)
