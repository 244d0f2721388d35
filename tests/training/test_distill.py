"""`notecheck distill`: a shallower student trained on a teacher's logits, written only when its validation
macro-F1 holds; a refused student is kept for a second look without retraining."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_retrain import notes_for, write_jsonl

from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError
from notecheck.model.metadata import ModelMetadata
from notecheck.training import trainer
from notecheck.training.config import TrainConfig
from notecheck.training.distill import distill_model_dir, student_config
from notecheck.training.pipeline import run_training

TINY_RUN = {"epochs": 2, "learning_rate": 1e-3}


@pytest.fixture(scope="module")
def teacher(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer tiny teacher trained on 16 authors' notes, with its frozen split."""
    root = tmp_path_factory.mktemp("distill")
    rng = random.Random(3)
    rows = [r for i in range(16) for r in notes_for(f"au{i:02d}", "en" if i % 2 else "zh", 4, rng)]
    config = {
        "model": "transformer",
        "base_model": str(tiny_model_dir),
        "data": [str(write_jsonl(root / "notes.jsonl", rows))],
        "split_file": str(root / "split.json"),
        "out": str(root / "teacher"),
        "recipe": "ft",
        "pooling": "cls",
        "max_length": 32,
        "batch_size": 8,
        "head_learning_rate": 1e-3,
        "precision": "fp32",
        "title_dropout": 0.5,
        **TINY_RUN,
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return run_training(TrainConfig.load(root / "run.yaml")).model_dir


def test_the_student_keeps_the_named_layers_and_records_its_teacher(
    teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "student"
    args = ["distill", "--model", str(teacher), "--out", str(out), "--layers", "1", "--epochs", "2"]
    assert main([*args, "--learning-rate", "1e-3", "--max-drop", "1"]) == 0  # a tiny model: the mechanics only
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert printed["out"] == str(out) and printed["layers"] == "1 of 2 (teacher layers 1)"
    student = Classifier.from_pretrained(out)
    assert student.scorer.model.config.num_hidden_layers == 1  # type: ignore[attr-defined]
    meta, source = student.metadata, ModelMetadata.load(teacher)
    record = meta.distilled
    assert record["teacher_version"] == source.version and record["layers"] == [1] and record["teacher_layers"] == 2
    assert record["validation_notes"] > 0 and 0 <= record["verdicts_agree"] <= 1
    assert record["validation_delta"] == pytest.approx(
        record["validation_f1_student"] - record["validation_f1_teacher"], abs=2e-4
    )
    assert record["test_f1_teacher"] == pytest.approx(source.metrics["test"]["macro_f1"])
    assert meta.metrics["test"]["n"] == source.metrics["test"]["n"]  # the teacher's frozen test split
    assert meta.training_data_hash == source.training_data_hash
    assert meta.config["teacher"] == str(teacher) and meta.config["title_dropout"] == 0.0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"| distilled from | `{source.version}`, keeping its layers 1 of 2" in card
    assert not out.with_name("student.partial").exists()
    assert len(student.predict(["Use my code A12 for 20% off", "周末和妈妈去公园，天气很好"])) == 2


def test_a_refused_student_is_kept_and_written_later_without_retraining(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "student"
    with pytest.raises(ConfigError, match="not written. The trained student stays in"):
        distill_model_dir(teacher, out, [0], max_drop=-1.0, **TINY_RUN)  # no student beats its teacher by 1
    assert not out.exists() and len(list((tmp_path / "student.partial").glob("*/checkpoint"))) == 1

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("trained again")

    real_step = trainer.train_step
    monkeypatch.setattr(trainer, "train_step", no_training)
    report = distill_model_dir(teacher, out, [0], max_drop=1.0, **TINY_RUN)
    assert report.layers == [0] and Classifier.from_pretrained(out).metadata.distilled["layers"] == [0]

    # other layers after a refusal are another student: trained afresh, never the kept one relabelled
    other = tmp_path / "other"
    monkeypatch.setattr(trainer, "train_step", real_step)
    with pytest.raises(ConfigError, match="not written"):
        distill_model_dir(teacher, other, [0], max_drop=-1.0, **TINY_RUN)
    steps = []
    monkeypatch.setattr(trainer, "train_step", lambda *a, **k: steps.append(1) or real_step(*a, **k))
    distill_model_dir(teacher, other, [1], max_drop=1.0, **TINY_RUN)
    assert steps and Classifier.from_pretrained(other).metadata.distilled["layers"] == [1]


def test_what_cannot_be_distilled_is_refused_in_one_line(
    teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {"--layers 2": "distinct layers of 0..1", "--layers 0,0": "distinct layers", "--layers a": "layer numbers"}
    for flags, message in cases.items():
        assert main(["distill", "--model", str(teacher), "--out", str(tmp_path / "s"), *flags.split()]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    marked = Path(shutil.copytree(teacher, tmp_path / "student-of-a-student"))
    meta = ModelMetadata.load(marked)
    meta.distilled = {"teacher_version": "x"}
    meta.save(marked)
    with pytest.raises(ConfigError, match="already distilled"):
        distill_model_dir(marked, tmp_path / "s2")
    meta.distilled, meta.vocab = {}, {"file": "vocab_remap.json"}
    meta.save(marked)
    with pytest.raises(ConfigError, match="--keep-tokenizer: distil the untrimmed model"):
        distill_model_dir(marked, tmp_path / "s2")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an empty directory"):
        distill_model_dir(teacher, tmp_path / "taken")
    with pytest.raises(ConfigError, match="unknown"):
        student_config(ModelMetadata.load(teacher), teacher, tmp_path / "s3", batch_size=3)


def test_the_teachers_logits_drive_the_loss(teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step's loss reads the teacher's logits of exactly the notes in its batch."""
    import numpy as np

    import notecheck.training.distill as distill_module

    seen: list[Any] = []
    batches: list[list[int]] = []
    logits: list[np.ndarray] = []
    real_step, real_pick, real_logits = trainer.train_step, trainer.pick_ids, distill_module.teacher_logits

    def spy_step(scorer: Any, optimizer: Any, loss_fn: Any, *args: Any) -> Any:
        seen.append((type(loss_fn).__name__, loss_fn.alpha, loss_fn.temperature, loss_fn.teacher.numpy().copy()))
        return real_step(scorer, optimizer, loss_fn, *args)

    def spy_pick(ids: Any, untitled: Any, batch: Any, *args: Any) -> Any:
        batches.append(list(batch))
        return real_pick(ids, untitled, batch, *args)

    def spy_logits(*args: Any) -> np.ndarray:
        logits.append(real_logits(*args))
        return logits[-1]

    monkeypatch.setattr(trainer, "train_step", spy_step)
    monkeypatch.setattr(trainer, "pick_ids", spy_pick)
    monkeypatch.setattr(distill_module, "teacher_logits", spy_logits)
    distill_model_dir(teacher, tmp_path / "s", [1], max_drop=1.0, distill_alpha=0.3, distill_temperature=3.0, epochs=1)
    assert seen and len(seen) == len(batches) and len(logits) == 1
    for (name, alpha, temperature, rows), batch in zip(seen, batches, strict=True):
        assert (name, alpha, temperature) == ("DistillationLoss", 0.3, 3.0)
        np.testing.assert_array_equal(rows, logits[0][batch])
    saved = json.loads((tmp_path / "s" / "notecheck.json").read_text(encoding="utf-8"))
    assert saved["distilled"]["distill_alpha"] == 0.3 and saved["config"]["distill_temperature"] == 3.0


def test_a_distilled_current_model_is_not_retrained_from_its_own_config(teacher: Path, tmp_path: Path) -> None:
    from notecheck.training.registry import Registry
    from notecheck.training.retrain import base_config

    student = Path(shutil.copytree(teacher, tmp_path / "student"))
    meta = ModelMetadata.load(student)
    meta.distilled = {"teacher_version": "t-1", "layers": [0]}
    meta.save(student)
    registry = Registry(tmp_path / "registry")
    registry.add(student, "s-1")
    registry.promote("s-1", "a distilled student in production")
    with pytest.raises(ConfigError, match="distilled student: retrain its teacher \\(t-1\\) with --config"):
        base_config(tmp_path / "registry")
    assert base_config(tmp_path / "registry", teacher.parent / "run.yaml").out.endswith("teacher")


def test_the_students_defaults_are_one_set(teacher: Path, tmp_path: Path) -> None:
    """The command's defaults are the library's (`STUDENT`), and the teacher's own rate never leaks in."""
    import inspect

    from notecheck.commands.distill import distill
    from notecheck.training.distill import STUDENT

    defaults = {name: p.default for name, p in inspect.signature(distill).parameters.items()}
    assert {"learning_rate": defaults["learning_rate"], "epochs": defaults["epochs"]} == STUDENT
    config = student_config(ModelMetadata.load(teacher), teacher, tmp_path / "s")
    assert (config.learning_rate, config.epochs) == (STUDENT["learning_rate"], STUDENT["epochs"])
    assert student_config(ModelMetadata.load(teacher), teacher, tmp_path / "s", epochs=1).epochs == 1
