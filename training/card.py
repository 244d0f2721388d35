"""The model card: `README.md` inside a model directory, written by `run_training` from the test results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from notecheck.model.metadata import ModelMetadata
from notecheck.training.report import fmt, percent, table

log = logging.getLogger(__name__)

CARD_FILE = "README.md"

LIMITS = """\
- **Hand-written data.** Every training and test note was written by the notecheck team in the style of a
  notes platform (see `data/README.md`). Real notes are messier, and real advertisers adapt to detection;
  expect the test numbers above to be optimistic for live traffic.
- **Domain shift.** New product categories, slang, platform features or disclosure habits the data does
  not show will lower accuracy. Re-evaluate on a labelled sample of your own traffic (`notecheck evaluate`)
  before trusting the thresholds.
- **Truncation.** The model reads at most {max_length} tokens of title and body; a note's later text (where
  affiliate links often sit) is unseen. {truncated} of the test notes were cut; `predict` reports
  `truncated` per note.
- **Languages.** Chinese and English only. Other languages are scored, but nothing says how well.
- **Disclosure rules are rules.** Whether an ad is disclosed is decided by the regular expressions of
  `model/disclosure.py`, not learned; unusual wording of a disclosure can be missed or over-read.
- **Small test split.** Per-language and per-category numbers rest on few notes and are noisy."""


def _test_section(metadata: ModelMetadata, summary: dict[str, Any]) -> str:
    rows: list[list[Any]] = [
        ["macro-F1 (commercial vs genuine)", summary.get("macro_f1")],
        ["accuracy", summary.get("accuracy")],
        ["precision / recall of commercial", f"{fmt(summary.get('precision'))} / {fmt(summary.get('recall'))}"],
        ["ROC AUC / PR AUC", f"{fmt(summary.get('roc_auc'))} / {fmt(summary.get('pr_auc'))}"],
        ["verdict accuracy (3 verdicts)", summary.get("verdict_accuracy")],
    ]
    text = f"On the frozen test split ({summary.get('n', 0)} notes, sha256 `{metadata.test_split_hash[:16]}`):\n\n"
    text += table(["metric", "value"], rows)
    langs = [
        [lang, m["n"], m["n_commercial"], m["macro_f1"], m["accuracy"]]
        for lang, m in summary.get("by_lang", {}).items()
    ]
    if langs:
        text += "\n\nPer language:\n\n" + table(["language", "n", "commercial", "macro-F1", "accuracy"], langs)
    return text


def _actions_section(metadata: ModelMetadata, summary: dict[str, Any]) -> str:
    th = metadata.thresholds
    actions = summary.get("actions", {})
    config = metadata.config or {}
    flag_target, review_target = config.get("flag_precision", 0.95), config.get("review_recall", 0.90)

    def row(name: str, threshold: float, meaning: str) -> list[Any]:
        a = actions.get(name, {})
        return [name, threshold, meaning, a.get("precision"), a.get("recall"), a.get("share")]

    rows = [
        row("flag", th.flag, f"lowest threshold with validation precision >= {flag_target}"),
        row("review", th.review, f"highest threshold with validation recall >= {review_target}"),
    ]
    header = ["action", "P(commercial) >=", "chosen as", "test precision", "test recall", "test share"]
    same = (
        " Review equals flag: the flag threshold already met the recall target, so there is no separate review band."
        if th.review >= th.flag
        else ""
    )
    return (
        f"Verdict: `genuine` below {th.commercial:.3f} (the validation macro-F1 optimum), otherwise "
        "`disclosed_ad` when the note carries a clear disclosure and `undisclosed_ad` when not.\n\n"
        + table(header, rows)
        + "\n\nBelow `review` a note is allowed. **A clearly disclosed ad is always `allow`**, whatever its "
        "score: it breaks no rule (`model/classifier.py::decide`). Review counts include flagged notes." + same
    )


def render_card(metadata: ModelMetadata, test: dict[str, Any]) -> str:
    """The card's Markdown text (separate from writing it, so it can be checked without a directory)."""
    summary = test.get("summary", {})
    split = metadata.metrics.get("split", {})
    training = metadata.metrics.get("training", {})
    sizes = ", ".join(f"{name} {count}" for name, count in split.items()) or "not recorded"
    data = ", ".join(str(d) for d in metadata.config.get("data", [])) or "not recorded"
    backend = "a fine-tuned transformer encoder" if metadata.backend == "transformer" else "a TF-IDF baseline"
    base = f"`{metadata.base_model or '-'}`" + (" (through the teacher below)" if metadata.distilled else "")
    facts = [
        ["version", f"`{metadata.version}`"],
        ["backend", metadata.backend],
        ["base model", base],
        ["max length", f"{metadata.max_length} tokens"],
        ["training data", f"{data} (sha256 of the training notes `{metadata.training_data_hash[:16]}`)"],
        ["split sizes", sizes],
        ["created", f"{metadata.created_at or '-'} (git `{metadata.git_revision or '-'}`)"],
    ]
    if training:
        facts.append(["training", ", ".join(f"{k} {fmt(v, 4)}" for k, v in training.items() if k != "layers")])
    distilled = metadata.distilled
    if distilled:
        layers = ", ".join(map(str, distilled.get("layers", [])))
        facts.append(
            [
                "distilled from",
                f"`{distilled.get('teacher_version', '-')}`, keeping its layers {layers} of "
                f"{distilled.get('teacher_layers', '-')}; validation macro-F1 "
                f"{fmt(distilled.get('validation_f1_student'), 4)} vs the teacher's "
                f"{fmt(distilled.get('validation_f1_teacher'), 4)}",
            ]
        )
    parts = [
        f"# notecheck model `{metadata.version}`",
        f"Tells genuine lifestyle notes (Chinese and English, Xiaohongshu/RED style) from advertisements. "
        f"It is {backend} that reads a note's title and body with disclosure markers masked and gives "
        "P(commercial); the verdict (`genuine`, `disclosed_ad`, `undisclosed_ad`) combines that with the "
        "disclosure rules of `model/disclosure.py`. Load it with `Classifier.from_pretrained(<this dir>)`.",
        "## Facts\n\n" + table(["", ""], facts),
        "## Test results\n\n" + _test_section(metadata, summary),
        "## Calibration\n\n"
        f"Temperature scaling fitted on validation: T = {metadata.temperature:.3f} (logits are divided by T). "
        f"Test ECE ({summary.get('ece_bins', 15)} bins, confidence form): "
        f"{fmt(summary.get('ece_before'))} before, {fmt(summary.get('ece_after'))} after.",
        "## Thresholds and actions\n\n" + _actions_section(metadata, summary),
        "## Limits\n\n"
        + LIMITS.format(max_length=metadata.max_length, truncated=percent(summary.get("truncated_share"))),
    ]
    return "\n\n".join(parts) + "\n"


def write_model_card(model_dir: Path, metadata: ModelMetadata, test: dict[str, Any]) -> Path:
    """Write `README.md` into the model directory from its metadata and the `evaluate` result on test."""
    path = Path(model_dir) / CARD_FILE
    path.write_text(render_card(metadata, test), encoding="utf-8")
    log.info("model card written to %s", path)
    return path
