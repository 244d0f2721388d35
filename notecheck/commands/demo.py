"""`notecheck demo`: the main job on the bundled data, from nothing.

Trains the default model (and the TF-IDF baseline) if none exists, shows the evaluation on the frozen test
split, and scores a handful of sample notes, printing verdicts, actions and probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DEFAULT_MODEL
from notecheck.model.options import Backend


def ensure_model(out: Path, backend: Backend) -> None:
    """Train a `backend` model into `out` on the bundled notes unless one is already there."""
    from notecheck.model.metadata import METADATA_FILE
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import run_training

    if (out / METADATA_FILE).is_file():
        print(f"using the existing {backend} model in {out}")
        return
    print(f"no {backend} model in {out}: training one on the bundled notes")
    run_training(TrainConfig.load(None, out=str(out), model=backend))


def demo(
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="the default model's directory (trained there if missing)")
    ] = DEFAULT_MODEL,
    baseline: Annotated[
        Path,
        typer.Option("--baseline", metavar="DIR", help="the TF-IDF baseline's directory (trained there if missing)"),
    ] = Path("runs/tfidf"),
    samples: Annotated[Path, typer.Option(metavar="FILE", help="notes to score at the end")] = Path(
        "data/samples.jsonl"
    ),
) -> None:
    """Train if needed, evaluate, and try the model on sample notes."""
    from notecheck.model.classifier import Classifier
    from notecheck.model.loader import load_notes
    from notecheck.training.config import TrainConfig, bundled_path
    from notecheck.training.evaluate import evaluate, write_report
    from notecheck.training.pipeline import load_training_notes, make_split

    ensure_model(baseline, "tfidf")
    ensure_model(model, "transformer")

    classifier, base = Classifier.from_pretrained(model), Classifier.from_pretrained(baseline)
    config = TrainConfig.load(None)
    test = make_split(load_training_notes(config), config).test
    result, base_result = evaluate(classifier, test), evaluate(base, test)
    report_dir = model / "eval"
    write_report(result, report_dir, title=f"notecheck {classifier.version}", baseline=base_result)
    print(f"\nfrozen test split: {len(test)} notes")
    for name, res in (("transformer", result), ("tfidf baseline", base_result)):
        s = res["summary"]
        langs = ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in sorted(s.get("by_lang", {}).items()))
        print(f"  {name:15s} macro-F1 {s['macro_f1']:.3f} ({langs})")
    print(f"  report: {report_dir / 'report.md'}\n")

    loaded, _ = load_notes(bundled_path(str(samples)), require_label=False)
    predictions = classifier.predict([s.note for s in loaded])
    print(f"{'id':10s} {'verdict':15s} {'moderator':15s} {'action':7s} {'P(comm.)':>8s}  disclosure  text")
    agree = 0
    for sample, p in zip(loaded, predictions, strict=True):
        text = (sample.note.title or sample.note.text).replace("\n", " ")[:40]
        moderator = str(sample.extra.get("moderator_verdict") or "-")
        agree += moderator == p.verdict
        line = f"{p.id:10s} {p.verdict:15s} {moderator:15s} {p.action:7s} {p.p_commercial:8.3f}"
        print(f"{line}  {p.disclosure.rating:10s}  {text}")
    judged = sum(1 for s in loaded if s.extra.get("moderator_verdict"))
    if judged:
        print(f"\nagrees with the moderator on {agree} of {judged} samples")
