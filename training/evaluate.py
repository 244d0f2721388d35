"""Honest evaluation of a classifier on labelled notes, and the report written from it.

`evaluate` scores the notes once through `Classifier.assess`, which returns the raw logits and the
predictions made from them, so every number in the report is what `predict` produces for the same notes.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from notecheck.model.classifier import Classifier, calibrated
from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import LANGS, VERDICTS, Note, detect_lang, is_commercial
from notecheck.training.calibration import Form, expected_calibration_error
from notecheck.training.metrics import binary_metrics, brier_score, ranking_metrics
from notecheck.training.thresholds import action_report

log = logging.getLogger(__name__)

ECE_BINS = 15
ECE_FORM: Form = "confidence"
BINARY_NOTE = "labels are binary (commercial / genuine): verdict metrics need 3-class labels and are skipped"


def note_lang(note: Note) -> str:
    """The note's language for slicing: its `lang` field, else detected from the text."""
    return note.lang or detect_lang(f"{note.title}\n{note.text}")


def note_category(note: Note) -> str:
    """The note's category for slicing (`metadata["category"]`), or `unknown`."""
    value = note.metadata.get("category")
    return str(value) if value not in (None, "") else "unknown"


def _slices(keys: Sequence[str], labels: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    order = sorted(groups, key=lambda k: (k not in LANGS, LANGS.index(k) if k in LANGS else 0, k))
    return {k: binary_metrics(labels[groups[k]], predicted[groups[k]]) for k in order}


def _confusion(true: Sequence[str], predicted: Sequence[str], names: Sequence[str]) -> list[list[int]]:
    """Rows: true label, columns: predicted label, both in `names` order."""
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    for t, p in zip(true, predicted, strict=True):
        matrix[index[t], index[p]] += 1
    return matrix.tolist()


def _verdict_metrics(notes: Sequence[LabelledNote], verdicts: Sequence[str], actions: Sequence[str]) -> dict[str, Any]:
    """Verdict accuracy, the 3x3 confusion matrix and what the actions do to undisclosed ads."""
    true = [str(n.label) for n in notes]
    undisclosed = np.array([t == "undisclosed_ad" for t in true])
    acted = np.array([a != "allow" for a in actions])
    flagged = np.array([a == "flag" for a in actions])
    from sklearn.metrics import f1_score

    return {
        "verdict_accuracy": float(np.mean([t == v for t, v in zip(true, verdicts, strict=True)])),
        "verdict_macro_f1": float(
            f1_score(true, list(verdicts), labels=list(VERDICTS), average="macro", zero_division=0)
        ),
        "verdict_confusion": {"labels": list(VERDICTS), "matrix": _confusion(true, verdicts, VERDICTS)},
        # of the notes `predict` flags, the share that are undisclosed ads (what moderators act on)
        "flag_undisclosed_precision": float(undisclosed[flagged].mean()) if flagged.any() else None,
        # of the undisclosed ads, the share that `predict` sends to review or flag
        "undisclosed_caught": float(acted[undisclosed].mean()) if undisclosed.any() else None,
    }


def _binary_summary(
    notes: Sequence[LabelledNote], labels: np.ndarray, predicted: np.ndarray, probs: np.ndarray, raw: np.ndarray
) -> dict[str, Any]:
    """Commercial-vs-genuine metrics overall and per slice, ranking and calibration (raw: at T = 1)."""
    summary: dict[str, Any] = binary_metrics(labels, predicted)
    summary.pop("single_class")
    summary.update(ranking_metrics(labels, probs))
    summary["brier"] = brier_score(labels, probs)
    summary["ece_before"] = expected_calibration_error(raw, labels, ECE_BINS, ECE_FORM)
    summary["ece_after"] = expected_calibration_error(probs, labels, ECE_BINS, ECE_FORM)
    summary["ece_form"], summary["ece_bins"] = ECE_FORM, ECE_BINS
    summary["by_lang"] = _slices([note_lang(n.note) for n in notes], labels, predicted)
    summary["by_category"] = _slices([note_category(n.note) for n in notes], labels, predicted)
    names = ["genuine", "commercial"]
    summary["confusion"] = {
        "labels": names,
        "matrix": _confusion([names[y] for y in labels], [names[y] for y in predicted], names),
    }
    return summary


def _check(notes: Sequence[LabelledNote]) -> None:
    if not notes:
        raise DatasetError("evaluation notes", None, None, "no labelled notes to evaluate")
    for item in notes:
        if item.label is None:
            raise DatasetError(f"note {item.note.id}", None, "label", "evaluation needs a label on every note")


def evaluate(classifier: Classifier, notes: Sequence[LabelledNote]) -> dict[str, Any]:
    """Score labelled notes once and measure everything the report and the model card show.

    Returns a JSON-serialisable dict: `summary` (flat numbers plus `by_lang`, `by_category`, the
    thresholds and what they do on these notes), `model` (what was evaluated) and `curves` (per-note lists
    the plots need). Binary labels (`commercial` / `genuine`) are scored on P(commercial); verdict
    metrics are only computed when every label is one of the three verdicts.
    """
    _check(notes)
    meta = classifier.metadata
    assessed = classifier.assess([n.note for n in notes])
    raw = assessed.scores
    probs = np.array([p.p_commercial for p in assessed.predictions], dtype=np.float64)
    raw_probs = calibrated(np.asarray(raw.logits, dtype=np.float64), 1.0)
    labels = np.array([int(is_commercial(str(n.label))) for n in notes], dtype=np.int64)
    # a clear disclosure makes a note commercial whatever P says (`decide`), so the binary call follows the verdict
    verdicts = [p.verdict for p in assessed.predictions]
    actions = [p.action for p in assessed.predictions]
    predicted = np.array([int(is_commercial(v)) for v in verdicts], dtype=np.int64)

    summary = _binary_summary(notes, labels, predicted, probs, raw_probs)
    summary["temperature"] = float(meta.temperature)
    summary["truncated_share"] = float(np.mean(np.asarray(raw.truncated, dtype=bool)))
    summary["max_length"] = int(meta.max_length)
    summary["three_class"] = all(n.label in VERDICTS for n in notes)
    if summary["three_class"]:
        summary.update(_verdict_metrics(notes, verdicts, actions))
    else:
        summary["verdict_note"] = BINARY_NOTE
        log.debug(BINARY_NOTE)
    summary["thresholds"] = {k: float(v) for k, v in vars(meta.thresholds).items()}
    summary["actions"] = action_report(probs, labels, meta.thresholds)
    summary["actions_taken"] = {a: float(np.mean([x == a for x in actions])) for a in ("allow", "review", "flag")}
    return {
        "summary": summary,
        "model": {
            "version": meta.version,
            "backend": meta.backend,
            "base_model": meta.base_model,
            "max_length": int(meta.max_length),
            "temperature": float(meta.temperature),
            "combiner": dict(meta.combiner),
        },
        "curves": {
            "ids": [n.note.id for n in notes],
            "labels": labels.tolist(),
            "p_commercial": probs.tolist(),
            "p_raw": raw_probs.tolist(),
            "verdicts": verdicts,
            "actions": actions,
        },
    }


def write_report(
    result: dict[str, Any], out_dir: Path, title: str = "", baseline: dict[str, Any] | None = None
) -> list[Path]:
    """Write `metrics.json`, `report.md` and the PNG plots into `out_dir`; returns the paths written.

    `baseline` is another `evaluate` result on the same notes (the TF-IDF baseline), shown side by side.
    """
    from notecheck.training.plots import write_plots
    from notecheck.training.report import render_markdown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(result, out_dir, baseline)
    metrics = out_dir / "metrics.json"
    payload = {**result, "baseline": baseline} if baseline is not None else result
    metrics.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report = out_dir / "report.md"
    text = render_markdown(result, title, baseline, [p.name for p in plots])
    report.write_text(text, encoding="utf-8")
    log.debug("evaluation report written to %s", report)
    return [metrics, report, *plots]
