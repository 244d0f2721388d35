"""Distil a trained model into a shallower student that scores about twice as many notes per second; the
student is written only when it holds up on the validation writers, whom neither model trained on.

The student starts as the teacher with only some of its transformer layers (every other one by default,
`training.encoder.layers`), gets a fresh linear probe on its own mean-pooled embeddings, and is fine-tuned on
the teacher's training notes with `trainer.DistillationLoss`: the hard labels plus the teacher's softened
logits (Hinton et al., 2015), so it learns how sure the teacher is, not only what it says. Then the usual end
of a run (`pipeline.finalize`): temperature, signal combiner and thresholds fitted on validation, the frozen
test split evaluated, a model card. Validation and test notes never reach the teacher's logits or the loss.

>>> distill_model_dir(Path("runs/default"), Path("runs/default-6l")).validation_delta  # doctest: +SKIP
-0.002
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError
from notecheck.model.loader import LabelledNote
from notecheck.model.metadata import ModelMetadata
from notecheck.model.scorer import TransformerScorer
from notecheck.training.config import TrainConfig
from notecheck.training.encoder.layers import check_layers, every_other_layer, keep_layers, layer_count
from notecheck.training.vocab_trim import model_split

log = logging.getLogger(__name__)

MAX_DROP = 0.005  # validation macro-F1 below the teacher's by more than this: nothing is written
#: run settings a distillation may change; the rest comes from the teacher's own run config
SETTINGS = ("epochs", "learning_rate", "head_learning_rate", "distill_alpha", "distill_temperature", "seed")
#: the student's own: chosen on the default model's VALIDATION writers, two runs of 6 layers: the teacher's
#: lr 1e-5 (2e-5) for 4 epochs left it short (validation macro-F1 -0.016 against the teacher), 6e-5 for 6
#: epochs reached it (+0.001); then checked on the 5 cross-writer folds (benchmarks/generalization.py)
STUDENT = {"learning_rate": 6e-5, "epochs": 6}


@dataclass
class DistillReport:
    """What `distill_model_dir` measured and wrote (its `record()` goes into the student's `notecheck.json`)."""

    out: Path
    version: str
    teacher_version: str
    layers: list[int]
    teacher_layers: int
    steps: int
    distill_alpha: float
    distill_temperature: float
    validation_notes: int
    validation_f1_teacher: float
    validation_f1_student: float
    validation_delta: float
    verdicts_agree: float  # share of validation notes with the teacher's verdict
    test_f1_teacher: float | None = None  # from the teacher's metadata (its own evaluation when trained)
    test_f1_student: float | None = None  # the student's own is in its metrics; not repeated in the record

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("out", "version", "test_f1_student")}


def student_config(
    teacher: ModelMetadata, teacher_dir: Path, out: Path, split_file: Path | None = None, **settings: Any
) -> TrainConfig:
    """The teacher's run config with the student's output, the teacher named, the split it is trained and
    checked on (`split_file`, else the teacher's), and `settings` applied."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ConfigError(f"distillation settings: unknown {sorted(unknown)}; known: {', '.join(SETTINGS)}")
    recorded = {k: v for k, v in teacher.config.items() if k in TrainConfig.__dataclass_fields__}
    config = TrainConfig.from_dict(
        {**recorded, **STUDENT, **settings, "out": str(out), "teacher": str(teacher_dir), "version": "", "max_steps": 0}
    )
    # the teacher's logits are for whole notes: showing the student untitled notes would teach it to give an
    # untitled note the titled note's score
    config.title_dropout = 0.0
    config.wise_alpha = 1.0
    if split_file is not None:  # what later commands on the student (quantize, trim-vocab) read as its split
        config.split_file = str(split_file)
    return config


def run_key(teacher: ModelMetadata, layers: Sequence[int], train: Sequence[LabelledNote]) -> str:
    """What a resumed distillation must share with the interrupted one: the teacher (by version), the layers
    kept and the training notes in their order (the logits are read by position)."""
    h = hashlib.sha256(f"{teacher.version}|{list(layers)}".encode())
    for n in train:
        h.update(f"\n{n.note.id}|{n.label}|{n.note.title}|{n.note.text}".encode())
    return h.hexdigest()[:16]


def teacher_logits(teacher_dir: Path, train: Sequence[LabelledNote], run_dir: Path) -> np.ndarray:
    """The teacher's logits for the training notes, in order, as it serves them (runtime `auto`: about 4x
    fp32's speed, a largest change of one note's P near 0.01); cached in `run_dir` (see `run_key`) for a
    resumed run."""
    cache = run_dir / "teacher_logits.npy"
    if cache.is_file():
        return np.load(cache)
    log.info("teacher %s: scoring %d training notes", teacher_dir, len(train))
    from tqdm.auto import tqdm

    teacher = Classifier.from_pretrained(teacher_dir, runtime="auto")
    notes, chunk = [n.note for n in train], 256
    parts = [
        np.asarray(teacher.scores(notes[i : i + chunk]).logits, dtype=np.float32)
        for i in tqdm(range(0, len(notes), chunk), desc="teacher", unit="chunk", dynamic_ncols=True)
    ]
    logits = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)
    run_dir.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".tmp.npy")
    np.save(partial, logits)
    partial.rename(cache)
    return logits


def train_student(
    teacher_dir: Path,
    layers: Sequence[int],
    train: Sequence[LabelledNote],
    validation: Sequence[LabelledNote],
    config: TrainConfig,
    work_dir: Path,
    logits: np.ndarray,
) -> tuple[TransformerScorer, dict[str, Any]]:
    """The student of the model in `teacher_dir` keeping `layers`, trained on `train` and the teacher's
    `logits` for them (its best epoch by validation macro-F1); and facts about the run. Resumable in
    `work_dir`. Shared with the cross-writer benchmark, which distils each fold's teacher."""
    from notecheck.training.probe import probe_into
    from notecheck.training.trainer import build_scorer, fit, labels_of, use_bf16

    start = work_dir / "student-init"
    if not (start / "model.safetensors").is_file():
        keep_layers(teacher_dir, layers, start)
    scorer = build_scorer(str(start), config)
    facts: dict[str, Any] = {"recipe": config.recipe, "layers": list(layers)}
    resuming = (work_dir / "checkpoint").is_dir()  # the probed head is in the checkpoint `fit` resumes from
    if config.recipe in ("lp", "lp_ft") and not resuming:  # the teacher's head reads all its layers: probe its own
        bf16 = use_bf16(config.precision)
        labels, val_labels = labels_of(train), labels_of(validation)
        facts["probe_c"] = probe_into(scorer, train, validation, labels, val_labels, bf16, config.probe_c)
    result = fit(scorer, train, validation, config, work_dir, teacher_logits=logits)
    facts.update({"best_epoch": result.best_epoch, "steps": result.steps, "train_seconds": round(result.seconds, 1)})
    return scorer, facts


