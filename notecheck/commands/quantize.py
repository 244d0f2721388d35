"""`notecheck quantize`: an int8 copy of a model for OpenVINO, written only if it holds up on held-out writers.

Prints plain `key: value` lines on stdout, for example:

    out: runs/default-int8
    version: 20261206-094252-59158b49-int8
    matmuls: 61 int8, 12 bf16 (feed-forward down-projections)
    calibration_notes: 1000 (training notes)
    validation_macro_f1: 0.8801 int8, 0.8829 fp32 (-0.0028; 1040 notes of held-out writers)
    verdicts_agree: 0.9913
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DEFAULT_MODEL, HeldOutSplit, ModelDir


def quantize(
    out: Annotated[Path, typer.Option(metavar="DIR", help="new model directory to write (must not exist yet)")],
    model: ModelDir = DEFAULT_MODEL,
    calibration_notes: Annotated[
        int, typer.Option(min=1, metavar="N", help="training notes that calibrate the int8 ranges")
    ] = 1000,
    max_drop: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="largest validation macro-F1 loss against fp32 before nothing is written"),
    ] = 0.005,
    split: HeldOutSplit = None,
) -> None:
    """Write an int8 copy of a model: about 1.2x the notes/s of the default runtime, checked on held-out writers.

    Calibrates on the model's training notes, keeps each layer's feed-forward down-projection in bf16, and
    compares validation macro-F1 with the fp32 model's; nothing is written when it falls more than --max-drop
    below. The copy keeps the full-precision weights too: --runtime fp32/bf16 and explanations use those.
    """
    from notecheck.training.quantize import quantize_model_dir

    report = quantize_model_dir(model, out, calibration_notes=calibration_notes, max_drop=max_drop, split_file=split)
    print(f"out: {report.out}")
    print(f"version: {report.version}")
    print(f"matmuls: {report.quantized_matmuls} int8, {report.float_matmuls} bf16 (feed-forward down-projections)")
    print(f"calibration_notes: {report.calibration_notes} (training notes)")
    print(
        f"validation_macro_f1: {report.validation_f1_int8:.4f} int8, {report.validation_f1_fp32:.4f} fp32 "
        f"({report.validation_delta:+.4f}; {report.validation_notes} notes of held-out writers)"
    )
    print(f"verdicts_agree: {report.verdicts_agree:.4f}")
