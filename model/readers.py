"""The one reader of users' note files (JSONL, CSV, Parquet), shared by training and batch scoring.

Rows are read lazily, one bounded block at a time: JSONL line by line, CSV through pyarrow's streaming
reader, Parquet batch by batch, so scoring files can be larger than memory. `model.loader` validates the
rows into notes for training and evaluation; `serving.batch` scores them chunk by chunk. Rows are numbered
from 1: the line number for JSONL (blank lines counted but skipped), the data row for CSV (header excluded)
and Parquet, so errors and fallback ids agree everywhere.

A row that cannot even be parsed (a broken JSONL line) comes out as a `RawRow` carrying its `DatasetError`,
so the caller decides whether to stop or to write an error row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notecheck.model.errors import DatasetError, first_line
from notecheck.model.options import NOTE_FORMATS, describe_formats
from notecheck.model.paths import bundled_path

log = logging.getLogger(__name__)

#: Input suffixes the streaming readers understand.

#: Optional per-note numeric fields carried through to `LabelledNote.extra` (KOL checks use them).
NUMERIC_FIELDS = ("exposure", "likes", "collects", "comments", "followers")


@dataclass(frozen=True)
class ColumnMap:
    """Which input column holds which note field (`--text-column`, `--label-column`, `--id-column`)."""

    text: str = "text"
    label: str = "label"
    id: str = "id"
    title: str = "title"
    author_id: str = "author_id"
    lang: str = "lang"


#: pyarrow reads CSV in blocks of this many bytes: the reader's own memory bound.
CSV_BLOCK_BYTES = 1 << 20


@dataclass
class RawRow:
    """One input row before validation: its file, its 1-based row number, and either its data or why not."""

    path: str
    number: int
    data: dict[str, Any] | None
    error: DatasetError | None = None


@dataclass
class Chunk:
    """Rows `[index * chunk_size, index * chunk_size + len(rows))` of all inputs read in order."""

    index: int
    rows: list[RawRow]


def input_format(path: Path) -> str:
    """`jsonl`, `csv` or `parquet` from the suffix; `DatasetError` otherwise."""
    kind = NOTE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DatasetError(path, None, None, f"unknown format '{path.suffix}' (use {describe_formats(NOTE_FORMATS)})")
    return kind


def iter_rows(path: str | Path, columns: ColumnMap, batch_rows: int = 512) -> Iterator[RawRow]:
    """Rows of one file, lazily. `batch_rows` bounds how many Parquet rows are decoded at once."""
    path = Path(bundled_path(path))  # `data/samples.jsonl` means the clone's bundled file from anywhere
    if not path.is_file():
        raise DatasetError(path, None, None, "not a file" if path.exists() else "file not found")
    kind = input_format(path)
    if kind == "jsonl":
        yield from _jsonl_rows(path)
    elif kind == "csv":
        yield from _csv_rows(path, columns, batch_rows)
    else:
        yield from _parquet_rows(path, batch_rows)


def iter_chunks(paths: Iterable[str | Path], columns: ColumnMap, chunk_size: int) -> Iterator[Chunk]:
    """Consecutive chunks of at most `chunk_size` rows over all files in order; a chunk may span files.

    Only one chunk (plus one reader block) is held at a time, whatever the input size. The chunk
    boundaries depend only on the inputs and `chunk_size`, which is what makes resuming possible.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    rows: list[RawRow] = []
    index = 0
    for path in paths:
        for row in iter_rows(path, columns, batch_rows=chunk_size):
            rows.append(row)
            if len(rows) == chunk_size:
                yield Chunk(index, rows)
                index, rows = index + 1, []
    if rows:
        yield Chunk(index, rows)


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    number = 0
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                row = _jsonl_row(path, number, raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw)
                if row is not None:
                    yield row
    except OSError as exc:  # unreadable (permissions, a disk error): named, never a traceback
        where = "cannot be read" + (f" after line {number}" if number else "")
        raise DatasetError(path, None, None, f"{where}: {exc.strerror or exc}") from exc


