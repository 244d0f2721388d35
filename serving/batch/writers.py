"""Writing scored rows: one Parquet part file per chunk, and the final output merged from the parts.

Every file is written under a temporary name in the same directory and then `os.replace`d into place, so
a reader (or a rerun after a crash) sees a file either complete or not at all. A write that fails (no such
folder, a directory in the way, no permission, a full disk) raises `OutputError` naming the path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from notecheck.model.errors import ConfigError
from notecheck.model.options import NOTE_FORMATS, describe_formats
from notecheck.model.outputs import writing
from notecheck.serving.batch.records import OUTPUT_SCHEMA

#: Output suffixes and the format each one writes.


def output_format(path: Path) -> str:
    """`jsonl`, `csv` or `parquet` from the output's suffix; `ConfigError` otherwise."""
    kind = NOTE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"output '{path}': unknown format '{path.suffix}' (use {describe_formats(NOTE_FORMATS)})")
    return kind


def temp_name(path: Path) -> Path:
    """A sibling temporary name, unique to this process; `is_temp` recognises leftovers from killed runs."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def is_temp(path: Path) -> bool:
    return path.name.startswith(".") and ".tmp-" in path.name


def write_part(table: pa.Table, path: Path) -> None:
    """Write one chunk's results atomically."""
    tmp = temp_name(path)
    with writing(path):
        pq.write_table(table, tmp)
        os.replace(tmp, path)


def write_json(data: object, path: Path) -> None:
    """Write a small JSON file atomically (the resume manifest)."""
    tmp = temp_name(path)
    with writing(path):
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def merge_parts(parts: Iterable[Path], output: Path) -> tuple[int, int]:
    """Concatenate part files, in the order given, into `output` (format from its suffix), atomically.

    Parts are streamed one at a time, so merging needs no more memory than one chunk.
    Returns (rows written, rows with `error` set).
    """
    kind = output_format(output)
    tmp = temp_name(output)
    rows = invalid = 0
    try:
        with writing(output):
            with _open_writer(kind, tmp) as write:
                for part in parts:
                    table = pq.read_table(part, schema=OUTPUT_SCHEMA)
                    write(table)
                    rows += table.num_rows
                    invalid += table.num_rows - table["error"].null_count
            os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return rows, invalid


@contextmanager
def _open_writer(kind: str, path: Path) -> Iterator[Callable[[pa.Table], None]]:
    """A function appending a table to `path` in `kind` format, open for the `with` block."""
    if kind == "parquet":
        with pq.ParquetWriter(path, OUTPUT_SCHEMA) as writer:
            yield writer.write_table
    elif kind == "csv":
        with pacsv.CSVWriter(path, OUTPUT_SCHEMA) as writer:
            yield writer.write_table
    else:
        with path.open("w", encoding="utf-8") as fh:

            def write_lines(table: pa.Table) -> None:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist())

            yield write_lines
