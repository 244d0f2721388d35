"""One model, two test splits: the writer-held-out split beside the old author-grouped one.

    python benchmarks/split_comparison.py --config training/configs/v1_default.yaml

Trains the configured recipe once on the writer split's training notes *less* every author of the old split's
validation and test parts, so neither test set leaks into training; fits the decision (temperature, combiner
when configured, thresholds) on the writer split's validation writers; then scores both test sets:

- `data/splits.json`: whole writers never seen in training (the honest figure);
- `data/splits_v1.json`: unseen authors of writers the model trained on (the figure we used to publish).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS_DIR, machine_info, markdown_table, setup_logging  # noqa: E402
from notecheck.training.config import TrainConfig  # noqa: E402
from notecheck.training.splits import FrozenSplit, Split, group_of  # noqa: E402


def run(config: TrainConfig, writer_split: Path, old_split: Path) -> dict[str, Any]:
    from benchmarks.generalization import metrics_of, note_rows
    from notecheck.training.pipeline import build_and_fit, fit_decision, load_training_notes

    notes = load_training_notes(config)
    new = FrozenSplit.load(writer_split).apply(notes)
    old = FrozenSplit.load(old_split).apply(notes)
    old_held = {group_of(n) for n in old.test + old.validation}
    train = [n for n in new.train if group_of(n) not in old_held]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="notecheck-splits-") as work:
        classifier, facts = build_and_fit(config, Split(train, new.validation, []), Path(work))
    fit_decision(classifier, new.validation, config)
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {
        "config": config.to_dict(),
        "train_notes": len(train),
        "validation_notes": len(new.validation),
        "train_seconds": round(seconds, 1),
        "facts": facts,
    }
    for name, part in (("writer_held_out", new.test), ("old_author_split", old.test)):
        rows = note_rows(classifier, part)
        out[name] = metrics_of(rows)
    return out


def render(result: dict[str, Any]) -> str:
    rows = []
    for name, label in (("writer_held_out", "writer-held-out (data/splits.json)"), ("old_author_split", "old split")):
        m = result[name]
        rows.append(
            [label, m["n"], f"{m['macro_f1']:.3f}", f"{m['roc_auc']:.3f}", f"{m['verdict_macro_f1']:.3f}"]
            + [f"{m.get('macro_f1_' + lang, float('nan')):.3f}" for lang in ("en", "zh")]
        )
    header = ["test split", "notes", "macro-F1", "ROC AUC", "3-verdict macro-F1", "en macro-F1", "zh macro-F1"]
    return markdown_table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="training config (default: the default config)")
    parser.add_argument("--writer-split", default="data/splits.json")
    parser.add_argument("--old-split", default="data/splits_v1.json")
    parser.add_argument("--out", default=str(RESULTS_DIR / "split_comparison.json"))
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE training settings")
    args = parser.parse_args(argv)
    setup_logging()
    overrides: dict[str, Any] = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    config = TrainConfig.load(args.config, **overrides)
    result = run(config, Path(args.writer_split), Path(args.old_split))
    result["machine"] = machine_info(0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    table = render(result)
    out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    print(table)  # a benchmark's output is its table
    return 0


if __name__ == "__main__":
    sys.exit(main())
