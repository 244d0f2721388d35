"""`notecheck evaluate`: measure a model on labelled notes and write a report beside the TF-IDF baseline."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

HELP = "evaluate a model on labelled notes: metrics.json, report.md and plots"
DEFAULT_BASELINE = Path("runs/tfidf")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory to evaluate")
    parser.add_argument("--data", nargs="+", required=True, help="labelled note files or directories")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label", help="verdicts or binary labels (commercial/genuine)")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--label-map", default="", help="extra RAW=LABEL pairs, comma separated")
    parser.add_argument("--skip-invalid", action="store_true", help="skip and count bad rows")
    parser.add_argument(
        "--baseline",
        help=f"baseline model directory shown side by side (default: {DEFAULT_BASELINE} when it exists)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="do not look for the default baseline")
    parser.add_argument("--out", help="report directory (default: <model>/eval)")
    parser.add_argument("--title", default="", help="report title")


def baseline_dir(args: argparse.Namespace, backend: str) -> tuple[Path | None, bool]:
    """The baseline to show and whether it was asked for explicitly (an implicit one may be missing)."""
    from notecheck.model.metadata import METADATA_FILE

    if args.baseline:
        return Path(args.baseline), True
    default = DEFAULT_BASELINE
    if args.no_baseline or backend == "tfidf" or not (default / METADATA_FILE).is_file():
        return None, False
    if default.resolve() == Path(args.model).resolve():
        return None, False
    return default, False


def evaluate_baseline(path: Path | None, explicit: bool, notes: list[Any]) -> dict[str, Any] | None:
    from notecheck.model.classifier import Classifier
    from notecheck.model.errors import NotecheckError
    from notecheck.training.evaluate import evaluate

    if path is None:
        return None
    try:
        baseline = Classifier.from_pretrained(path)
    except (NotecheckError, ImportError) as exc:
        if explicit:
            raise
        log.warning("default baseline %s not loaded, shown without it: %s", path, exc)
        return None
    log.info("baseline: %s (%s) from %s", baseline.version, baseline.metadata.backend, path)
    return evaluate(baseline, notes)


def headline(result: dict[str, Any], name: str) -> str:
    """One line of the figures people quote: macro-F1 (per language), ROC AUC and ECE."""
    s = result["summary"]
    langs = "".join(f", {lang} {v['macro_f1']:.4f}" for lang, v in s["by_lang"].items())
    auc = "n/a" if s["roc_auc"] is None else f"{s['roc_auc']:.4f}"
    return (
        f"{name}: macro-F1 {s['macro_f1']:.4f} ({s['n']} notes{langs}); accuracy {s['accuracy']:.4f}; "
        f"ROC AUC {auc}; ECE {s['ece_before']:.4f} -> {s['ece_after']:.4f}"
    )


def run(args: argparse.Namespace) -> int:
    from notecheck.model.classifier import Classifier
    from notecheck.model.loader import ColumnMap, load_notes
    from notecheck.training.evaluate import evaluate, write_report
    from notecheck.training.pipeline import data_files

    model = Classifier.from_pretrained(args.model)
    columns = ColumnMap(text=args.text_column, label=args.label_column, id=args.id_column)
    notes, loaded = load_notes(
        data_files(args.data), columns=columns, label_map=args.label_map, skip_invalid=args.skip_invalid
    )
    result = evaluate(model, notes)
    path, explicit = baseline_dir(args, model.metadata.backend)
    base_result = evaluate_baseline(path, explicit, notes)
    out = Path(args.out) if args.out else Path(args.model) / "eval"
    title = args.title or f"notecheck {model.version} evaluation"
    write_report(result, out, title=title, baseline=base_result)

    s = result["summary"]
    print(loaded.describe())
    print(headline(result, f"model {model.version} ({model.metadata.backend})"))
    if base_result is not None:
        print(headline(base_result, f"baseline {base_result['model']['version']} ({base_result['model']['backend']})"))
    for action in ("flag", "review"):
        a = s["actions"][action]
        print(
            f"{action} at p >= {a['threshold']:.3f}: precision {a['precision']:.3f}, "
            f"recall {a['recall']:.3f}, {a['share']:.1%} of notes"
        )
    if s["three_class"]:
        print(f"verdict accuracy {s['verdict_accuracy']:.4f} (genuine / disclosed_ad / undisclosed_ad)")
    else:
        print(s["verdict_note"])
    print(f"report: {out / 'report.md'}")
    return 0
