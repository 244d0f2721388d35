"""The signal combiner: features from the rules, weights as plain numbers, effects that add up, and the
classifier using it end to end on the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from notecheck.model.classifier import Classifier, margins
from notecheck.model.combiner import FEATURES, Combiner, signal_features
from notecheck.model.disclosure import rate
from notecheck.model.schema import Note
from notecheck.model.signals import find_signals
from notecheck.training.combine import fit_combiner, note_features


def features(text: str, title: str = "") -> dict[str, float]:
    note = Note(text=text, title=title)
    return signal_features(find_signals(note), rate(text, title))


@pytest.mark.parametrize(
    ("text", "on"),
    [
        ("用了21天毛孔变小，评论区扣1私信发优惠券", {"contact", "code"}),
        ("加vx拿货，今晚开团", {"contact", "reseller"}),
        ("shop it on my LTK, use code JEN20", {"link", "code"}),  # JEN20 is the code, not a product
        ("转发抽3个宝子送同款，原价199元", {"giveaway", "price"}),
        ("#ad love this serum", {"disclosure_clear"}),
        ("love this serum #sp", {"disclosure_inadequate"}),
        ("今天天气很好，和妈妈去公园散步", set()),
    ],
)
def test_features_name_the_signal_groups(text: str, on: set[str]) -> None:
    got = features(text)
    assert set(got) == set(FEATURES)
    assert {k for k, v in got.items() if v} == on


def test_effects_add_up_to_the_combined_log_odds() -> None:
    comb = Combiner(bias=-1.0, model_weight=0.8, weights={"contact": 2.0, "code": 1.0, "price": -0.5})
    f = features("私信我拿优惠码，原价399现在199元")
    margin = 0.7
    total = comb.log_odds(np.array([margin]), [f])[0]
    effects = comb.effects(margin, f)
    assert {e.feature for e in effects} == {"contact", "code", "price"}
    assert total == pytest.approx(-1.0 + 0.8 * margin + sum(e.logit for e in effects))
    assert (
        effects[0].feature == "contact"
        and effects[0].p_delta > 0 > [e for e in effects if e.feature == "price"][0].p_delta
    )
    assert Combiner.from_dict(json.loads(json.dumps(comb.to_dict()))) == comb
    assert Combiner.from_dict({}) is None


def test_fit_learns_that_funnels_mean_commercial_when_the_model_misses_them() -> None:
    rng = np.random.default_rng(0)
    texts = ["评论区扣1私信发券", "link in bio for my code", "周末去公园散步", "my kettle broke again"] * 50
    labels = np.array([1, 1, 0, 0] * 50)
    margin = rng.normal(0, 1, len(texts)) + 0.5 * (labels * 2 - 1)  # a weak model
    comb = fit_combiner(margin, note_features([Note(text=t) for t in texts]), labels)
    assert comb is not None and comb.model_weight > 0
    assert comb.weights["contact"] > 1.0 and comb.weights["link"] > 0.5
    assert comb.weights["giveaway"] == pytest.approx(0.0, abs=1e-6)  # no note shows it: it stays at zero
    p = comb.probability(np.zeros(2), note_features([Note(text="评论区扣1私信发券"), Note(text="去公园散步")]))
    assert p[0] > 0.8 > 0.2 > p[1]


def test_a_model_running_against_the_labels_gets_no_combiner() -> None:
    labels = np.array([1, 0] * 40)
    assert fit_combiner(-(labels * 2.0 - 1), [dict.fromkeys(FEATURES, 0.0)] * 80, labels) is None
    assert fit_combiner(np.zeros(4), [dict.fromkeys(FEATURES, 0.0)] * 4, np.ones(4)) is None


def test_classifier_uses_the_stored_combiner(tiny_model_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    plain = Classifier.from_pretrained(target)
    notes = [Note(text="评论区扣1私信发优惠券"), Note(text="周末和妈妈去公园")]
    before = plain.predict(notes)
    assert all(p.signal_effects == () and p.p_model == pytest.approx(p.p_commercial) for p in before)
    plain.metadata.combiner = Combiner(bias=0.0, model_weight=1.0, weights={"contact": 3.0, "code": 1.0}).to_dict()
    plain.save_pretrained(target)
    combined = Classifier.from_pretrained(target)
    after = combined.predict(notes)
    margin = margins(combined.scores(notes).logits, combined.metadata.temperature)
    assert after[0].p_commercial == pytest.approx(1 / (1 + np.exp(-(margin[0] + 4.0))), rel=1e-5)
    assert after[1].p_commercial == pytest.approx(before[1].p_commercial, rel=1e-5)
    assert [e.feature for e in after[0].signal_effects] == ["contact", "code"]
    d = after[0].to_dict()
    assert d["p_model"] == pytest.approx(before[0].p_commercial, abs=1e-5) and d["signal_effects"][0]["logit"] == 3.0
    np.testing.assert_allclose(combined.predict_proba(notes), [p.p_commercial for p in after])
