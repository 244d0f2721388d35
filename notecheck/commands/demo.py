"""`notecheck demo`: the main job on the bundled data, from nothing.

Trains the default model (and the TF-IDF baseline) if none exists, shows the evaluation on the frozen test
split, and scores a handful of sample notes, printing verdicts, actions and probabilities.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train (if needed), evaluate and try the default model on sample notes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/default", help="where the default model lives")
    parser.add_argument("--baseline-out", default="runs/tfidf", help="where the TF-IDF baseline lives")
    parser.add_argument("--samples", default="data/samples.jsonl", help="notes to score at the end")


def ensure_model(out: Path, model: str) -> None:
    from notecheck.model.metadata import METADATA_FILE
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import run_training

    if (out / METADATA_FILE).is_file():
        print(f"using the existing {model} model in {out}")
        return
    print(f"no {model} model in {out}: training one on the bundled notes")
    run_training(TrainConfig.load(None, out=str(out), model=model))


def run(args: argparse.Namespace) -> int:
    from notecheck.model.classifier import Classifier
    from notecheck.model.loader import load_notes
    from notecheck.training.config import TrainConfig
    from notecheck.training.evaluate import evaluate, write_report
    from notecheck.training.pipeline import load_training_notes, make_split

    out, baseline_out = Path(args.out), Path(args.baseline_out)
    ensure_model(baseline_out, "tfidf")
    ensure_model(out, "transformer")

    model, baseline = Classifier.from_pretrained(out), Classifier.from_pretrained(baseline_out)
    config = TrainConfig.load(None)
    test = make_split(load_training_notes(config), config).test
    result, base_result = evaluate(model, test), evaluate(baseline, test)
    report_dir = out / "eval"
    write_report(result, report_dir, title=f"notecheck {model.version}", baseline=base_result)
    print(f"\nfrozen test split: {len(test)} notes")
    for name, res in (("transformer", result), ("tfidf baseline", base_result)):
        s = res["summary"]
        langs = ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in sorted(s.get("by_lang", {}).items()))
        print(f"  {name:15s} macro-F1 {s['macro_f1']:.3f} ({langs})")
    print(f"  report: {report_dir / 'report.md'}\n")

    samples, _ = load_notes(args.samples, require_label=False)
    predictions = model.predict([s.note for s in samples])
    print(f"{'id':10s} {'verdict':15s} {'moderator':15s} {'action':7s} {'P(comm.)':>8s}  disclosure  text")
    agree = 0
    for sample, p in zip(samples, predictions, strict=True):
        text = (sample.note.title or sample.note.text).replace("\n", " ")[:40]
        moderator = str(sample.extra.get("moderator_verdict") or "-")
        agree += moderator == p.verdict
        line = f"{p.id:10s} {p.verdict:15s} {moderator:15s} {p.action:7s} {p.p_commercial:8.3f}"
        print(f"{line}  {p.disclosure.rating:10s}  {text}")
    judged = sum(1 for s in samples if s.extra.get("moderator_verdict"))
    if judged:
        print(f"\nagrees with the moderator on {agree} of {judged} samples")
    return 0
