"""`report.md`: the evaluation as Markdown, with the TF-IDF baseline beside the model when it is given.

Every number comes from an `evaluate` result; nothing here computes metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], Any]]

HEADLINE: tuple[Row, ...] = (
    ("macro-F1 (commercial vs genuine)", lambda s: s["macro_f1"]),
    ("accuracy", lambda s: s["accuracy"]),
    ("precision of commercial", lambda s: s["precision"]),
    ("recall of commercial", lambda s: s["recall"]),
    ("ROC AUC", lambda s: s.get("roc_auc")),
    ("PR AUC (average precision)", lambda s: s.get("pr_auc")),
    ("ECE before calibration (T = 1)", lambda s: s["ece_before"]),
    ("ECE after calibration", lambda s: s["ece_after"]),
    ("Brier score (calibrated)", lambda s: s["brier"]),
    ("verdict accuracy (3 verdicts)", lambda s: s.get("verdict_accuracy")),
    ("share of notes truncated to max_length", lambda s: s["truncated_share"]),
)

ACTIONS_TEXT = (
    "- **flag**: P(commercial) >= flag. Chosen on validation as the lowest threshold whose precision reaches "
    "the target (0.95 by default) by its one-sided 95% lower confidence bound, never below the verdict "
    "boundary: flagged notes can be acted on directly.\n"
    "- **review**: flag > P(commercial) >= review. Chosen on validation as the highest threshold with "
    "recall >= the target (0.90 by default): a moderator looks at these.\n"
    "- **allow**: P(commercial) < review.\n"
    "- A note with a *clear* disclosure is a `disclosed_ad` and always **allow** whatever its score: a disclosed "
    "ad breaks no rule (`model/classifier.py::decide`). The table above counts thresholds only; the line below "
    "it counts the actions `predict` actually takes."
)


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats rounded, `None` (undefined) as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def percent(value: float | None) -> str:
    """A share as a percentage; `None` (nothing to divide by) as "n/a"."""
    return "n/a" if value is None else f"{value:.1%}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _name(result: dict[str, Any]) -> str:
    m = result["model"]
    return f"{m['backend']} `{m['version']}`"


def _headline(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    header = ["metric", _name(result)] + ([f"baseline: {_name(baseline)}"] if baseline else [])
    rows = []
    for label, get in HEADLINE:
        row = [label, get(result["summary"])]
        if baseline:
            row.append(get(baseline["summary"]))
        rows.append(row)
    return table(header, rows)


def _slice_table(result: dict[str, Any], baseline: dict[str, Any] | None, key: str, what: str) -> str:
    header = [what, "n", "commercial", "macro-F1", "accuracy", "precision", "recall"]
    header += ["baseline macro-F1"] if baseline else []
    rows = []
    for name, m in result["summary"][key].items():
        mark = " †" if m.get("single_class") else ""
        row = [f"{name}{mark}", m["n"], m["n_commercial"], m["macro_f1"], m["accuracy"], m["precision"]]
        row.append(m["recall"])
        if baseline:
            row.append(baseline["summary"][key].get(name, {}).get("macro_f1"))
        rows.append(row)
    return table(header, rows)


def _actions(summary: dict[str, Any]) -> str:
    a = summary["actions"]
    rows = [
        ["flag", a["flag"]["threshold"], a["flag"]["precision"], a["flag"]["recall"], a["flag"]["share"]],
        ["review (incl. flag)", a["review"]["threshold"], a["review"]["precision"], a["review"]["recall"]],
        ["allow", None, None, None, a["allow_share"]],
    ]
    rows[1].append(a["review"]["share"])
    out = table(["action", "threshold", "test precision", "test recall", "share of traffic"], rows)
    if a["review"]["threshold"] >= a["flag"]["threshold"]:
        out += "\n\nReview equals flag: the flag threshold already met the recall target (no review band)."
    taken = summary["actions_taken"]
    out += (
        f"\n\nVerdict boundary (commercial): P(commercial) >= {summary['thresholds']['commercial']:.3f}. "
        f"Actions `predict` takes on these notes (disclosure included): allow {taken['allow']:.1%}, "
        f"review {taken['review']:.1%}, flag {taken['flag']:.1%}."
    )
    if summary.get("three_class"):
        out += (
            f" Of the notes flagged, {percent(summary['flag_undisclosed_precision'])} are undisclosed ads; "
            f"{percent(summary['undisclosed_caught'])} of undisclosed ads are sent to review or flag."
        )
    return out


def _verdicts(summary: dict[str, Any]) -> str:
    if not summary.get("three_class"):
        return f"Skipped: {summary.get('verdict_note', 'labels are binary')}."
    conf = summary["verdict_confusion"]
    rows = [[f"true {name}", *counts] for name, counts in zip(conf["labels"], conf["matrix"], strict=True)]
    header = ["", *(f"predicted {name}" for name in conf["labels"])]
    return f"Verdict accuracy {summary['verdict_accuracy']:.3f}.\n\n" + table(header, rows)


def _image(name: str, plots: Sequence[str], alt: str) -> str:
    return f"\n\n![{alt}]({name})" if name in plots else ""


def _combiner(model: dict[str, Any]) -> str:
    weights = model.get("combiner") or {}
    if not weights:
        return "No signal combiner: P(commercial) is the model's calibrated score alone."
    rows = [["model score (calibrated log-odds)", weights["model_weight"]], ["bias", weights["bias"]]]
    rows += [[name, value] for name, value in sorted(weights["weights"].items(), key=lambda kv: -abs(kv[1]))]
    return (
        "P(commercial) = sigmoid(bias + w_model x model log-odds + sum of the weights of the signal groups the "
        "note shows), a logistic regression fitted on the validation notes (`model/combiner.py`). Each "
        "prediction lists the signals that moved it (`signal_effects`).\n\n" + table(["term", "weight"], rows)
    )


def render_markdown(
    result: dict[str, Any], title: str = "", baseline: dict[str, Any] | None = None, plots: Sequence[str] = ()
) -> str:
    """The whole report as Markdown; `plots` names the PNG files written beside it (embedded if present)."""
    s, m = result["summary"], result["model"]
    parts = [
        f"# {title or 'notecheck evaluation'}",
        f"Model {_name(result)} (base `{m['base_model'] or '-'}`, max_length {m['max_length']} tokens, "
        f"temperature {m['temperature']:.3f}), evaluated on **{s['n']} notes** ({s['n_commercial']} "
        "commercial). Binary metrics are commercial (disclosed or undisclosed ad) vs genuine, at the "
        f"model's verdict threshold {s['thresholds']['commercial']:.3f} on calibrated P(commercial)."
        + (f" The baseline is {_name(baseline)}, scored on the same notes." if baseline else ""),
        "## Headline\n\n" + _headline(result, baseline),
        "## Per language\n\n" + _slice_table(result, baseline, "by_lang", "language"),
        "## Per category\n\n"
        + _slice_table(result, baseline, "by_category", "category")
        + "\n\n† one class only in this slice: macro-F1 is at most 0.5 there; read accuracy instead. "
        "Small slices are noisy." + _image("slices.png", plots, "Macro-F1 per language and category"),
        "## Calibration\n\n"
        f"Temperature scaling fitted on the validation split: T = {m['temperature']:.3f}. "
        f"ECE ({s['ece_bins']} equal-width bins, {s['ece_form']} form: confidence = P of the predicted "
        f"class) on these notes: {s['ece_before']:.3f} before (T = 1), {s['ece_after']:.3f} after. "
        "Temperature changes no ranking; the signal combiner (next section) does, and the calibrated P shown "
        "everywhere else in this report is the combined one."
        + _image("reliability.png", plots, "Reliability diagram before and after calibration"),
        "## Signals and the model\n\n" + _combiner(m),
        "## Thresholds and moderation actions\n\n" + _actions(s) + "\n\n" + ACTIONS_TEXT,
        "## Verdicts\n\n" + _verdicts(s) + _image("confusion.png", plots, "Confusion matrix"),
        "## Ranking\n\n"
        + "ROC and precision-recall curves of P(commercial); the markers on the PR curve are the flag and "
        "review thresholds." + _image("roc.png", plots, "ROC curve") + _image("pr.png", plots, "PR curve"),
    ]
    if baseline:
        parts.append("## Baseline thresholds\n\n" + _actions(baseline["summary"]))
    return "\n\n".join(parts) + "\n"