def _jsonl_row(path: Path, number: int, raw: bytes) -> RawRow | None:
    """One line's row (with its error when it cannot be parsed), or None for a blank line."""
    if not raw.strip():
        return None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        reason = f"undecodable bytes (not UTF-8) at byte {exc.start}"
        return RawRow(str(path), number, None, DatasetError(path, number, None, reason))
    except json.JSONDecodeError as exc:
        return RawRow(str(path), number, None, DatasetError(path, number, None, f"invalid JSON: {exc.msg}"))
    if not isinstance(obj, dict):
        return RawRow(str(path), number, None, DatasetError(path, number, None, "a line must be a JSON object"))
    return RawRow(str(path), number, obj)


def _csv_rows(path: Path, columns: ColumnMap, batch_rows: int) -> Iterator[RawRow]:
    """Every column is read as text, so a type guessed from the first block cannot break a later block;
    the numeric note fields are converted here, and a bad value is left for validation to name."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse) as probe:
            names = probe.schema.names
        convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(path, None, None, f"cannot be read as CSV: {first_line(exc)}") from exc
    number = 0
    with reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as exc:
                reason = f"cannot be read as CSV after data row {number}: {first_line(exc)}"
                raise DatasetError(path, None, None, reason) from exc
            for start in range(0, batch.num_rows, max(1, batch_rows)):  # Python objects for a slice at a time
                for row in batch.slice(start, batch_rows).to_pylist():
                    number += 1
                    yield RawRow(str(path), number, _csv_values(row, columns))


def _csv_values(row: dict[str, Any], columns: ColumnMap) -> dict[str, Any]:
    """CSV has no types: empty cells are missing (except the text, so it is reported as empty) and the
    numeric note fields become numbers when they parse."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value == "" and key != columns.text:
            out[key] = None
        elif key in NUMERIC_FIELDS:
            out[key] = _number(value)
        else:
            out[key] = value
    return out


def _number(value: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _parquet_rows(path: Path, batch_rows: int) -> Iterator[RawRow]:
    yield from parquet_row_group_rows(path, None, 0, batch_rows)


def parquet_row_group_rows(
    path: str | Path, row_groups: list[int] | None, first_number: int, batch_rows: int
) -> Iterator[RawRow]:
    """Rows of some row groups of a Parquet file (all of them with None), numbered on from `first_number`:
    the rows that come before those row groups. The Ray job reads row groups in parallel with this.

    A file that is empty, truncated or corrupt raises `DatasetError` naming it (and the last good row)."""
    import pyarrow as pa

    path = Path(path)
    number = first_number
    with open_parquet(path) as parquet:
        batches = parquet.iter_batches(batch_size=max(1, batch_rows), row_groups=row_groups)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as exc:
                reason = f"cannot be read as Parquet after data row {number}: {first_line(exc)}"
                raise DatasetError(path, None, None, reason) from exc
            for row in batch.to_pylist():
                number += 1
                yield RawRow(str(path), number, row)


def open_parquet(path: str | Path) -> Any:
    """`pyarrow.parquet.ParquetFile` of `path` (footer read), or `DatasetError` when it is not Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        reason = "empty file, not Parquet" if _is_empty(path) else f"cannot be read as Parquet: {first_line(exc)}"
        raise DatasetError(path, None, None, reason) from exc


def parquet_rows(paths: Iterable[str | Path]) -> int | None:
    """Total rows when every input is Parquet (read from the footers only), else None: a progress total."""
    total = 0
    for path in paths:
        if input_format(Path(path)) != "parquet":
            return None
        with open_parquet(path) as parquet:
            total += parquet.metadata.num_rows
    return total


def _is_empty(path: str | Path) -> bool:
    try:
        return Path(path).stat().st_size == 0
    except OSError:
        return False
