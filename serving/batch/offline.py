"""Offline batch scoring of note files, streaming and resumable.

`score_files` reads JSONL, CSV or Parquet inputs in chunks (`serving.readers`), validates each row with the
loader's rules, calls the same `Classifier.predict` as the API on each chunk (`serving.records`), and writes
JSONL, CSV or Parquet by the output's suffix: one result row per input row, in input order.

Resuming: results go first to numbered part files in `<output>.parts/`, each written under a temporary
name and renamed, so a part is complete or absent whenever the process dies (SIGKILL included). A
`manifest.json` there records the inputs (sizes, mtimes), the model and the chunking; a rerun with the same
arguments skips the chunks whose part exists, and a rerun with anything different is refused (`--restart`
discards the old parts). At the end the parts are merged into the output atomically and removed.

Invalid rows stop the run with a `DatasetError` naming the file, row and field (parts written so far stay,
so a rerun with `skip_invalid` resumes). With `skip_invalid` an invalid row is written with its `error`
set and the score columns empty, so the output still holds exactly one row per input row.

Two runs writing the same output at the same time are not guarded against.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.options import CHUNK_SIZE
from notecheck.model.outputs import check_output, writing
from notecheck.model.readers import ColumnMap, input_format, iter_chunks, open_parquet, parquet_rows
from notecheck.serving.batch.records import OnScored, score_rows
from notecheck.serving.batch.writers import is_temp, merge_parts, output_format, write_json, write_part

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


class ResumeError(ConfigError):
    """The output's parts directory belongs to a run with other inputs, model or settings."""


@dataclass
class ScoreSummary:
    """What a scoring run did. `notes_per_second` counts only the notes this run scored itself."""

    inputs: list[str]
    output: str
    model_version: str
    rows: int = 0  # rows in the output
    scored: int = 0  # rows this run scored
    resumed: int = 0  # rows taken from parts an interrupted run left
    invalid: int = 0  # rows written with `error` set (skip_invalid)
    seconds: float = 0.0  # wall time of reading and scoring, merge excluded
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def notes_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        text = f"{self.rows} rows scored at {self.notes_per_second:.1f} notes/s -> {self.output}"
        if self.resumed:
            text += f" ({self.resumed} resumed from an interrupted run)"
        if self.invalid:
            text += f"; {self.invalid} invalid rows written with 'error' set"
        return text


