"""Batch scoring scaled out on Ray Data: the same rows, validation, `predict` and columns as `serving.offline`.

The job is a Ray Dataset of *work units* (one per Parquet row group, one per JSONL or CSV file), mapped over
an actor pool: each actor loads `Classifier.from_pretrained(model_dir)` once, reads its unit with
`serving.readers`, and yields result tables of at most `batch_size` rows made by `serving.records.score_rows`;
`write_parquet` writes them as a directory of Parquet files.

Why units rather than `ray.data.read_parquet`: the results name each note's row in its file (and notes
without an id get `file:row` as their id), which `read_parquet` cannot tell, and `Dataset.zip` with a row
counter is deprecated in Ray 2.60 because it relies on an order Ray Data does not guarantee. Reading a row
group inside the actor numbers rows exactly as the plain path does, and row groups still spread over the
cluster. A single-row-group file (or a JSONL/CSV file) is one unit, so it is scored by one actor.

The output is a directory; read it with `pyarrow.parquet.read_table(output)` and sort by `input_file`, `row`
for input order. There is no resuming here: a failed run is rerun whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.metadata import ModelMetadata
from notecheck.model.options import CHUNK_SIZE, NOTE_FORMATS
from notecheck.model.readers import ColumnMap, RawRow, input_format, iter_rows, parquet_row_group_rows
from notecheck.serving.batch.offline import ScoreSummary
from notecheck.serving.batch.records import OUTPUT_SCHEMA, score_rows

log = logging.getLogger(__name__)


class RowFailed(Exception):
    """A `DatasetError` on its way back from an actor (it survives pickling; the driver re-raises it)."""

    def __init__(self, path: str, line: int | None, field: str | None, reason: str) -> None:
        super().__init__(path, line, field, reason)
        self.path, self.line, self.field, self.reason = path, line, field, reason

    def as_dataset_error(self) -> DatasetError:
        return DatasetError(self.path, self.line, self.field, self.reason)


def work_units(inputs: list[str]) -> list[dict[str, Any]]:
    """One unit per Parquet row group (with the rows before it, for numbering), one per JSONL/CSV file."""
    units: list[dict[str, Any]] = []
    for path in inputs:
        if not Path(path).is_file():
            raise DatasetError(path, None, None, "file not found")
        if input_format(Path(path)) != "parquet":
            units.append({"path": path, "row_group": -1, "first_row": 0})
            continue
        metadata = pq.ParquetFile(path).metadata
        first = 0
        for group in range(metadata.num_row_groups):
            units.append({"path": path, "row_group": group, "first_row": first})
            first += metadata.row_group(group).num_rows
    return units


class ScoreUnits:
    """The actor: one classifier per actor, loaded once; each call scores the units it is given."""

    def __init__(self, model_dir: str, columns: dict[str, str], runtime: str, skip_invalid: bool, batch_size: int):
        from notecheck.model.classifier import Classifier

        self.classifier = Classifier.from_pretrained(model_dir, runtime=runtime)
        self.columns = ColumnMap(**columns)
        self.skip_invalid = skip_invalid
        self.batch_size = batch_size

    def __call__(self, units: pa.Table) -> Iterator[pa.Table]:
        for unit in units.to_pylist():
            rows: list[RawRow] = []
            for row in self._rows(unit):
                rows.append(row)
                if len(rows) == self.batch_size:
                    yield self._score(rows)
                    rows = []
            if rows:
                yield self._score(rows)

    def _rows(self, unit: dict[str, Any]) -> Iterator[RawRow]:
        if unit["row_group"] < 0:
            return iter_rows(unit["path"], self.columns, batch_rows=self.batch_size)
        return parquet_row_group_rows(unit["path"], [unit["row_group"]], unit["first_row"], self.batch_size)

    def _score(self, rows: list[RawRow]) -> pa.Table:
        try:
            return score_rows(self.classifier, rows, self.columns, self.skip_invalid)
        except DatasetError as exc:
            raise RowFailed(exc.path, exc.line, exc.field, exc.reason) from None


def score_with_ray(
    inputs: list[str],
    output: str,
    model_dir: str,
    columns: ColumnMap,
    num_actors: int = 2,
    batch_size: int = CHUNK_SIZE,
    address: str | None = None,
    *,
    runtime: str = "fp32",
    skip_invalid: bool = False,
    progress: bool = True,
) -> ScoreSummary:
    """Score `inputs` on a Ray cluster (a local one unless `address`) into the Parquet directory `output`.

    >>> score_with_ray(["notes.parquet"], "scores.parquet", "runs/default", ColumnMap())  # doctest: +SKIP
    ScoreSummary(inputs=['notes.parquet'], output='scores.parquet', model_version='1.0.0', rows=120000, ...)
    """
    import ray

    if num_actors < 1 or batch_size < 1:
        raise ConfigError(f"num_actors and batch_size must be at least 1, got {num_actors} and {batch_size}")
    if NOTE_FORMATS.get(Path(output).suffix.lower()) in ("jsonl", "csv"):
        raise ConfigError(f"output '{output}': the Ray engine writes a Parquet directory (use --engine local)")
    units = work_units([str(p) for p in inputs])
    version = ModelMetadata.load(model_dir).version
    started_here = not ray.is_initialized()
    if started_here:
        # one CPU per actor plus one for writing; a cluster one connects to has its own CPUs
        num_cpus = None if address else num_actors + 1
        ray.init(address=address or "local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    tmp = Path(output).with_name(f".{Path(output).name}.tmp-{os.getpid()}")
    try:
        _run_pipeline(units, str(tmp), model_dir, columns, num_actors, batch_size, runtime, skip_invalid, progress)
        _replace_dir(tmp, Path(output))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if started_here:
            ray.shutdown()
    summary = ScoreSummary([str(p) for p in inputs], str(output), version)
    summary.seconds = time.perf_counter() - started
    errors = pq.read_table(output, columns=["error"], schema=OUTPUT_SCHEMA)["error"]
    summary.rows = summary.scored = len(errors)
    summary.invalid = len(errors) - errors.null_count
    summary.extra = {"engine": "ray", "num_actors": num_actors, "units": len(units)}
    log.debug("%s", summary.describe())
    return summary


def _run_pipeline(
    units: list[dict[str, Any]],
    output: str,
    model_dir: str,
    columns: ColumnMap,
    num_actors: int,
    batch_size: int,
    runtime: str,
    skip_invalid: bool,
    progress: bool,
) -> None:
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    context.execution_options.preserve_order = True  # output files follow the input order
    dataset = ray.data.from_items(units, override_num_blocks=max(1, len(units)))
    scored = dataset.map_batches(
        ScoreUnits,
        fn_constructor_kwargs={
            "model_dir": str(model_dir),
            "columns": asdict(columns),
            "runtime": runtime,
            "skip_invalid": skip_invalid,
            "batch_size": batch_size,
        },
        batch_size=1,  # one unit per call; the actor cuts it into batches of `batch_size` notes
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=num_actors),  # `concurrency=` is deprecated since Ray 2.51
        num_cpus=1,
    )
    try:
        scored.write_parquet(output, schema=OUTPUT_SCHEMA)
    except Exception as exc:  # Ray wraps what the actor raised; a bad row becomes our one-line error
        failed = _find_row_failure(exc)
        if failed is None:
            raise
        raise failed.as_dataset_error() from None
    if not any(Path(output).glob("*.parquet")):  # no rows at all: still leave a readable, empty output
        Path(output).mkdir(parents=True, exist_ok=True)
        pq.write_table(OUTPUT_SCHEMA.empty_table(), Path(output) / "empty.parquet")


def _find_row_failure(exc: BaseException | None) -> RowFailed | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RowFailed):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _replace_dir(tmp: Path, output: Path) -> None:
    """Put the finished directory in place of an older output (a file or a directory)."""
    if output.is_dir():
        shutil.rmtree(output)
    elif output.exists():
        output.unlink()
    os.replace(tmp, output)
