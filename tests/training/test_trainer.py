"""The fine-tuning loop on the tiny model: it learns, it is deterministic, and it resumes exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from notecheck.model.loader import LabelledNote
from notecheck.model.schema import Note
from notecheck.training import trainer
from notecheck.training.config import TrainConfig
from notecheck.training.trainer import build_scorer, epoch_batches, fit, lr_factor

GENUINE = [
    "今天去了新开的咖啡店，拿铁一般。",
    "My kettle broke after two weeks.",
    "宝宝最近长牙，晚上睡不好。",
    "Went hiking with my sister.",
    "周末带狗狗去公园。",
    "Honest review: the blender is loud.",
]
COMMERCIAL = [
    "私信我拿优惠码，评论区扣1",
    "Use my code ANNA15, link in bio!",
    "淘宝搜同款，戳主页看链接",
    "DM me for the discount!",
    "评论区扣1，私信发链接",
    "Price 199, search it on Taobao, code ANNA15",
]


def notes() -> list[LabelledNote]:
    out = []
    for i, (g, c) in enumerate(zip(GENUINE, COMMERCIAL, strict=True)):
        out.append(LabelledNote(Note(text=g, id=f"g{i}", author_id=f"a{i}"), "genuine"))
        out.append(LabelledNote(Note(text=c, id=f"c{i}", author_id=f"b{i}"), "undisclosed_ad"))
    return out


def config(**kw: object) -> TrainConfig:
    base = dict(
        epochs=8,
        batch_size=4,
        learning_rate=1e-2,
        head_learning_rate=1e-2,
        max_length=32,
        precision="fp32",
        checkpoint_every=2,
        patience=10,
        freeze_embeddings=False,
        warmup_ratio=0.0,
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_few_steps_learn_and_round_trip(tiny_model_dir: Path, tmp_path: Path) -> None:
    from notecheck.model.classifier import Classifier
    from notecheck.model.metadata import ModelMetadata

    scorer = build_scorer(str(tiny_model_dir), config())
    data = notes()
    before = scorer.score([n.note.text for n in data]).logits
    result = fit(scorer, data, data, config(), tmp_path / "work")
    after = scorer.score([n.note.text for n in data]).logits
    assert not np.allclose(before, after)
    assert result.best_f1 >= 0.8  # it can fit 12 notes
    clf = Classifier(scorer, ModelMetadata(max_length=32))
    clf.save_pretrained(tmp_path / "m")
    again = Classifier.from_pretrained(tmp_path / "m")
    texts = [n.note for n in data]
    np.testing.assert_allclose(clf.predict_proba(texts), again.predict_proba(texts), atol=1e-6)


def test_resume_after_interruption_gives_the_same_weights(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(epochs=2)
    straight = build_scorer(str(tiny_model_dir), cfg)
    fit(straight, notes(), notes(), cfg, tmp_path / "straight")

    resumed = build_scorer(str(tiny_model_dir), cfg)
    real_save = trainer.save_checkpoint
    calls = {"n": 0}

    def save_then_die(*args: object, **kwargs: object) -> None:
        real_save(*args, **kwargs)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 2:  # killed right after the second checkpoint, mid epoch 1
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit(resumed, notes(), notes(), cfg, tmp_path / "resumed")
    monkeypatch.setattr(trainer, "save_checkpoint", real_save)
    fresh = build_scorer(str(tiny_model_dir), cfg)  # a new process would start from the base again
    fit(fresh, notes(), notes(), cfg, tmp_path / "resumed")
    torch.testing.assert_close(weights(fresh.model), weights(straight.model))


def test_epoch_batches_deterministic_and_complete() -> None:
    lengths = list(range(3, 40))
    a, b = epoch_batches(lengths, 4, seed=1, epoch=0), epoch_batches(lengths, 4, seed=1, epoch=0)
    assert a == b and a != epoch_batches(lengths, 4, seed=1, epoch=1)
    assert sorted(i for batch in a for i in batch) == list(range(len(lengths)))


def test_lr_schedule_warms_up_then_decays() -> None:
    values = [lr_factor(s, 100, 0.1) for s in range(100)]
    assert values[0] < values[9] == pytest.approx(1.0) and values[-1] < 0.05
    assert all(x >= y for x, y in zip(values[10:], values[11:], strict=False))
