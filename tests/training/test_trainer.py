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


def test_distillation_loss_is_hard_loss_plus_scaled_kl() -> None:
    from notecheck.training.trainer import DistillationLoss

    hard = torch.nn.CrossEntropyLoss()
    logits, labels = torch.tensor([[2.0, -1.0], [0.5, 0.3]]), torch.tensor([0, 1])
    loss = DistillationLoss(hard, alpha=0.25, temperature=2.0)
    loss.teacher = logits.clone()  # a student equal to its teacher: the soft term is zero
    assert loss(logits, labels).item() == pytest.approx(0.25 * hard(logits, labels).item(), rel=1e-6)
    loss.teacher = torch.tensor([[-2.0, 1.0], [0.5, 0.3]])
    p, q = torch.softmax(loss.teacher / 2, -1), torch.softmax(logits / 2, -1)
    kl = (p * (p.log() - q.log())).sum(-1).mean()
    expected = 0.25 * hard(logits, labels) + 0.75 * 4 * kl
    assert loss(logits, labels).item() == pytest.approx(expected.item(), rel=1e-5)
    loss.teacher = None
    with pytest.raises(RuntimeError, match="teacher logits"):
        loss(logits, labels)


def test_distillation_follows_the_teachers_logits(tiny_model_dir: Path, tmp_path: Path) -> None:
    """With alpha 0 only the teacher speaks: a teacher that says the opposite of the labels is learnt."""
    data = notes()
    y = np.array([int(n.label == "undisclosed_ad") for n in data])
    teacher = np.stack([4.0 * y, 4.0 * (1 - y)], axis=1).astype(np.float32)  # every label flipped
    cfg = config(teacher="teacher-dir", distill_alpha=0.0, distill_temperature=1.0, epochs=30, patience=100)
    scorer = build_scorer(str(tiny_model_dir), cfg)
    flipped = [LabelledNote(n.note, "genuine" if n.label == "undisclosed_ad" else "undisclosed_ad") for n in data]
    fit(scorer, data, flipped, cfg, tmp_path / "work", teacher_logits=teacher)  # the best epoch: the teacher's
    predicted = scorer.score([n.note.text for n in data]).logits.argmax(axis=1)
    assert (predicted == 1 - y).mean() >= 0.8
    with pytest.raises(Exception, match="teacher logits have shape"):
        fit(build_scorer(str(tiny_model_dir), cfg), data, data, cfg, tmp_path / "w2", teacher_logits=teacher[:3])
    titled = [LabelledNote(Note(text=n.note.text, title="标题", id=n.note.id), n.label) for n in data]
    dropping = config(teacher="teacher-dir", title_dropout=0.5)
    with pytest.raises(Exception, match="title_dropout 0"):
        scorer = build_scorer(str(tiny_model_dir), dropping)
        fit(scorer, titled, data, dropping, tmp_path / "w3", teacher_logits=teacher)


def test_a_distillation_checkpoint_does_not_resume_a_plain_run() -> None:
    from notecheck.training.trainer import config_hash

    assert config_hash(config()) != config_hash(config(teacher="t"))
    assert config_hash(config(teacher="t")) != config_hash(config(teacher="t", distill_alpha=0.1))
    assert config_hash(config()) == config_hash(config(distill_alpha=0.1))  # ignored without a teacher
