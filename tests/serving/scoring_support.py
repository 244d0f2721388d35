"""Batch-scoring test support: note rows, writing them in each format, reading results back.

Imported by module name (pytest puts this directory on `sys.path`), like `serving_support`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from notecheck.serving.batch.records import OUTPUT_SCHEMA

TEXTS = [
    "今天去了新开的咖啡店，拿铁一般，环境不错。",
    "私信我拿优惠码，评论区扣1，戳主页看链接。",
    "本篇由品牌赞助，广告合作。",
    "Went hiking with my sister, the view was worth the blisters.",
    "Use my code ANNA15 for 15% off, link in bio!",
    "Paid partnership with a skincare brand. #ad",
    "My kettle broke after two weeks, so annoyed.",
]


def note_rows(n: int, prefix: str = "n", missing_id_every: int = 0) -> list[dict[str, Any]]:
    """`n` short notes with ids `<prefix><i>`; every `missing_id_every`-th has no id (a `file:row` id)."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"id": f"{prefix}{i}", "text": f"{TEXTS[i % len(TEXTS)]} {i}", "title": ""}
        if i % 3 == 0:
            row["title"] = "好物分享" if i % 2 else "Weekend"
        if missing_id_every and i % missing_id_every == missing_id_every - 1:
            row["id"] = None
        rows.append(row)
    return rows


def write_notes(path: Path, rows: list[dict[str, Any]], row_group_size: int | None = None) -> Path:
    """Rows as JSONL, CSV or Parquet by suffix; a missing id is absent (JSONL), empty (CSV) or null."""
    kind = path.suffix.lstrip(".")
    if kind == "jsonl":
        lines = [json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) for r in rows]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path
    table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in rows[0]]))
    if kind == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=row_group_size)
    return path


def read_results(path: Path) -> list[dict[str, Any]]:
    """A results file (any format) or a Parquet directory, as records typed like `OUTPUT_SCHEMA`."""
    if path.is_dir() or path.suffix == ".parquet":
        return pq.read_table(path, schema=OUTPUT_SCHEMA).to_pylist()
    if path.suffix == ".csv":
        types = {f.name: f.type for f in OUTPUT_SCHEMA}
        convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        return pacsv.read_csv(path, convert_options=convert).select(OUTPUT_SCHEMA.names).to_pylist()
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def without(records: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in keys} for r in records]


def assert_same_scores(got: list[dict[str, Any]], want: list[dict[str, Any]], tol: float = 2e-6) -> None:
    """Same rows in the same order: every field equal, P(commercial) within `tol`, input file ignored."""
    assert len(got) == len(want)
    assert without(got, "p_commercial", "input_file") == without(want, "p_commercial", "input_file")
    pairs = [(a["p_commercial"], b["p_commercial"]) for a, b in zip(got, want, strict=True)]
    assert [a is None for a, _ in pairs] == [b is None for _, b in pairs]
    worst = max((abs(a - b) for a, b in pairs if a is not None and b is not None), default=0.0)
    assert worst <= tol, worst
