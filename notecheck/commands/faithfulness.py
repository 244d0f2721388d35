"""`notecheck faithfulness --model DIR`: are the explanations true of the model? (ERASER comprehensiveness and
sufficiency of each attribution method against random words, on notes the model calls commercial.)

    notecheck faithfulness --model runs/default                      # the frozen test split
    notecheck faithfulness --model runs/default --data my.jsonl --limit 50 --k 10,20,50
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "measure how faithful explanations are (comprehensiveness, sufficiency vs random words)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--data", nargs="+", help="note files or directories (default: the frozen test split)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many notes predicted commercial")
    parser.add_argument("--k", default="10,20,50", help="percentages of words to delete/keep, comma separated")
    parser.add_argument("--methods", default="ig,grad_x_input,occlusion", help="comma separated")
    parser.add_argument("--seed", type=int, default=13, help="seed of the random-words baseline")
    parser.add_argument("--out", help="where faithfulness.json and .md go (default: <model>/eval)")


def _ints(value: str, name: str) -> tuple[int, ...]:
    from notecheck.model.errors import ConfigError

    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}: comma-separated whole numbers, got '{value}'") from exc


def run(args: argparse.Namespace) -> int:
    from notecheck.model.classifier import Classifier
    from notecheck.model.loader import load_notes
    from notecheck.training.config import TrainConfig
    from notecheck.training.faithfulness import FaithfulnessConfig, measure_faithfulness
    from notecheck.training.pipeline import data_files, load_training_notes, make_split

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    config = FaithfulnessConfig(methods=methods, ks=_ints(args.k, "--k"), seed=args.seed, limit=args.limit)
    config.validate()
    classifier = Classifier.from_pretrained(args.model)
    if args.data:
        labelled, _ = load_notes(data_files(args.data), require_label=False)
        source = ", ".join(args.data)
    else:
        train_config = TrainConfig.load(None)
        labelled = make_split(load_training_notes(train_config), train_config).test
        source = "the frozen test split"
    report = measure_faithfulness(classifier, [n.note for n in labelled], config)
    json_path, md_path = report.save(args.out or Path(args.model) / "eval")
    print(f"notes: {source}\n")
    print(report.markdown())
    print(f"written: {json_path}, {md_path}")
    return 0
