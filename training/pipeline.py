"""`run_training`: data → split → fit → calibrate → thresholds → evaluate → model directory.

Both `notecheck train` and the retrain gate call this one function.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from notecheck.model.classifier import Classifier, calibrated, margins
from notecheck.model.loader import LabelledNote, data_files, load_notes
from notecheck.model.metadata import ModelMetadata
from notecheck.model.readers import ColumnMap
from notecheck.training.config import TrainConfig
from notecheck.training.encoder.build import ensure_base_model
from notecheck.training.relabels import Relabel, resolve_relabels
from notecheck.training.splits import FrozenSplit, Split, content_hash, split_notes

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    model_dir: Path
    metadata: ModelMetadata
    split: Split
    test_metrics: dict[str, Any]
    relabels: list[Relabel] = field(default_factory=list)  # moderators' decisions that changed a label


def load_training_notes(config: TrainConfig) -> list[LabelledNote]:
    return load_with_relabels(config)[0]


def load_with_relabels(config: TrainConfig) -> tuple[list[LabelledNote], list[Relabel]]:
    """The run's notes, one per id: moderators' decisions (rows with `decided_at`) relabel notes already in
    the data (see `training.relabels`); other duplicate ids are a data error."""
    columns = ColumnMap(text=config.text_column, label=config.label_column, id=config.id_column)
    notes, summary = load_notes(
        data_files(config.data), columns=columns, label_map=config.label_map, skip_invalid=config.skip_invalid
    )
    log.info(summary.describe())
    path = Path(config.split_file) if config.split_file else None
    frozen_test = set(FrozenSplit.load(path).test_ids) if path and path.is_file() else set()
    source = config.data[0] if config.data else "data"
    return resolve_relabels(notes, frozen_test, source=source, id_field=config.id_column)


def make_split(notes: list[LabelledNote], config: TrainConfig) -> Split:
    """Apply the frozen split when it exists; otherwise make one and freeze it: whole writers held out when the
    notes say who wrote them (`writer`), authors otherwise."""
    path = Path(config.split_file) if config.split_file else None
    if path and path.is_file():
        log.info("using the frozen split in %s", path)
        return FrozenSplit.load(path).apply(notes)
    if has_writers(notes):
        from notecheck.training.splits import split_by_writer

        split, test_w, val_w = split_by_writer(notes, seed=config.seed)
    else:
        split, test_w, val_w = split_notes(notes, seed=config.seed), [], []
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        FrozenSplit.from_split(split, config.seed, test_w, val_w).save(path)
        log.info("froze the split in %s (test hash %s)", path, content_hash(split.test)[:12])
    return split


def has_writers(notes: list[LabelledNote], per_lang: int = 5) -> bool:
    """Whether the notes name enough writers per language to hold out whole writers (2 test + 2 validation
    per language, and some left to train on)."""
    from notecheck.training.splits import writer_of

    writers: dict[str, set[str]] = {}
    for n in notes:
        if n.extra.get("writer"):
            writers.setdefault(str(n.note.lang), set()).add(writer_of(n))
    return bool(writers) and all(len(w) >= per_lang for w in writers.values())


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def build_and_fit(config: TrainConfig, split: Split, work_dir: Path) -> tuple[Classifier, dict[str, Any]]:
    """Train the configured backend; returns an uncalibrated classifier and training facts."""
    if config.model == "tfidf":
        from notecheck.training.baseline import fit_tfidf

        baseline = fit_tfidf(split.train, split.validation, config)
        return Classifier(baseline, ModelMetadata(backend="tfidf", base_model="char-ngram-tfidf")), {}
    from notecheck.training.trainer import build_scorer, fit, labels_of, use_bf16

    base = ensure_base_model(config.base_model)
    scorer = build_scorer(base, config)
    facts: dict[str, Any] = {"recipe": config.recipe}
    if config.recipe in ("lp", "lp_ft"):
        from notecheck.training.probe import probe_into, snapshot

        bf16 = use_bf16(config.precision)
        labels, val_labels = labels_of(split.train), labels_of(split.validation)
        facts["probe_c"] = probe_into(scorer, split.train, split.validation, labels, val_labels, bf16, config.probe_c)
        start = snapshot(scorer.model)
    if config.recipe in ("ft", "lp_ft"):
        result = fit(scorer, split.train, split.validation, config, work_dir)
        facts.update(
            {
                "best_epoch": result.best_epoch,
                "validation_macro_f1": result.best_f1,
                "steps": result.steps,
                "train_seconds": round(result.seconds, 1),
                "train_examples_per_second": round(result.examples_per_second, 2),
            }
        )
        if config.recipe == "lp_ft" and config.wise_alpha < 1:
            from notecheck.training.probe import interpolate

            interpolate(scorer.model, start, config.wise_alpha)
            facts["wise_alpha"] = config.wise_alpha
    meta = ModelMetadata(backend="transformer", base_model=config.base_model, max_length=config.max_length)
    return Classifier(scorer, meta), facts


def run_training(config: TrainConfig) -> TrainOutcome:
    """Train, calibrate, choose thresholds, evaluate on the frozen test split and write the model directory.

    Resumable: an interrupted run leaves its state in `<out>.partial/`, which the same call picks up.
    """
    notes, relabels = load_with_relabels(config)
    split = make_split(notes, config)
    log.info("split: %s", split.describe())
    out = Path(config.out)
    work_dir = out.with_name(out.name + ".partial")
    work_dir.mkdir(parents=True, exist_ok=True)
    classifier, facts = build_and_fit(config, split, work_dir)
    outcome = finalize(classifier, split, config, facts, out)
    outcome.relabels = relabels
    shutil.rmtree(work_dir, ignore_errors=True)
    return outcome


def fit_decision(classifier: Classifier, validation: list[LabelledNote], config: TrainConfig) -> None:
    """Fit what turns the model's logits into decisions, all on validation notes: the temperature, the signal
    combiner (when `config.combiner`) and the moderation thresholds on the combined P. Sets them in
    `classifier.metadata`. Writers unseen in training make the best validation: then the combiner learns how
    far the model's score carries to new voices, and how much the rule signals must add."""
    from notecheck.model.disclosure import rate
    from notecheck.training.calibration import fit_temperature
    from notecheck.training.thresholds import choose_thresholds
    from notecheck.training.trainer import labels_of

    val_logits = classifier.scores([n.note for n in validation]).logits
    val_labels = labels_of(validation)
    disclosures = [rate(n.note.text, n.note.title) for n in validation]
    meta = classifier.metadata
    meta.temperature = fit_temperature(val_logits, val_labels)
    val_probs = calibrated(val_logits, meta.temperature)
    meta.combiner = {}
    if config.combiner:
        from notecheck.training.combine import fit_combiner, note_features

        val_margin = margins(val_logits, meta.temperature)
        val_features = note_features([n.note for n in validation], disclosures)
        combiner = fit_combiner(val_margin, val_features, val_labels)
        meta.combiner = combiner.to_dict() if combiner else {}
        val_probs = combiner.probability(val_margin, val_features) if combiner else val_probs
    # a clearly disclosed note is always allowed (`decide`), so thresholds are chosen on the others: their
    # commercial notes are the undisclosed ads the flag and review actions act on
    open_notes = np.array([d.rating != "clear" for d in disclosures], dtype=bool)
    meta.thresholds = choose_thresholds(
        np.asarray(val_probs)[open_notes],
        val_labels[open_notes],
        flag_precision=config.flag_precision,
        review_recall=config.review_recall,
    )


def finalize(
    classifier: Classifier, split: Split, config: TrainConfig, facts: dict[str, Any], out: Path
) -> TrainOutcome:
    """Calibrate on validation, choose the moderation thresholds, evaluate on test, write `out` atomically."""
    from notecheck.training.card import write_model_card
    from notecheck.training.evaluate import evaluate

    fit_decision(classifier, split.validation, config)
    meta = classifier.metadata
    train_hash = content_hash(split.train)
    meta.training_data_hash = train_hash
    meta.test_split_hash = content_hash(split.test)
    meta.config = config.to_dict()
    meta.git_revision = git_revision()
    meta.created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta.version = config.version or f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{train_hash[:8]}"
    test = evaluate(classifier, split.test)
    meta.metrics = {
        "test": test["summary"],
        "training": facts,
        "split": {k: len(v) for k, v in split.parts().items()},
    }
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    classifier.save_pretrained(staging)
    write_model_card(staging, meta, test)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    log.debug("model %s written to %s", meta.version, out)
    return TrainOutcome(out, meta, split, test)
