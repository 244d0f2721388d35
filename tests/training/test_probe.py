"""Mean pooling, the linear probe as a head, LP-FT and WiSE-FT on the tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_trainer import config, notes

from notecheck.model.classifier import Classifier, model_input
from notecheck.model.pooling import BertMeanPoolForSequenceClassification, load_sequence_classifier, mean_pool
from notecheck.model.scorer import TransformerScorer
from notecheck.training.config import TrainConfig
from notecheck.training.probe import embed_notes, fit_probe, interpolate, set_head, snapshot
from notecheck.training.splits import Split
from notecheck.training.trainer import build_scorer, labels_of


def test_mean_pool_ignores_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_mean_pooled_model_saves_loads_and_pads_the_same(tiny_model_dir: Path, tmp_path: Path) -> None:
    scorer = build_scorer(str(tiny_model_dir), config(pooling="mean"))
    assert isinstance(scorer.model, BertMeanPoolForSequenceClassification) and scorer.model.bert.pooler is None
    texts = ["私信我拿优惠码", "Went hiking with my sister, the view was worth the blisters."]
    alone = [scorer.score([t]).logits[0] for t in texts]
    together = scorer.score(texts).logits  # padded to the longer one: padding must not change the mean
    np.testing.assert_allclose(together, np.stack(alone), atol=1e-5)
    scorer.save(tmp_path)
    again = load_sequence_classifier(tmp_path)
    assert isinstance(again, BertMeanPoolForSequenceClassification)
    reloaded = TransformerScorer(again, scorer.tokenizer, max_length=32)
    np.testing.assert_allclose(reloaded.score(texts).logits, together, atol=1e-5)


def test_the_probe_written_into_the_head_gives_the_probe_s_scores(tiny_model_dir: Path) -> None:
    data = notes()
    scorer = build_scorer(str(tiny_model_dir), config(pooling="mean"))
    x = embed_notes(scorer, data)
    y = labels_of(data)
    coef, intercept, c = fit_probe(x, y, x, y)
    assert c > 0 and coef.shape == (x.shape[1],)
    set_head(scorer.model, coef, intercept)
    logits = scorer.score([model_input(d.note) for d in data]).logits
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], x @ coef + intercept, atol=1e-4)
    assert ((logits[:, 1] > logits[:, 0]).astype(int) == y).mean() >= 0.9  # separable toy data


def test_interpolate_is_the_weighted_mean_of_the_two_states(tiny_model_dir: Path) -> None:
    scorer = build_scorer(str(tiny_model_dir), config(pooling="mean"))
    start = snapshot(scorer.model)
    with torch.no_grad():
        for p in scorer.model.parameters():
            p.add_(1.0)
    end = snapshot(scorer.model)
    interpolate(scorer.model, start, 0.25)
    for name, value in scorer.model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.75 * start[name] + 0.25 * end[name])
    with pytest.raises(ValueError):
        interpolate(scorer.model, start, 1.5)


@pytest.mark.parametrize("recipe", ["lp", "lp_ft"])
def test_recipes_train_through_the_pipeline(recipe: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    from notecheck.training.pipeline import build_and_fit

    data = notes()
    cfg = config(recipe=recipe, pooling="mean", base_model=str(tiny_model_dir), epochs=2, wise_alpha=0.5)
    classifier, facts = build_and_fit(cfg, Split(data, data, []), tmp_path / "work")
    assert facts["recipe"] == recipe and facts["probe_c"] > 0
    assert ("steps" in facts) == (recipe == "lp_ft") and facts.get("wise_alpha", 0.5) == 0.5
    preds = classifier.predict([n.note for n in data])
    called = np.array([int(p.p_commercial >= 0.5) for p in preds])
    assert (called == labels_of(data)).mean() >= 0.75
    classifier.save_pretrained(tmp_path / "model")
    again = Classifier.from_pretrained(tmp_path / "model")
    np.testing.assert_allclose(again.predict_proba([n.note for n in data]), [p.p_commercial for p in preds], atol=1e-5)


def test_recipe_settings_are_validated() -> None:
    from notecheck.model.errors import ConfigError

    with pytest.raises(ConfigError, match="pooling: mean"):
        TrainConfig(recipe="lp", pooling="cls").validate()
    with pytest.raises(ConfigError, match="recipe"):
        TrainConfig(recipe="magic").validate()
    with pytest.raises(ConfigError, match="wise_alpha"):
        TrainConfig(recipe="lp_ft", pooling="mean", wise_alpha=2.0).validate()


def test_asking_for_another_pooling_than_the_model_was_trained_with_fails(tiny_model_dir: Path, tmp_path: Path) -> None:
    scorer = build_scorer(str(tiny_model_dir), config(pooling="mean"))
    scorer.save(tmp_path)
    with pytest.raises(ValueError, match="mean pooling"):
        load_sequence_classifier(tmp_path, pooling="cls")
