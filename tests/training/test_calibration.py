"""Temperature scaling recovers a known temperature, and ECE tells calibrated from miscalibrated scores."""

from __future__ import annotations

import numpy as np
import pytest

from notecheck.model.classifier import calibrated
from notecheck.training.calibration import expected_calibration_error, fit_temperature, reliability_bins


def sample(n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True margins and labels drawn from them: sigmoid(margin) is exactly P(label = 1)."""
    rng = np.random.default_rng(seed)
    margin = rng.normal(0.0, 1.5, n)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-margin))).astype(np.int64)
    return margin, labels


def as_logits(margin: np.ndarray) -> np.ndarray:
    """(n, 2) logits whose difference is `margin`, split over both columns like a real head."""
    return np.stack([-margin / 2, margin / 2], axis=1)


@pytest.mark.parametrize("scale", [4.0, 0.25])
def test_fit_temperature_recovers_the_scale_of_miscalibrated_logits(scale: float) -> None:
    margin, labels = sample()
    logits = as_logits(scale * margin)  # over-confident (4) or under-confident (0.25)
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(scale, rel=0.08)
    before = expected_calibration_error(calibrated(logits, 1.0), labels)
    after = expected_calibration_error(calibrated(logits, temperature), labels)
    assert before > 0.05
    assert after < 0.02
    assert after < before / 3


def test_fit_temperature_leaves_calibrated_logits_alone() -> None:
    margin, labels = sample(seed=1)
    assert fit_temperature(as_logits(margin), labels) == pytest.approx(1.0, abs=0.08)


def test_fit_temperature_returns_one_for_degenerate_input() -> None:
    margin, labels = sample(200)
    assert fit_temperature(np.zeros((0, 2)), np.zeros(0)) == 1.0
    assert fit_temperature(as_logits(margin), np.ones_like(labels)) == 1.0  # one class
    assert fit_temperature(np.ones((200, 2)), labels) == 1.0  # constant logits
    bad = as_logits(margin)
    bad[0, 1] = np.nan
    assert fit_temperature(bad, labels) == 1.0


def test_fit_temperature_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        fit_temperature(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((5, 2)), np.zeros(4))


def test_fit_temperature_stays_in_range_on_separable_data() -> None:
    logits = as_logits(np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]))
    temperature = fit_temperature(logits, np.array([0, 0, 0, 1, 1, 1]))
    assert 0.05 <= temperature < 1.0  # separable: sharper is better, but bounded


@pytest.mark.parametrize("form", ["confidence", "binary"])
def test_ece_of_a_calibrated_sample_is_small(form: str) -> None:
    rng = np.random.default_rng(2)
    probs = rng.random(20000)
    labels = (rng.random(20000) < probs).astype(np.int64)
    assert expected_calibration_error(probs, labels, form=form) < 0.02  # type: ignore[arg-type]


def test_ece_of_a_confidently_wrong_sample_is_large() -> None:
    probs = np.array([0.9] * 50 + [0.1] * 50)
    labels = np.array([0] * 50 + [1] * 50)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.9)
    assert expected_calibration_error(probs, labels, form="binary") == pytest.approx(0.9)


def test_ece_by_hand() -> None:
    # confidence form: bin of 0.8 (3 notes: 2 right) and bin of 0.6 (1 note, wrong)
    probs = np.array([0.8, 0.8, 0.8, 0.4])
    labels = np.array([1, 1, 0, 1])
    expected = 3 / 4 * abs(2 / 3 - 0.8) + 1 / 4 * abs(0.0 - 0.6)
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(expected)
    assert expected_calibration_error(np.zeros(0), np.zeros(0)) == 0.0


def test_reliability_bins_count_every_note_once() -> None:
    probs = np.array([0.0, 0.05, 0.5, 0.51, 0.99, 1.0])
    labels = np.array([0, 0, 1, 1, 1, 1])
    mean, positive_rate, counts = reliability_bins(probs, labels, n_bins=10, form="binary")
    assert counts.sum() == probs.size
    assert counts[0] == 2 and counts[5] == 2 and counts[9] == 2  # 1.0 lands in the last bin
    assert mean[9] == pytest.approx(0.995)
    assert positive_rate[0] == 0.0 and positive_rate[9] == 1.0
    assert np.isnan(mean[3]) and counts[3] == 0


def test_reliability_bins_confidence_form_uses_the_predicted_class() -> None:
    mean, accuracy, counts = reliability_bins(np.array([0.1, 0.2]), np.array([0, 1]), n_bins=10)
    # confidences 0.9 (right) and 0.8 (wrong)
    assert counts[9] == 1 and counts[8] == 1
    assert mean[9] == pytest.approx(0.9) and accuracy[9] == 1.0
    assert mean[8] == pytest.approx(0.8) and accuracy[8] == 0.0


def test_reliability_bins_reject_bad_arguments() -> None:
    with pytest.raises(ValueError):
        reliability_bins(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError):
        reliability_bins(np.zeros(3), np.zeros(3), form="other")  # type: ignore[arg-type]
