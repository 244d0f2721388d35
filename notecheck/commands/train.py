"""`notecheck train`: fine-tune (or fit the TF-IDF baseline) and write a model directory."""

from __future__ import annotations

import argparse

HELP = "train a model on labelled notes (resumes an interrupted run)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="run config YAML (default: training/configs/default.yaml)")
    parser.add_argument("--data", nargs="+", help="labelled note files or directories")
    parser.add_argument("--model", choices=["transformer", "tfidf"], help="which backend to train")
    parser.add_argument("--base-model", help="bundled alias, Hugging Face model id or local directory")
    parser.add_argument("--out", help="model directory to write")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-length", type=int)
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke runs)")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--split-file", help="frozen split record (created if missing)")
    parser.add_argument("--text-column")
    parser.add_argument("--label-column")
    parser.add_argument("--id-column")
    parser.add_argument("--label-map", help="extra RAW=LABEL pairs, comma separated")
    parser.add_argument("--skip-invalid", action="store_true", default=None, help="skip and count bad rows")


def config_from_args(args: argparse.Namespace):  # noqa: ANN201 - TrainConfig, imported lazily
    from notecheck.training.config import TrainConfig

    keys = (
        "data",
        "model",
        "base_model",
        "out",
        "epochs",
        "batch_size",
        "max_length",
        "max_steps",
        "learning_rate",
        "seed",
        "precision",
        "split_file",
        "text_column",
        "label_column",
        "id_column",
        "label_map",
        "skip_invalid",
    )
    return TrainConfig.load(args.config, **{k: getattr(args, k, None) for k in keys})


def run(args: argparse.Namespace) -> int:
    from notecheck.training.pipeline import run_training

    config = config_from_args(args)
    outcome = run_training(config)
    s = outcome.test_metrics["summary"]
    print(f"model {outcome.metadata.version} written to {outcome.model_dir}")
    print(f"test macro-F1 {s['macro_f1']:.4f} on {s['n']} notes", end="")
    by_lang = s.get("by_lang", {})
    print("".join(f"; {lang} {v['macro_f1']:.4f}" for lang, v in sorted(by_lang.items())))
    th = outcome.metadata.thresholds
    print(f"temperature {outcome.metadata.temperature:.3f}; thresholds review {th.review:.3f}, flag {th.flag:.3f}")
    print(f"report: {outcome.model_dir / 'README.md'}")
    return 0