def parts_dir_for(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def part_path(parts_dir: Path, index: int) -> Path:
    return parts_dir / f"part-{index:06d}.parquet"


def build_manifest(
    inputs: list[Path], classifier: Classifier, columns: ColumnMap, chunk_size: int, skip_invalid: bool
) -> dict[str, Any]:
    """Everything that decides the content and chunking of the parts; a rerun must match it."""
    files = []
    for path in inputs:
        stat = path.stat()
        files.append({"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    metadata = json.dumps(classifier.metadata.to_dict(), sort_keys=True, default=str)
    return {
        "format": MANIFEST_FORMAT,
        "inputs": files,
        "model_version": classifier.version,
        "model_metadata_sha256": hashlib.sha256(metadata.encode("utf-8")).hexdigest(),
        "chunk_size": chunk_size,
        "columns": asdict(columns),
        "skip_invalid": skip_invalid,
    }


def clear_parts(parts_dir: Path) -> None:
    """Remove our files, the manifest last: a directory without a manifest never holds a needed part."""
    if not parts_dir.is_dir():
        return
    for path in sorted(parts_dir.iterdir()):
        if path.name.startswith("part-") or is_temp(path):
            path.unlink(missing_ok=True)
    (parts_dir / MANIFEST).unlink(missing_ok=True)
    try:
        parts_dir.rmdir()
    except OSError as exc:
        raise ConfigError(f"{parts_dir}: holds files that are not notecheck's; remove it by hand") from exc


def prepare_parts(parts_dir: Path, manifest: dict[str, Any], restart: bool) -> None:
    """Create the parts directory, or check that the one there belongs to this very run."""
    old = _read_manifest(parts_dir)
    if restart or old is None:
        clear_parts(parts_dir)  # a directory without a manifest was killed before or after holding parts
    else:
        _check_same_run(parts_dir, old, manifest)
        for path in parts_dir.iterdir():
            if is_temp(path):
                path.unlink(missing_ok=True)  # a part the killed run was still writing
    with writing(parts_dir):
        parts_dir.mkdir(parents=True, exist_ok=True)
    write_json(manifest, parts_dir / MANIFEST)


def _read_manifest(parts_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((parts_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ResumeError(f"{parts_dir / MANIFEST}: unreadable ({exc}); rerun with --restart") from exc
    return data if isinstance(data, dict) else None


def _check_same_run(parts_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    # Parts written without skip_invalid hold only valid rows, so they may be reused with it, not the reverse.
    keys = [k for k in new if k != "skip_invalid" and old.get(k) != new[k]]
    if old.get("skip_invalid") and not new["skip_invalid"]:
        keys.append("skip_invalid")
    if keys:
        raise ResumeError(
            f"{parts_dir} holds an interrupted run with different {', '.join(keys)}; rerun with --restart "
            "to discard it, or write to another output"
        )


def _part_rows(part: Path) -> int | None:
    """Rows in a finished part, or None when there is none (parts are renamed into place only when whole)."""
    try:
        return int(pq.ParquetFile(part).metadata.num_rows)
    except (OSError, ValueError):
        return None


def check_paths(inputs: list[Path], output: Path) -> None:
    """Refuse missing, unknown, empty or corrupt (Parquet) inputs and an output that cannot be written,
    before a model is loaded or a part is written."""
    if not inputs:
        raise ConfigError("no input files given")
    output_format(output)
    check_output(output)
    for path in inputs:
        if not path.is_file():
            raise DatasetError(path, None, None, "file not found")
        if input_format(path) == "parquet":
            open_parquet(path).close()  # its footer: an empty or truncated file fails here
        if path.resolve() == output.resolve():
            raise ConfigError(f"output '{output}' is also an input")


def score_files(
    inputs: list[Path],
    output: Path,
    classifier: Classifier,
    columns: ColumnMap,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
    *,
    skip_invalid: bool = False,
    restart: bool = False,
    on_scored: OnScored | None = None,
) -> ScoreSummary:
    """Score every row of `inputs` into `output`; rerun with the same arguments after a crash to resume.

    >>> score_files([Path("notes.parquet")], Path("scores.parquet"), clf, ColumnMap())  # doctest: +SKIP
    ScoreSummary(inputs=['notes.parquet'], output='scores.parquet', model_version='1.0.0', rows=120000, ...)

    `on_scored` sees each chunk's scored notes before the chunk's results are written, so a crash between the
    two repeats the call on resume (queueing for review is idempotent per note id).
    """
    inputs, output = [Path(p) for p in inputs], Path(output)
    check_paths(inputs, output)
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {chunk_size}")
    with writing(output):
        output.parent.mkdir(parents=True, exist_ok=True)
    for stale in output.parent.glob(f".{output.name}.tmp-*"):
        stale.unlink(missing_ok=True)  # a merge that was killed before its rename
    parts_dir = parts_dir_for(output)
    prepare_parts(parts_dir, build_manifest(inputs, classifier, columns, chunk_size, skip_invalid), restart)
    summary = ScoreSummary([str(p) for p in inputs], str(output), classifier.version)
    n_chunks = _score_chunks(
        inputs, parts_dir, classifier, columns, chunk_size, progress, skip_invalid, summary, on_scored
    )
    summary.rows, summary.invalid = merge_parts([part_path(parts_dir, i) for i in range(n_chunks)], output)
    clear_parts(parts_dir)
    log.debug("%s", summary.describe())
    return summary


def _score_chunks(
    inputs: list[Path],
    parts_dir: Path,
    classifier: Classifier,
    columns: ColumnMap,
    chunk_size: int,
    progress: bool,
    skip_invalid: bool,
    summary: ScoreSummary,
    on_scored: OnScored | None = None,
) -> int:
    """Score the chunks that have no part yet; returns how many chunks the inputs have."""
    bar = tqdm(total=parquet_rows(inputs), unit="note", desc="scoring", disable=not progress, dynamic_ncols=True)
    started = time.perf_counter()
    n_chunks = 0
    with bar:
        for chunk in iter_chunks(inputs, columns, chunk_size):
            n_chunks += 1
            part = part_path(parts_dir, chunk.index)
            if _part_rows(part) == len(chunk.rows):
                summary.resumed += len(chunk.rows)
                if bar.total is not None:
                    bar.total -= len(chunk.rows)  # the bar and its rate count this run's work only
                bar.set_postfix(resumed=summary.resumed)
                continue
            write_part(score_rows(classifier, chunk.rows, columns, skip_invalid, on_scored), part)
            summary.scored += len(chunk.rows)
            bar.update(len(chunk.rows))
    summary.seconds = time.perf_counter() - started
    return n_chunks
