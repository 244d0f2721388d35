"""Gated retraining: train a candidate on old + new data, compare it with the current model on the same
frozen test notes, and promote it only when it is no worse overall and in every language.

`gate` is a pure function of two `evaluate(...)["summary"]` dicts; `retrain` does the training, the
evaluation, the registry bookkeeping and writes `decision.json` into the candidate's directory, whether
it was promoted or not (every candidate stays in the registry, so a refusal can be inspected or overruled
with `Registry.promote`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError
from notecheck.model.metadata import ModelMetadata
from notecheck.model.options import RETRAIN_SLICE_TOLERANCE, RETRAIN_TOLERANCE
from notecheck.training.config import TrainConfig
from notecheck.training.registry import Registry, RegistryError

log = logging.getLogger(__name__)

DECISION_FILE = "decision.json"
FIRST_SPLIT_FILE = "split.json"  # where the first model's split is frozen when the config names none
REVIEW_FOLDER = "review"  # inside the registry: the snapshots of the review queue's decisions
EPSILON = 1e-9  # a candidate exactly at the tolerance passes despite float rounding


@dataclass
class Decision:
    """What the gate decided and why. `reasons` are plain sentences, refusals first."""

    promote: bool
    reasons: list[str]
    current: dict[str, Any]  # figures of the current model: macro_f1, n, by_lang {lang: {macro_f1, n}}
    candidate: dict[str, Any]  # the same figures for the candidate
    deltas: dict[str, Any]  # candidate - current: macro_f1 and by_lang {lang: delta}
    tolerance: float = RETRAIN_TOLERANCE
    slice_tolerance: float = RETRAIN_SLICE_TOLERANCE
    current_version: str | None = None
    candidate_version: str = ""
    data: list[str] = field(default_factory=list)
    decided_at: str = ""
    relabels: list[dict[str, Any]] = field(default_factory=list)  # moderators' decisions that changed a label

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def headline(self) -> str:
        """The one reason to show on a single line: the first refusal, or the overall comparison."""
        return self.reasons[0] if self.reasons else ("promoted" if self.promote else "kept")

    def save(self, directory: Path) -> Path:
        path = directory / DECISION_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The numbers the gate compares, taken from an `evaluate(...)["summary"]` dict."""
    if not isinstance(summary.get("macro_f1"), int | float):
        raise ValueError("an evaluation summary needs a numeric 'macro_f1'")
    by_lang = {
        str(lang): {"macro_f1": float(m["macro_f1"]), "n": int(m.get("n", 0))}
        for lang, m in (summary.get("by_lang") or {}).items()
    }
    return {"macro_f1": float(summary["macro_f1"]), "n": int(summary.get("n", 0)), "by_lang": by_lang}


def _check_tolerances(tolerance: float, slice_tolerance: float) -> None:
    for name, value in (("tolerance", tolerance), ("slice_tolerance", slice_tolerance)):
        if not 0 <= value < 1:
            raise ConfigError(f"{name}: must be at least 0 and below 1, got {value}")


def gate(
    current: dict[str, Any],
    candidate: dict[str, Any],
    tolerance: float = RETRAIN_TOLERANCE,
    slice_tolerance: float = RETRAIN_SLICE_TOLERANCE,
) -> Decision:
    """Promote only if the candidate's macro-F1 is at least the current one minus `tolerance` and no
    language slice of the current model loses more than `slice_tolerance` (a slice missing from the
    candidate's figures counts as lost).

    >>> gate({"macro_f1": 0.90, "by_lang": {}}, {"macro_f1": 0.85, "by_lang": {}}).promote
    False
    """
    _check_tolerances(tolerance, slice_tolerance)
    cur, cand = figures(current), figures(candidate)
    refusals: list[str] = []
    passes: list[str] = []
    delta = cand["macro_f1"] - cur["macro_f1"]
    comparison = f"macro-F1 {cur['macro_f1']:.4f} -> {cand['macro_f1']:.4f} ({delta:+.4f})"
    if delta < -tolerance - EPSILON:
        refusals.append(f"{comparison} falls by more than the tolerance of {tolerance:.4f}.")
    else:
        passes.append(f"{comparison} does not fall by more than the tolerance of {tolerance:.4f}.")

    slice_deltas: dict[str, float | None] = {}
    slices_before = len(refusals)
    for lang, before in cur["by_lang"].items():
        after = cand["by_lang"].get(lang)
        if after is None:
            slice_deltas[lang] = None
            refusals.append(f"the {lang} slice ({before['n']} notes) is missing from the candidate's figures.")
            continue
        d = after["macro_f1"] - before["macro_f1"]
        slice_deltas[lang] = d
        if d < -slice_tolerance - EPSILON:
            refusals.append(
                f"{lang} macro-F1 {before['macro_f1']:.4f} -> {after['macro_f1']:.4f} ({d:+.4f}) falls by more "
                f"than the slice tolerance of {slice_tolerance:.4f}."
            )
    if cur["by_lang"] and len(refusals) == slices_before:
        listed = ", ".join(f"{lang} {d:+.4f}" for lang, d in slice_deltas.items() if d is not None)
        passes.append(f"no language slice falls by more than {slice_tolerance:.4f} ({listed}).")
    return Decision(
        promote=not refusals,
        reasons=refusals + passes,
        current=cur,
        candidate=cand,
        deltas={"macro_f1": delta, "by_lang": slice_deltas},
        tolerance=tolerance,
        slice_tolerance=slice_tolerance,
    )


