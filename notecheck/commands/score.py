"""`notecheck score`: score note files offline into JSONL, CSV or Parquet (resumable), or on Ray Data."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "score note files (JSONL/CSV/Parquet) into a results file; rerun to resume an interrupted run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="note files: .jsonl, .csv or .parquet")
    parser.add_argument("-o", "--output", required=True, help="results file; its suffix picks the format")
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--title-column", default="title")
    parser.add_argument("--chunk-size", type=int, default=512, help="notes per predict call (Ray: per batch)")
    parser.add_argument("--runtime", choices=["fp32", "bf16", "int8"], default="fp32")
    parser.add_argument("--restart", action="store_true", help="discard the parts of an interrupted run")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="write invalid rows with an 'error' field instead of stopping"
    )
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--ray-address", help="Ray cluster address (default: start a local one)")
    parser.add_argument("--num-actors", type=int, default=2, help="Ray actors, each holding one model")


def run(args: argparse.Namespace) -> int:
    from notecheck.model.errors import ConfigError
    from notecheck.model.loader import ColumnMap

    columns = ColumnMap(text=args.text_column, id=args.id_column, title=args.title_column)
    if args.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.engine == "ray":
        from notecheck.serving.batch.ray_job import score_with_ray

        if args.restart:
            raise ConfigError("--restart applies to --engine local only (a Ray run rewrites its output)")
        summary = score_with_ray(
            args.inputs,
            args.output,
            args.model,
            columns,
            num_actors=args.num_actors,
            batch_size=args.chunk_size,
            address=args.ray_address,
            runtime=args.runtime,
            skip_invalid=args.skip_invalid,
        )
    else:
        from notecheck.model.classifier import Classifier
        from notecheck.serving.batch.offline import score_files

        classifier = Classifier.from_pretrained(args.model, runtime=args.runtime)
        summary = score_files(
            [Path(p) for p in args.inputs],
            Path(args.output),
            classifier,
            columns,
            chunk_size=args.chunk_size,
            skip_invalid=args.skip_invalid,
            restart=args.restart,
        )
    print(summary.describe())
    return 0
