"""The classifier's contract: order and length kept, truncation reported, safe loading, verdict logic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from notecheck.model.classifier import Classifier, calibrated, decide, model_input
from notecheck.model.disclosure import rate
from notecheck.model.errors import ModelLoadError
from notecheck.model.metadata import Thresholds
from notecheck.model.schema import Note
from notecheck.model.scorer import length_batches

NOTES = [
    "今天去了新开的咖啡店，拿铁一般。",
    "Use my code ANNA15 for 15% off, link in bio!",
    "宝宝最近长牙 " * 40,  # long: truncated at max_length 64
    "x",
    "My kettle broke after two weeks.",
]


def test_predict_keeps_order_and_length(tiny_classifier: Classifier) -> None:
    batch = tiny_classifier.predict(NOTES)
    assert len(batch) == len(NOTES)
    one_by_one = [tiny_classifier.predict([n])[0].p_commercial for n in NOTES]
    np.testing.assert_allclose([p.p_commercial for p in batch], one_by_one, atol=1e-5)
    # different notes get different scores, so a shuffled result would not pass the check above
    assert len({round(p.p_commercial, 6) for p in batch}) > 1


def test_predict_empty_and_ids(tiny_classifier: Classifier) -> None:
    assert tiny_classifier.predict([]) == []
    out = tiny_classifier.predict([Note(text="hello there", id="n1"), Note(text="再见", id="n2")])
    assert [p.id for p in out] == ["n1", "n2"]


def test_truncation_is_reported(tiny_classifier: Classifier) -> None:
    out = tiny_classifier.predict(NOTES)
    assert out[2].truncated and out[2].n_tokens > 64
    assert not out[0].truncated and out[0].n_tokens <= 64


def test_prediction_is_disclosure_blind(tiny_classifier: Classifier) -> None:
    plain, tagged = tiny_classifier.predict(["Great serum, love it", "Great serum, love it #ad"])
    assert plain.p_commercial == pytest.approx(tagged.p_commercial, abs=1e-6)
    assert tagged.disclosure.rating == "clear" and plain.disclosure.rating == "none"


def test_save_load_round_trip(tiny_classifier: Classifier, tmp_path: Path) -> None:
    tiny_classifier.metadata.temperature = 1.7
    try:
        tiny_classifier.save_pretrained(tmp_path / "copy")
        again = Classifier.from_pretrained(tmp_path / "copy")
    finally:
        tiny_classifier.metadata.temperature = 1.0
    assert again.metadata.temperature == 1.7
    assert json.loads((tmp_path / "copy" / "config.json").read_text())["id2label"] == {
        "0": "genuine",
        "1": "commercial",
    }
    a = again.scores(NOTES).logits
    b = tiny_classifier.scores(NOTES).logits
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize(
    ("victim", "action", "needle"),
    [
        ("model.safetensors", "delete", "model.safetensors"),
        ("config.json", "delete", "config.json"),
        ("notecheck.json", "delete", "notecheck.json"),
        ("notecheck.json", "corrupt", "notecheck.json"),
        ("model.safetensors", "corrupt", "model.safetensors"),
        ("tokenizer.json", "corrupt", "tokenizer"),
    ],
)
def test_broken_model_dir_names_the_file(
    tiny_model_dir: Path, tmp_path: Path, victim: str, action: str, needle: str
) -> None:
    broken = tmp_path / "m"
    shutil.copytree(tiny_model_dir, broken)
    if action == "delete":
        (broken / victim).unlink()
    else:
        (broken / victim).write_bytes(b"\x00garbage{")
    with pytest.raises(ModelLoadError) as info:
        Classifier.from_pretrained(broken)
    assert needle in str(info.value)


def test_pickled_weights_are_never_loaded(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "m"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").rename(broken / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="safetensors"):
        Classifier.from_pretrained(broken)


def test_missing_directory() -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        Classifier.from_pretrained("/nonexistent/model")


def test_calibrated_temperature_softens() -> None:
    logits = np.array([[0.0, 2.0], [1.0, -1.0]])
    sharp, soft = calibrated(logits, 1.0), calibrated(logits, 2.0)
    assert sharp[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert 0.5 < soft[0] < sharp[0] and sharp[1] < soft[1] < 0.5


@pytest.mark.parametrize(
    ("p", "text", "verdict", "action"),
    [
        (0.1, "nice day", "genuine", "allow"),
        (0.6, "nice serum", "undisclosed_ad", "review"),
        (0.95, "nice serum", "undisclosed_ad", "flag"),
        (0.95, "广告 nice serum", "disclosed_ad", "allow"),
        (0.95, "nice serum #sp", "undisclosed_ad", "flag"),
        (0.3, "nice serum", "genuine", "review"),
        # a clear disclosure makes a disclosed ad whatever P says; mentions and negations do not
        (0.03, "【品牌合作】 nice serum", "disclosed_ad", "allow"),
        (0.02, "Paid partnership with Glowco. Loving it", "disclosed_ad", "allow"),
        (0.02, "not sponsored, just love it", "genuine", "allow"),
        (0.02, "在广告公司上班的一天", "genuine", "allow"),
    ],
)
def test_decide(p: float, text: str, verdict: str, action: str) -> None:
    th = Thresholds(commercial=0.5, review=0.25, flag=0.9)
    assert decide(p, rate(text), th) == (verdict, action)


def test_model_input_masks_title_and_body() -> None:
    note = Note(text="超好用 #广告", title="广告｜面霜")
    masked = model_input(note)
    assert "广告" not in masked and "面霜" in masked and "超好用" in masked


@pytest.mark.parametrize("seed", range(5))
def test_length_batches_cover_every_index_once(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 300, size=57).tolist()
    batches = list(length_batches(lengths, batch_size=8, max_tokens=600))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(57))
    for b in batches:
        assert len(b) <= 8
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 600
