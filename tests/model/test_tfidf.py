"""The TF-IDF backend: fit, save without pickles, reload bit-identically, serve through `Classifier.predict`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from notecheck.model.classifier import Classifier, model_input
from notecheck.model.errors import DatasetError, ModelLoadError
from notecheck.model.loader import LabelledNote
from notecheck.model.metadata import ModelMetadata
from notecheck.model.schema import Note
from notecheck.model.tfidf import PARAMS_FILE, VOCAB_FILE, WEIGHTS_FILE, TfidfScorer, vocabulary_terms
from notecheck.training.baseline import C_GRID, fit_tfidf
from notecheck.training.config import TrainConfig

GENUINE = [
    "Went hiking with my sister on Sunday, the view was worth the blisters.",
    "My kettle broke after two weeks, returning it tomorrow, so annoyed.",
    "Baked sourdough for the first time, it came out flat but tasty.",
    "Rainy weekend, we stayed in and watched old films with the kids.",
    "今天去了新开的咖啡店，拿铁一般，环境不错。",
    "宝宝最近长牙，晚上睡不好，求各位妈妈支招。",
    "周末带狗狗去公园，它追了一下午的鸽子。",
    "自己在家做了红烧肉，火候没掌握好，有点咸。",
]
COMMERCIAL = [
    "Use my code ANNA15 for 15% off, link in bio, DM me for the discount!",
    "Only 199 today, limited offer, click the link in bio before it sells out!",
    "Grab this serum now with my code GLOW20, link in bio, free shipping today!",
    "Flash sale: 50% off with code SUMMER, link in bio, only three hours left!",
    "私信我拿优惠码，评论区扣1，戳主页看链接，淘宝搜同款。",
    "今天下单立减50元，链接在主页，手慢无，姐妹们冲！",
    "优惠码GLOW20，私信领取，主页有购买链接，限时折扣！",
    "淘宝搜同款，评论区扣1发链接，今天限时五折，手慢无！",
]


def _note(text: str, label: str, i: int) -> LabelledNote:
    return LabelledNote(Note(text=text, id=f"n{i}", author_id=f"a{i}"), label)


def _dataset() -> tuple[list[LabelledNote], list[LabelledNote]]:
    """Train on every note but the last of each language and class; validate on those."""
    train, validation = [], []
    for label, texts in (("genuine", GENUINE), ("undisclosed_ad", COMMERCIAL)):
        for i, text in enumerate(texts):
            item = _note(text, label, len(train) + len(validation))
            (validation if i in (3, 7) else train).append(item)
    return train, validation


@pytest.fixture(scope="module")
def scorer() -> TfidfScorer:
    train, validation = _dataset()
    return fit_tfidf(train, validation, TrainConfig(model="tfidf"))


@pytest.fixture()
def model_dir(scorer: TfidfScorer, tmp_path: Path) -> Path:
    meta = ModelMetadata(version="tfidf-test", backend="tfidf", base_model="char-ngram-tfidf")
    return Classifier(scorer, meta).save_pretrained(tmp_path / "model")


PROBE = [
    "Use my code MAY10 for 10% off, link in bio!",
    "Went to the park with my sister, the kids loved it.",
    "私信我拿优惠码，主页有链接，今天限时折扣！",
    "周末和朋友去爬山，风景很好，有点累。",
]


def test_reload_gives_identical_probabilities_and_no_pickles(scorer: TfidfScorer, model_dir: Path) -> None:
    loaded = TfidfScorer.load(model_dir)
    before, after = scorer.score(PROBE).logits, loaded.score(PROBE).logits
    assert np.array_equal(before, after)  # bit-identical, not merely close
    assert loaded.params == scorer.params
    assert {p.name for p in model_dir.iterdir()} == {PARAMS_FILE, VOCAB_FILE, WEIGHTS_FILE, "notecheck.json"}
    for path in model_dir.iterdir():
        assert path.suffix not in (".pkl", ".pickle", ".joblib", ".bin", ".pt")
        assert not path.read_bytes().startswith(b"\x80"), f"{path.name} looks like a pickle"
    assert json.loads((model_dir / VOCAB_FILE).read_text(encoding="utf-8")) == vocabulary_terms(scorer.vectorizer)


def test_served_through_classifier_predict(model_dir: Path) -> None:
    clf = Classifier.from_pretrained(model_dir)
    assert isinstance(clf.scorer, TfidfScorer) and clf.version == "tfidf-test"
    notes = [Note(text=t, id=str(i)) for i, t in enumerate(PROBE)]
    predictions = clf.predict(notes)
    assert [p.id for p in predictions] == ["0", "1", "2", "3"]
    assert [p.verdict for p in predictions] == ["undisclosed_ad", "genuine", "undisclosed_ad", "genuine"]
    assert [p.n_tokens for p in predictions] == [len(model_input(n)) for n in notes]
    assert not any(p.truncated for p in predictions)
    probs = clf.predict_proba(notes)
    assert np.allclose(probs, [p.p_commercial for p in predictions])
    assert probs[0] > 0.5 > probs[1] and probs[2] > 0.5 > probs[3]
    assert clf.predict([]) == [] and clf.scores([]).logits.shape == (0, 2)


def test_fits_on_the_disclosure_masked_input() -> None:
    train, validation = _dataset()
    for item in train:
        if item.label != "genuine":
            item.note.text += " #sponsored"
    terms = set(vocabulary_terms(fit_tfidf(train, validation, TrainConfig(model="tfidf")).vectorizer))
    assert not any("spon" in t for t in terms)  # `#sponsored` is a clear marker: blanked before fitting
    assert any("ANN" in t.upper() for t in terms)  # what is left of the notes is learned


def test_regularisation_is_chosen_from_the_grid(scorer: TfidfScorer) -> None:
    assert scorer.params.C in C_GRID
    train, validation = _dataset()
    assert fit_tfidf(train, validation, TrainConfig(model="tfidf"), grid=(0.25,)).params.C == 0.25


def test_one_class_of_training_notes_is_refused() -> None:
    train, validation = _dataset()
    with pytest.raises(DatasetError, match="both"):
        fit_tfidf([n for n in train if n.label == "genuine"], validation, TrainConfig(model="tfidf"))


@pytest.mark.parametrize("name", [PARAMS_FILE, VOCAB_FILE, WEIGHTS_FILE])
def test_missing_file_is_named(model_dir: Path, name: str) -> None:
    (model_dir / name).unlink()
    with pytest.raises(ModelLoadError, match=name.replace(".", r"\.")) as info:
        Classifier.from_pretrained(model_dir)
    assert info.value.path.endswith(name)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (WEIGHTS_FILE, b"not a safetensors file at all"),
        (VOCAB_FILE, b'{"not": "a list"}'),
        (VOCAB_FILE, b'["a", "b"]'),  # fewer n-grams than weights
        (PARAMS_FILE, b"{broken json"),
        (PARAMS_FILE, b'{"format_version": 1, "n_features": 3, "params": {"analyzer": "bytes"}}'),
    ],
)
def test_corrupt_file_is_named(model_dir: Path, name: str, content: bytes) -> None:
    (model_dir / name).write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        TfidfScorer.load(model_dir)
    assert Path(info.value.path).parent == model_dir
    assert Path(info.value.path).name in (name, WEIGHTS_FILE)  # a size mismatch is reported on the weights
