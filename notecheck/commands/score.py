"""`notecheck score`: score note files offline into JSONL, CSV or Parquet (resumable), or on Ray Data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from notecheck.commands.params import IdColumn, ModelDir, RuntimeOption, SkipInvalid, TextColumn, TitleColumn
from notecheck.model.options import CHUNK_SIZE, DEFAULT_RUNTIME, NOTE_FORMATS, describe_formats

FORMATS = describe_formats(NOTE_FORMATS)


def score(
    inputs: Annotated[list[Path], typer.Argument(metavar="INPUT", help=f"note files: {FORMATS}")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", metavar="FILE", help=f"results file; its suffix picks the format ({FORMATS})"),
    ],
    model: ModelDir,
    text_column: TextColumn = "text",
    id_column: IdColumn = "id",
    title_column: TitleColumn = "title",
    chunk_size: Annotated[int, typer.Option(help="notes per predict call (Ray: per batch)")] = CHUNK_SIZE,
    runtime: RuntimeOption = DEFAULT_RUNTIME,
    restart: Annotated[bool, typer.Option("--restart", help="discard the parts of an interrupted run")] = False,
    skip_invalid: SkipInvalid = False,
    engine: Annotated[Literal["local", "ray"], typer.Option(help="run here, or on a Ray cluster")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Ray cluster address (default: start a local one)")
    ] = None,
    num_actors: Annotated[int, typer.Option(help="Ray actors, each holding one model")] = 2,
) -> None:
    """Score note files into a results file; rerun to resume an interrupted run.

    With --skip-invalid, invalid rows are written with an 'error' field instead of stopping the run.
    """
    from notecheck.model.errors import ConfigError
    from notecheck.model.readers import ColumnMap

    columns = ColumnMap(text=text_column, id=id_column, title=title_column)
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {chunk_size}")
    if engine == "ray":
        from notecheck.serving.batch.ray_job import score_with_ray

        if restart:
            raise ConfigError("--restart applies to --engine local only (a Ray run rewrites its output)")
        summary = score_with_ray(
            [str(p) for p in inputs],
            str(output),
            str(model),
            columns,
            num_actors=num_actors,
            batch_size=chunk_size,
            address=ray_address,
            runtime=runtime,
            skip_invalid=skip_invalid,
        )
    else:
        from notecheck.model.classifier import Classifier
        from notecheck.serving.batch.offline import check_paths, score_files

        check_paths(list(inputs), output)  # before minutes of loading: a bad input or output fails at once
        classifier = Classifier.from_pretrained(model, runtime=runtime)
        summary = score_files(
            list(inputs),
            output,
            classifier,
            columns,
            chunk_size=chunk_size,
            skip_invalid=skip_invalid,
            restart=restart,
        )
    print(summary.describe())