def distill_model_dir(
    teacher_dir: Path,
    out: Path,
    layers: Sequence[int] | None = None,
    max_drop: float = MAX_DROP,
    split_file: Path | None = None,
    **settings: Any,
) -> DistillReport:
    """Train a student of `teacher_dir` keeping `layers` (default: every other one) and write it to `out`
    (new or empty) if its
    validation macro-F1 is within `max_drop` of the teacher's; raises ConfigError otherwise, leaving the trained
    student's checkpoint in `<out>.partial/` so that a second call with a larger `max_drop` does not retrain.
    `settings`: see `SETTINGS`. Resumable like `notecheck train`."""
    from notecheck.training.evaluate import evaluate
    from notecheck.training.pipeline import finalize, fit_decision

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty directory; choose a new one")
    teacher = ModelMetadata.load(teacher_dir)
    if teacher.backend != "transformer":
        raise ConfigError(f"{teacher_dir}: only a transformer model can be distilled (this one is {teacher.backend})")
    if teacher.quantized or teacher.distilled:
        kind = "quantized" if teacher.quantized else "already distilled"
        raise ConfigError(f"{teacher_dir} is {kind}: distil the model it was made from")
    if teacher.vocab.get("file"):  # its ids reach the embedding rows through a remap training does not read
        raise ConfigError(
            f"{teacher_dir} was trimmed with --keep-tokenizer: distil the untrimmed model, then trim the student"
        )
    layers = every_other_layer(teacher_dir) if layers is None else list(layers)
    check_layers(teacher_dir, layers, "--layers")
    split = model_split(teacher_dir, split_file)
    config = student_config(teacher, teacher_dir, out, split_file, **settings)
    work_dir = out.with_name(out.name + ".partial")
    run_dir = work_dir / run_key(teacher, layers, split.train)  # another teacher or layers never resume this one
    logits = teacher_logits(teacher_dir, split.train, run_dir)
    scorer, facts = train_student(teacher_dir, layers, split.train, split.validation, config, run_dir, logits)
    facts["teacher"] = teacher.version
    meta = ModelMetadata(backend="transformer", base_model=teacher.base_model, max_length=config.max_length)
    meta.vocab = dict(teacher.vocab)  # the teacher's tokenizer and embedding rows, trimmed or not, carry over
    student = Classifier(scorer, meta)
    fit_decision(student, split.validation, config)
    reference = evaluate(Classifier.from_pretrained(teacher_dir, runtime="fp32"), split.validation)
    candidate = evaluate(student, split.validation)
    f1 = {"teacher": reference["summary"]["macro_f1"], "student": candidate["summary"]["macro_f1"]}
    delta = f1["student"] - f1["teacher"]
    if delta < -max_drop:
        raise ConfigError(
            f"student validation macro-F1 {f1['student']:.4f} is {-delta:.4f} below the teacher's {f1['teacher']:.4f} "
            f"(allowed {max_drop}): not written. The trained student stays in {work_dir}; rerun with a larger "
            "--max-drop to write it anyway, or remove that folder to start over"
        )
    verdicts = [np.asarray(r["curves"]["verdicts"]) for r in (reference, candidate)]
    report = DistillReport(
        out=out,
        version="",
        teacher_version=teacher.version,
        layers=list(layers),
        teacher_layers=layer_count(teacher_dir),
        steps=int(facts["steps"]),
        distill_alpha=config.distill_alpha,
        distill_temperature=config.distill_temperature,
        validation_notes=len(split.validation),
        validation_f1_teacher=round(f1["teacher"], 4),
        validation_f1_student=round(f1["student"], 4),
        validation_delta=round(delta, 4),
        verdicts_agree=round(float(np.mean(verdicts[0] == verdicts[1])), 4),
        test_f1_teacher=teacher.metrics.get("test", {}).get("macro_f1"),
    )
    meta.distilled = report.record()
    outcome = finalize(student, split, config, facts, out)  # fits the same decision again, tests, writes `out`
    report.version = outcome.metadata.version
    report.test_f1_student = outcome.test_metrics["summary"]["macro_f1"]
    shutil.rmtree(work_dir, ignore_errors=True)
    return report
