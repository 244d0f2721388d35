"""`notecheck distill`: a shallower student of a model, about twice the notes/s, written only if it holds up
on held-out writers.

Prints plain `key: value` lines on stdout, for example:

    out: runs/default-6l
    version: 20261206-201500-59158b49
    layers: 6 of 12 (teacher layers 0,2,4,6,8,10)
    validation_macro_f1: 0.8810 student, 0.8829 teacher (-0.0019; 1040 notes of held-out writers)
    verdicts_agree: 0.9500
    test_macro_f1: 0.8880 student, 0.8898 teacher
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from notecheck.commands.params import DEFAULT_MODEL, HeldOutSplit, ModelDir


def distill(
    out: Annotated[Path, typer.Option(metavar="DIR", help="model directory to write (new, or an empty one)")],
    model: ModelDir = DEFAULT_MODEL,
    layers: Annotated[
        str,
        typer.Option(
            metavar="LIST", help="the teacher's layers the student keeps, comma separated (default: every other one)"
        ),
    ] = "",
    max_drop: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="largest validation macro-F1 loss against the teacher before nothing is written"
        ),
    ] = 0.005,
    epochs: Annotated[int, typer.Option(min=1, help="training epochs (the best one on validation is kept)")] = 6,
    learning_rate: Annotated[float, typer.Option(min=0.0, help="the student's encoder learning rate")] = 6e-5,
    # the defaults are training.distill.STUDENT's (the command module must not import the training stack)
    alpha: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="weight of the labels; the rest goes to the teacher's logits")
    ] = 0.5,
    temperature: Annotated[float, typer.Option(min=0.01, help="softening of both models' logits")] = 2.0,
    split: HeldOutSplit = None,
) -> None:
    """Train a shallower student of a model on its training notes and the model's own logits.

    The student keeps some of the teacher's layers (every other one by default), is fine-tuned on the
    teacher's training notes to match both the labels and the teacher's softened scores, and gets its own
    calibration, signal combiner and thresholds on the validation writers. Nothing is written when its
    validation macro-F1 falls more than --max-drop below the teacher's. Resumable: run it again after an
    interruption. On a 2-core CPU, about 35 minutes for the bundled notes.
    """
    from notecheck.training.distill import distill_model_dir
    from notecheck.training.encoder.layers import parse_layers

    settings: dict[str, Any] = {
        "distill_alpha": alpha,
        "distill_temperature": temperature,
        "learning_rate": learning_rate,
        "epochs": epochs,
    }
    kept_layers = parse_layers(layers, "--layers") if layers.strip() else None
    report = distill_model_dir(model, out, kept_layers, max_drop=max_drop, split_file=split, **settings)
    kept = ",".join(map(str, report.layers))
    print(f"out: {report.out}")
    print(f"version: {report.version}")
    print(f"layers: {len(report.layers)} of {report.teacher_layers} (teacher layers {kept})")
    print(
        f"validation_macro_f1: {report.validation_f1_student:.4f} student, {report.validation_f1_teacher:.4f} "
        f"teacher ({report.validation_delta:+.4f}; {report.validation_notes} notes of held-out writers)"
    )
    print(f"verdicts_agree: {report.verdicts_agree:.4f}")
    teacher = "-" if report.test_f1_teacher is None else f"{report.test_f1_teacher:.4f}"
    print(f"test_macro_f1: {report.test_f1_student:.4f} student, {teacher} teacher")
