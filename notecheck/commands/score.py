"""`notecheck score`: score note files offline into JSONL, CSV or Parquet (resumable), or on Ray Data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from notecheck.commands.params import (
    DatabaseUrl,
    IdColumn,
    ModelDir,
    RuntimeOption,
    SkipInvalid,
    TextColumn,
    TitleColumn,
)
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
    queue: Annotated[
        bool, typer.Option("--queue", help="also put the notes answered review or flag into the review queue")
    ] = False,
    db: DatabaseUrl = None,
) -> None:
    """Score note files into a results file; rerun to resume an interrupted run.

    With --skip-invalid, invalid rows are written with an 'error' field instead of stopping the run.
    With --queue, review and flag notes (text, exposure, category and all) go to the review queue in --db,
    each note id once, for moderators at /review.
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
        if queue:
            raise ConfigError("--queue applies to --engine local only")
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
        queuer = _Queuer(db, classifier) if queue else None
        summary = score_files(
            list(inputs),
            output,
            classifier,
            columns,
            chunk_size=chunk_size,
            skip_invalid=skip_invalid,
            restart=restart,
            on_scored=queuer,
        )
    print(summary.describe())
    if queuer is not None:
        print(queuer.describe())


class _Queuer:
    """Puts each scored chunk's review/flag notes into the review queue (idempotent per note id)."""

    def __init__(self, url: str | None, classifier: Any) -> None:
        from notecheck.model.review.db import connect, label
        from notecheck.model.review.priority import ReviewPriority
        from notecheck.model.review.queue import ReviewQueue

        self.queue = ReviewQueue(connect(url), ReviewPriority.from_env())  # the server's weights too
        self.where = label(self.queue.engine)
        self.boundary = classifier.metadata.thresholds.commercial
        self.version = classifier.version
        self.added = self.already = 0

    def __call__(self, scored: list[Any]) -> None:
        from notecheck.model.review.entries import row_entry

        entries = [row_entry(row.data, note, prediction) for row, note, prediction in scored]
        source = scored[0][0].path if scored else ""
        result = self.queue.enqueue(entries, self.boundary, self.version, source)
        self.added += result.added
        self.already += result.already

    def describe(self) -> str:
        return f"review queue {self.where}: {self.added} notes added, {self.already} already queued"
