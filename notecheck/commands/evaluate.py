"""`notecheck evaluate`: measure a model on labelled notes and write a report beside the TF-IDF baseline.

The report goes to a new folder beside the model (`runs/default-eval-20260301-142501`) unless `--out` names
one; it never goes into the model directory, where the model's own report lives (`<model>/eval`).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from notecheck.commands.params import DataFiles, IdColumn, LabelColumn, LabelMap, ModelDir, SkipInvalid, TextColumn

DEFAULT_BASELINE = Path("runs/tfidf")

log = logging.getLogger(__name__)


def report_dir(model: Path, out: Path | None, now: dt.datetime | None = None) -> Path:
    """Where the report goes: `out`, which must lie outside the model directory, else a new folder beside the
    model named `<model>-eval-<timestamp>` (`-2`, `-3`... when taken). Raises `ConfigError` for `out` inside."""
    from notecheck.model.errors import ConfigError

    model = model.resolve()
    if out is not None:
        if out.resolve() == model or model in out.resolve().parents:
            raise ConfigError(
                f"--out {out}: inside the model directory, where the model's own report lives; choose another folder"
            )
        return out
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = model.parent / f"{model.name}-eval-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def baseline_dir(model: Path, baseline: Path | None, no_baseline: bool, backend: str) -> tuple[Path | None, bool]:
    """The baseline to show and whether it was asked for explicitly (an implicit one may be missing)."""
    from notecheck.model.metadata import METADATA_FILE

    if baseline is not None:
        return baseline, True
    default = DEFAULT_BASELINE
    if no_baseline or backend == "tfidf" or not (default / METADATA_FILE).is_file():
        return None, False
    if default.resolve() == model.resolve():
        return None, False
    return default, False


def evaluate_baseline(path: Path | None, explicit: bool, notes: list[Any]) -> dict[str, Any] | None:
    from notecheck.model.classifier import Classifier
    from notecheck.model.errors import NotecheckError
    from notecheck.training.evaluate import evaluate as run_evaluation

    if path is None:
        return None
    try:
        baseline = Classifier.from_pretrained(path)
    except (NotecheckError, ImportError) as exc:
        if explicit:
            raise
        log.warning("default baseline %s not loaded, shown without it: %s", path, exc)
        return None
    log.debug("baseline: %s (%s) from %s", baseline.version, baseline.metadata.backend, path)
    return run_evaluation(baseline, notes)


def headline(result: dict[str, Any], name: str) -> str:
    """One line of the figures people quote: macro-F1 (per language), ROC AUC and ECE."""
    s = result["summary"]
    langs = "".join(f", {lang} {v['macro_f1']:.4f}" for lang, v in s["by_lang"].items())
    auc = "n/a" if s["roc_auc"] is None else f"{s['roc_auc']:.4f}"
    return (
        f"{name}: macro-F1 {s['macro_f1']:.4f} ({s['n']} notes{langs}); accuracy {s['accuracy']:.4f}; "
        f"ROC AUC {auc}; ECE {s['ece_before']:.4f} -> {s['ece_after']:.4f}"
    )


def evaluate(
    model: ModelDir,
    data: DataFiles,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    id_column: IdColumn = "id",
    label_map: LabelMap = "",
    skip_invalid: SkipInvalid = False,
    baseline: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help=f"baseline model shown side by side (default: {DEFAULT_BASELINE} when it exists)",
        ),
    ] = None,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="do not look for the default baseline")] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="report folder, outside the model directory (default: a new <model>-eval-<timestamp> beside it)",
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="report title (default: notecheck <version> evaluation)")] = "",
) -> None:
    """Evaluate a model on labelled notes into a new report folder.

    The folder gets metrics.json, report.md and plots, beside the TF-IDF baseline's figures.
    """
    from notecheck.model.classifier import Classifier
    from notecheck.model.loader import data_files, load_notes
    from notecheck.model.model_dir import inspect_model_dir
    from notecheck.model.readers import ColumnMap
    from notecheck.training.evaluate import evaluate as run_evaluation
    from notecheck.training.evaluate import write_report

    folder = report_dir(model, out)  # refuse a bad --out before minutes of scoring
    inspect_model_dir(model)  # and a wrong model directory before reading the data
    columns = ColumnMap(text=text_column, label=label_column, id=id_column)
    notes, loaded = load_notes(data_files(data or []), columns=columns, label_map=label_map, skip_invalid=skip_invalid)
    classifier = Classifier.from_pretrained(model)
    result = run_evaluation(classifier, notes)
    path, explicit = baseline_dir(model, baseline, no_baseline, classifier.metadata.backend)
    base_result = evaluate_baseline(path, explicit, notes)
    write_report(result, folder, title=title or f"notecheck {classifier.version} evaluation", baseline=base_result)

    s = result["summary"]
    print(loaded.describe())
    print(headline(result, f"model {classifier.version} ({classifier.metadata.backend})"))
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
    print(f"report: {folder / 'report.md'}")
