"""`notecheck train`: fine-tune (or fit the TF-IDF baseline) and write a model directory.

Every option overrides the run config (`training/configs/default.yaml` unless `--config` names another);
`--backend` sets the config's `model:` key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DataFiles
from notecheck.model.options import Backend, Precision

FROM_CONFIG = "(default: the run config's)"


def train(
    config: Annotated[
        Path | None, typer.Option(metavar="FILE", help="run config YAML (default: training/configs/default.yaml)")
    ] = None,
    data: DataFiles = None,
    backend: Annotated[
        Backend | None, typer.Option(help=f"transformer fine-tunes the encoder, tfidf fits the baseline {FROM_CONFIG}")
    ] = None,
    base_model: Annotated[
        str | None,
        typer.Option(metavar="NAME", help=f"bundled alias, Hugging Face model id or local directory {FROM_CONFIG}"),
    ] = None,
    out: Annotated[Path | None, typer.Option(metavar="DIR", help=f"model directory to write {FROM_CONFIG}")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help=f"training epochs {FROM_CONFIG}")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help=f"notes per optimizer step {FROM_CONFIG}")] = None,
    max_length: Annotated[int | None, typer.Option(help=f"tokens per note, 8 to 512 {FROM_CONFIG}")] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=0, help="stop after this many optimizer steps, for smoke runs (0: no limit)")
    ] = None,
    learning_rate: Annotated[float | None, typer.Option(help=f"encoder learning rate {FROM_CONFIG}")] = None,
    seed: Annotated[int | None, typer.Option(help=f"random seed {FROM_CONFIG}")] = None,
    precision: Annotated[
        Precision | None, typer.Option(help=f"auto uses bf16 where the CPU has native bf16 {FROM_CONFIG}")
    ] = None,
    split_file: Annotated[
        Path | None, typer.Option(metavar="FILE", help=f"frozen split record, created if missing {FROM_CONFIG}")
    ] = None,
    text_column: Annotated[str | None, typer.Option(metavar="NAME", help="input column holding the note text")] = None,
    label_column: Annotated[str | None, typer.Option(metavar="NAME", help="input column holding the labels")] = None,
    id_column: Annotated[str | None, typer.Option(metavar="NAME", help="input column holding the note ids")] = None,
    label_map: Annotated[
        str | None, typer.Option(metavar="PAIRS", help="extra RAW=LABEL pairs, comma separated")
    ] = None,
    skip_invalid: Annotated[
        bool | None, typer.Option("--skip-invalid", help="skip and count invalid rows instead of stopping")
    ] = None,
) -> None:
    """Train a model on labelled notes; resumes an interrupted run."""
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import run_training

    run_config = TrainConfig.load(
        config,
        data=data or None,
        model=backend,  # the config calls the backend `model:`
        base_model=base_model,
        out=None if out is None else str(out),
        epochs=epochs,
        batch_size=batch_size,
        max_length=max_length,
        max_steps=max_steps,
        learning_rate=learning_rate,
        seed=seed,
        precision=precision,
        split_file=None if split_file is None else str(split_file),
        text_column=text_column,
        label_column=label_column,
        id_column=id_column,
        label_map=label_map,
        skip_invalid=skip_invalid,
    )
    outcome = run_training(run_config)
    s = outcome.test_metrics["summary"]
    by_lang = "".join(f"; {lang} {v['macro_f1']:.4f}" for lang, v in sorted(s.get("by_lang", {}).items()))
    th = outcome.metadata.thresholds
    print(f"model {outcome.metadata.version} written to {outcome.model_dir}")
    print(f"test macro-F1 {s['macro_f1']:.4f} on {s['n']} notes{by_lang}")
    print(f"temperature {outcome.metadata.temperature:.3f}; thresholds review {th.review:.3f}, flag {th.flag:.3f}")
    print(f"report: {outcome.model_dir / 'README.md'}")
