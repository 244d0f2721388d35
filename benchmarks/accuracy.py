"""Test-split macro-F1 of each inference runtime (fp32, bf16, int8, openvino) against fp32, the unoptimised model.

A faster runtime is only worth recommending when it stays within `TOLERANCE` macro-F1 of fp32 on the
frozen test split (the one the model was evaluated on: its recorded split file, else the default one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import markdown_table, set_threads
from notecheck.model.loader import LabelledNote
from notecheck.training.splits import Split

log = logging.getLogger("benchmarks.accuracy")
RUNTIMES = ("fp32", "bf16", "int8", "openvino")
TOLERANCE = 0.005


def frozen_split(model: Path) -> tuple[Split, str]:
    """The frozen split the model was trained and evaluated on, and the split file it came from.

    Uses the model's recorded run config (data and split file) over `TrainConfig.load(None)`. A split
    file that does not exist is not written here (no side effects): the split is then made in memory.
    """
    from notecheck.model.metadata import ModelMetadata
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import load_training_notes, make_split

    recorded = ModelMetadata.load(model).config
    overrides = {k: recorded[k] for k in ("data", "split_file", "seed", "label_map") if recorded.get(k)}
    config = TrainConfig.load(None, **overrides)
    if config.split_file and not Path(config.split_file).is_file():
        log.warning("split file %s not found: using an unfrozen split of the same seed", config.split_file)
        config.split_file = ""
    split = make_split(load_training_notes(config), config)
    return split, config.split_file or f"(unfrozen, seed {config.seed})"


def training_split(model: Path) -> list[LabelledNote]:
    """The notes the model was trained on (its frozen split's training part)."""
    return frozen_split(model)[0].train


def runtime_accuracy(
    model: Path,
    runtimes: Sequence[str] = RUNTIMES,
    threads: int = 2,
    limit: int | None = None,
    copies: dict[str, Path | None] | None = None,
) -> dict[str, Any]:
    """Macro-F1 (and agreement with fp32) of each runtime on the test split; `limit` keeps the first notes.
    `copies`: runtime name -> another model directory made from `model` (`openvino-int8`: a `notecheck
    quantize` copy; `openvino-distilled`: a `notecheck distill` student), run under openvino; a runtime whose
    copy is None is skipped."""
    from notecheck.model.classifier import Classifier
    from notecheck.training.evaluate import evaluate

    set_threads(threads)
    split, split_file = frozen_split(model)
    notes = split.test
    notes = notes[:limit] if limit else notes
    held_out = split.validation[:limit] if limit else split.validation  # the other writers no model trained on
    results: dict[str, dict[str, Any]] = {}
    reference: np.ndarray | None = None
    for runtime in runtimes:
        if copies and runtime in copies:
            copy = copies[runtime]
            if copy is None:
                continue
            classifier = Classifier.from_pretrained(copy, runtime="openvino")
        else:
            classifier = Classifier.from_pretrained(model, runtime=runtime)
        report = evaluate(classifier, notes)
        probs = np.asarray(report["curves"]["p_commercial"])
        verdicts = report["curves"]["verdicts"]
        if reference is None:
            reference, ref_verdicts = probs, verdicts
        results[runtime] = {
            "macro_f1": report["summary"]["macro_f1"],
            "validation_macro_f1": evaluate(classifier, held_out)["summary"]["macro_f1"] if held_out else None,
            "max_abs_dp_vs_first": float(np.max(np.abs(probs - reference))),
            "verdict_agreement_vs_first": float(np.mean([a == b for a, b in zip(verdicts, ref_verdicts, strict=True)])),
        }
        log.info("%s: test macro-F1 %.4f", runtime, results[runtime]["macro_f1"])
        del classifier
    first = results[runtimes[0]]
    for item in results.values():
        item["delta_f1"] = item["macro_f1"] - first["macro_f1"]
        within = abs(item["delta_f1"]) <= TOLERANCE
        if item["validation_macro_f1"] is not None and first["validation_macro_f1"] is not None:
            item["validation_delta_f1"] = item["validation_macro_f1"] - first["validation_macro_f1"]
            within = within and abs(item["validation_delta_f1"]) <= TOLERANCE
        item["within_tolerance"] = within  # on both groups of held-out writers
    return {
        "split_file": split_file,
        "n_test": len(notes),
        "n_validation": len(held_out),
        "reference": runtimes[0],
        "runtimes": results,
    }


def render_accuracy(accuracy: dict[str, Any]) -> str:
    ref = accuracy["reference"]

    def validation(r: dict[str, Any]) -> list[Any]:
        if r.get("validation_macro_f1") is None:  # a result from before validation was measured
            return ["-", "-"]
        return [r["validation_macro_f1"], f"{r['validation_delta_f1']:+.4f}"]

    rows = [
        [
            name,
            r["macro_f1"],
            f"{r['delta_f1']:+.4f}",
            *validation(r),
            "yes" if r["within_tolerance"] else "NO",
            r["max_abs_dp_vs_first"],
            r["verdict_agreement_vs_first"],
        ]
        for name, r in accuracy["runtimes"].items()
    ]
    head = ["runtime", "test macro-F1", f"Δ vs {ref}", "validation macro-F1", f"Δ vs {ref}", f"within {TOLERANCE}"]
    head += ["max abs Δp (test)", "verdicts agree (test)"]
    title = (
        f"Accuracy by runtime on the writers no model trained on: test split ({accuracy['n_test']} notes) and "
        f"validation split ({accuracy.get('n_validation', '-')} notes), split {accuracy['split_file']}"
    )
    return f"#### {title}\n\n" + markdown_table(head, rows)