def base_config(registry_root: str | Path, config_path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """The run config of a retrain: the YAML at `config_path` when given, else the current model's own
    config (so a retrain repeats what produced it), else the default config; then `overrides`."""
    if config_path:
        return TrainConfig.load(config_path, **overrides)
    current = Registry(registry_root).current()
    if current is None:
        return TrainConfig.load(None, **overrides)
    metadata = ModelMetadata.load(current)
    if metadata.distilled:  # its config trains a full-depth model with a student's settings, not a student
        raise ConfigError(
            f"the current model {metadata.version} is a distilled student: retrain its teacher "
            f"({metadata.distilled.get('teacher_version', '?')}) with --config, then `notecheck distill` it"
        )
    saved = metadata.config
    known = {f.name for f in fields(TrainConfig)}
    dropped = sorted(set(saved) - known)
    if dropped:
        log.warning("ignoring settings the current model was trained with that no longer exist: %s", dropped)
    values = {k: v for k, v in saved.items() if k in known}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(values)


def _unique(paths: list[str]) -> list[str]:
    return list(dict.fromkeys(str(p) for p in paths))


def _work_out(registry: Registry, config: TrainConfig) -> str:
    """A work directory named by the run config, so an interrupted retrain of the same inputs resumes."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    return str(registry.work_dir / f"candidate-{digest}")


def candidate_config(
    current: ModelMetadata, new_data: list[str], config: TrainConfig, registry: Registry
) -> TrainConfig:
    """`config` with the current model's data plus `new_data`, the current model's frozen split file, an
    output directory inside the registry and a derived version."""
    split_file = str(current.config.get("split_file") or "")
    if not split_file or not Path(split_file).is_file():
        raise ConfigError(
            f"split_file: the current model's frozen split '{split_file}' is missing; a retrain must be "
            "tested on the same frozen split (restore the file or train a new registry)"
        )
    values = config.to_dict()
    old_data = [str(p) for p in current.config.get("data", [])]
    if any(is_review_snapshot(p) for p in new_data):  # the newest snapshot holds every standing decision
        old_data = [p for p in old_data if not is_review_snapshot(p)]
    values.update(data=_unique([*old_data, *new_data]), split_file=split_file, version="")
    values["out"] = _work_out(registry, TrainConfig.from_dict(values))
    return TrainConfig.from_dict(values)


def is_review_snapshot(path: str | Path) -> bool:
    """Whether a data path is a snapshot `review_snapshot` wrote (`<registry>/review/decisions-*.jsonl`)."""
    path = Path(path)
    return path.parent.name == REVIEW_FOLDER and path.name.startswith("decisions-")


def _add_candidate(registry: Registry, model_dir: Path, metadata: ModelMetadata) -> str:
    """Move a trained model into the registry under its version (suffixed if the name is taken)."""
    version, n = metadata.version, 1
    existing = set(registry.versions())
    while version in existing or (registry.root / version).exists():
        n += 1
        version = f"{metadata.version}-{n}"
    if version != metadata.version:
        metadata.version = version
        metadata.save(model_dir)
    registry.add(model_dir, version, move=True)
    return version


def _first_model(registry: Registry, new_data: list[str], config: TrainConfig) -> Decision:
    from notecheck.training.pipeline import run_training

    values = config.to_dict()
    values.update(data=_unique([*config.data, *new_data]), version="")
    if not values["split_file"]:
        values["split_file"] = str(registry.root / FIRST_SPLIT_FILE)
    values["out"] = _work_out(registry, TrainConfig.from_dict(values))
    outcome = run_training(TrainConfig.from_dict(values))
    version = _add_candidate(registry, outcome.model_dir, outcome.metadata)
    reason = "the registry was empty: the first model is promoted without a gate."
    registry.promote(version, reason)
    cand = figures(outcome.test_metrics["summary"])
    relabels = [r.to_dict() for r in outcome.relabels]
    return Decision(True, [reason], {}, cand, {}, candidate_version=version, data=values["data"], relabels=relabels)


def _gated(
    registry: Registry, current_dir: Path, new_data: list[str], config: TrainConfig, tolerance: float, slice_tol: float
) -> Decision:
    """Train the candidate, evaluate both models on the same frozen test notes and apply the gate."""
    from notecheck.training.evaluate import evaluate
    from notecheck.training.pipeline import run_training

    current_meta = ModelMetadata.load(current_dir)
    outcome = run_training(candidate_config(current_meta, new_data, config, registry))
    version = _add_candidate(registry, outcome.model_dir, outcome.metadata)
    if outcome.metadata.test_split_hash != current_meta.test_split_hash:
        reason = (
            f"the candidate was tested on split {outcome.metadata.test_split_hash[:12]}, the current model on "
            f"{current_meta.test_split_hash[:12] or 'an unrecorded split'}: their figures cannot be compared."
        )
        current_figures = figures(current_meta.metrics.get("test") or {"macro_f1": 0.0})
        decision = Decision(False, [reason], current_figures, figures(outcome.test_metrics["summary"]), {})
    else:
        test = outcome.split.test
        log.info("evaluating %s and %s on the same %d frozen test notes", current_dir.name, version, len(test))
        current_summary = evaluate(Classifier.from_pretrained(current_dir), test)["summary"]
        candidate_summary = evaluate(Classifier.from_pretrained(registry.path(version)), test)["summary"]
        decision = gate(current_summary, candidate_summary, tolerance, slice_tol)
    decision.current_version, decision.candidate_version = current_dir.name, version
    decision.data = outcome.metadata.config.get("data", [])
    decision.relabels = [r.to_dict() for r in outcome.relabels]
    decision.tolerance, decision.slice_tolerance = tolerance, slice_tol
    return decision


def adopt(registry_root: str | Path, model_dir: str | Path) -> str:
    """Start an empty registry with an existing model (e.g. the `runs/default` that `notecheck demo` trains) as
    its current version, so the first retrain is gated against it. A registry that holds that model already
    is left as it is (rerunning the same command goes on from the registry's current model); a registry with
    other models only is refused."""
    registry = Registry(registry_root)
    metadata = ModelMetadata.load(model_dir)
    version = metadata.version
    if version in registry.versions():
        return version  # adopted before (a rerun of the same command): the registry goes on from where it is
    if registry.current() is not None:
        raise ConfigError(f"--start-from: the registry {registry.root} already has a current model")
    registry.add(model_dir, version)
    registry.promote(version, f"adopted from {model_dir}")
    return version


def review_snapshot(registry_root: str | Path, database_url: str | None) -> Path:
    """Write the review queue's standing decisions into the registry (`review/decisions-<UTC time>.jsonl`), a
    snapshot the candidate's config names as data, so the run can be repeated after the queue has moved on.
    Raises `ConfigError` when the queue holds no decisions."""
    from notecheck.model.review.db import connect, label
    from notecheck.model.review.export import write_decisions

    engine = connect(database_url)
    folder = Path(registry_root) / REVIEW_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"decisions-{stamp}.jsonl"
    n = write_decisions(engine, path)
    if n == 0:
        path.unlink()
        raise ConfigError(f"--from-review {label(engine)}: no decisions yet; decide notes at /review first")
    log.info("%d review decisions from %s in %s", n, label(engine), path)
    return path


def retrain(
    registry_root: str | Path,
    new_data: list[str],
    config: TrainConfig,
    tolerance: float = RETRAIN_TOLERANCE,
    slice_tolerance: float = RETRAIN_SLICE_TOLERANCE,
) -> Decision:
    """Train a candidate on the current model's data plus `new_data`, gate it against the current model
    on the same frozen test notes, promote or keep, and save `decision.json` in the candidate's directory.

    The candidate reuses the current model's frozen split file (`config.split_file` is ignored) and must
    be tested on the same notes (equal `test_split_hash`), else it is kept out. An empty registry gets its
    first model from `config.data` plus `new_data`, promoted without a gate.
    Raises `ConfigError` for bad tolerances or a missing frozen split, `DatasetError` for unusable data.
    """
    _check_tolerances(tolerance, slice_tolerance)
    registry = Registry(registry_root)
    current_dir = registry.current()
    if current_dir is None:
        decision = _first_model(registry, new_data, config)
    else:
        decision = _gated(registry, current_dir, new_data, config, tolerance, slice_tolerance)
        if decision.promote:
            try:
                registry.promote(
                    decision.candidate_version, f"retrain: {decision.headline}", expected_current=current_dir.name
                )
            except RegistryError as exc:
                decision.promote = False
                decision.reasons.insert(0, f"not promoted: {exc}.")
    decision.decided_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    decision.save(registry.path(decision.candidate_version))
    log.debug("%s %s", "promoted" if decision.promote else "kept", decision.candidate_version)
    return decision
