"""The evaluation report's PNG plots: ROC, precision-recall, reliability, confusion and slices.

Figures are built with `matplotlib.figure.Figure` and rendered by Agg, never through `pyplot`, so plotting
touches no global backend state and works on a server without a display. Labels are English; a CJK font
is added to the fallback list only when a slice name (a user's category, say) needs one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from notecheck.training.calibration import reliability_bins

log = logging.getLogger(__name__)

DPI = 120
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei")
MODEL_COLOR, BASELINE_COLOR, BEFORE_COLOR = "#1f77b4", "#ff7f0e", "#7f7f7f"


@contextmanager
def _fonts(labels: Sequence[str]) -> Iterator[None]:
    """DejaVu Sans, plus an installed CJK font as fallback when some label is not ASCII."""
    families = ["DejaVu Sans"]
    if any(not label.isascii() for label in labels):
        from matplotlib import font_manager

        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = [name for name in CJK_FONTS if name in installed]
        if not found:
            log.info("no CJK font installed: non-ASCII slice names may render as boxes")
        families += found
    with matplotlib.rc_context({"font.family": families}):
        yield


def _curve_arrays(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    curves = result["curves"]
    return (
        np.asarray(curves["labels"], dtype=np.int64),
        np.asarray(curves["p_commercial"], dtype=np.float64),
        np.asarray(curves["p_raw"], dtype=np.float64),
    )


def _runs(result: dict[str, Any], baseline: dict[str, Any] | None) -> list[tuple[str, dict[str, Any], str]]:
    """(legend name, result, colour) for the model and, when given, the baseline."""
    runs = [(f"model ({result['model']['backend']})", result, MODEL_COLOR)]
    if baseline is not None:
        runs.append((f"baseline ({baseline['model']['backend']})", baseline, BASELINE_COLOR))
    return runs


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def plot_roc(result: dict[str, Any], baseline: dict[str, Any] | None, path: Path) -> Path:
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    for name, res, color in _runs(result, baseline):
        labels, probs, _ = _curve_arrays(res)
        auc = res["summary"].get("roc_auc")
        if auc is None:
            continue  # undefined with one class
        fpr, tpr, _ = roc_curve(labels, probs)
        ax.plot(fpr, tpr, color=color, label=f"{name}, AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color=BEFORE_COLOR, lw=1, label="chance")
    _frame(ax, "False positive rate (genuine notes called commercial)", "True positive rate (recall)")
    ax.set_title("ROC: commercial vs genuine (test)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_pr(result: dict[str, Any], baseline: dict[str, Any] | None, path: Path) -> Path:
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    for name, res, color in _runs(result, baseline):
        labels, probs, _ = _curve_arrays(res)
        ap = res["summary"].get("pr_auc")
        if ap is None:
            continue
        precision, recall, _ = precision_recall_curve(labels, probs)
        ax.step(recall, precision, where="post", color=color, label=f"{name}, AP {ap:.3f}")
        for action, marker in (("flag", "s"), ("review", "o")):
            point = res["summary"]["actions"][action]
            label = f"{action} at {point['threshold']:.2f}" if res is result else "_nolegend_"
            ax.plot(point["recall"], point["precision"], marker=marker, color=color, ls="none", label=label)
    labels, _, _ = _curve_arrays(result)
    prevalence = float(labels.mean()) if labels.size else 0.0
    ax.axhline(prevalence, ls="--", color=BEFORE_COLOR, lw=1, label=f"share commercial {prevalence:.2f}")
    _frame(ax, "Recall (commercial notes found)", "Precision (found notes that are commercial)")
    ax.set_title("Precision-recall (test)")
    ax.legend(loc="lower left", fontsize="small")
    return _save(fig, path)


def _reliability_panel(ax: Axes, result: dict[str, Any], form: str) -> None:
    labels, probs, raw = _curve_arrays(result)
    bins = result["summary"].get("ece_bins", 15)
    temperature = result["model"]["temperature"]
    versions = (("before (T=1)", raw, BEFORE_COLOR), (f"after (T={temperature:.2f})", probs, MODEL_COLOR))
    for name, values, color in versions:
        mean, acc, counts = reliability_bins(values, labels, bins, form)  # type: ignore[arg-type]
        filled = counts > 0
        ax.plot(mean[filled], acc[filled], color=color, lw=1, alpha=0.5)
        # marker area follows the number of notes in the bin: a bin of three notes says little
        sizes = 12 + 240 * counts[filled] / max(int(counts.max()), 1)
        ax.scatter(mean[filled], acc[filled], s=sizes, color=color, alpha=0.8, label=name)
    low = 0.5 if form == "confidence" else 0.0
    ax.plot([low, 1], [low, 1], ls="--", color="black", lw=1, label="perfectly calibrated")
    ax.set_xlim(low, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", title="marker area ~ notes in bin", title_fontsize="small")


def plot_reliability(result: dict[str, Any], path: Path) -> Path:
    s = result["summary"]
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    _reliability_panel(left, result, "confidence")
    left.set_title(f"Confidence vs accuracy (ECE {s['ece_before']:.3f} -> {s['ece_after']:.3f})")
    left.set_xlabel("Mean confidence in the predicted class")
    left.set_ylabel("Accuracy")
    _reliability_panel(right, result, "binary")
    right.set_title("P(commercial) vs share commercial")
    right.set_xlabel("Mean predicted P(commercial)")
    right.set_ylabel("Share of notes that are commercial")
    fig.suptitle("Reliability before and after temperature scaling (test)")
    return _save(fig, path)


def _confusion_panel(ax: Axes, summary: dict[str, Any], name: str) -> None:
    table = summary.get("verdict_confusion") or summary["confusion"]
    names, matrix = table["labels"], np.asarray(table["matrix"])
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(names))
    ax.set_xticks(ticks, [n.replace("_", " ") for n in names])
    ax.set_yticks(ticks, [n.replace("_", " ") for n in names])
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True label")
    peak = matrix.max() if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    kind = "verdicts" if "verdict_confusion" in summary else "binary labels"
    ax.set_title(f"{name}: {kind}")


def plot_confusion(result: dict[str, Any], baseline: dict[str, Any] | None, path: Path) -> Path:
    runs = _runs(result, baseline)
    fig = Figure(figsize=(5.2 * len(runs), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(runs)))
    for ax, (name, res, _) in zip(axes, runs, strict=True):
        _confusion_panel(ax, res["summary"], name)
    fig.suptitle("Confusion matrix (test; rows true, columns predicted)")
    return _save(fig, path)


def _slice_panel(ax: Axes, runs: list[tuple[str, dict[str, Any], str]], key: str, title: str) -> None:
    names = list(runs[0][1]["summary"][key])
    y = np.arange(len(names))
    height = 0.8 / len(runs)
    for k, (name, res, color) in enumerate(runs):
        slices = res["summary"][key]
        values = [slices.get(n, {}).get("macro_f1", 0.0) for n in names]
        ax.barh(y + k * height, values, height=height, color=color, label=name)
    counts = runs[0][1]["summary"][key]
    ticks = [f"{n} (n={counts[n]['n']}){' †' if counts[n].get('single_class') else ''}" for n in names]
    ax.set_yticks(y + height * (len(runs) - 1) / 2, ticks)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("Macro-F1 (commercial vs genuine)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)


def plot_slices(result: dict[str, Any], baseline: dict[str, Any] | None, path: Path) -> Path:
    runs = _runs(result, baseline)
    s = result["summary"]
    n_lang, n_cat = max(len(s["by_lang"]), 1), max(len(s["by_category"]), 1)
    fig = Figure(figsize=(8, 2.0 + 0.3 * (n_lang + n_cat) * len(runs)), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[n_lang, n_cat])
    _slice_panel(top, runs, "by_lang", "Per language")
    _slice_panel(bottom, runs, "by_category", "Per category")
    fig.suptitle("Macro-F1 by slice (test; † one class only: macro-F1 at most 0.5)")
    handles, names = top.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(runs), fontsize="small")
    return _save(fig, path)


def _frame(ax: Axes, xlabel: str, ylabel: str) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def write_plots(result: dict[str, Any], out_dir: Path, baseline: dict[str, Any] | None = None) -> list[Path]:
    """Write roc.png, pr.png, reliability.png, confusion.png and slices.png; returns their paths."""
    s = result["summary"]
    with _fonts([*s["by_lang"], *s["by_category"]]):
        return [
            plot_roc(result, baseline, out_dir / "roc.png"),
            plot_pr(result, baseline, out_dir / "pr.png"),
            plot_reliability(result, out_dir / "reliability.png"),
            plot_confusion(result, baseline, out_dir / "confusion.png"),
            plot_slices(result, baseline, out_dir / "slices.png"),
        ]
