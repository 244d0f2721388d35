"""Rows in, result rows out: validation and `Classifier.predict` for one chunk, shared by the plain and Ray
paths so both write exactly the same columns.

The result columns are the API's fields, flattened so that JSONL, CSV and Parquet hold the same values:

- `input_file`, `row`: where the note came from (the row numbering of `serving.readers`);
- `id`, `verdict`, `p_commercial` (rounded to 6 places, as the API does), `action`;
- `disclosure_rating`, `disclosure_reason`, `disclosure_markers` (a JSON array of the API's marker objects);
- `truncated`, `n_tokens`, `model_version`;
- `error`: null for a scored row; with `skip_invalid`, an invalid row keeps its place with the score columns
  null and `error` naming the file, row and field, so the output still has one row per input row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from notecheck.model.classifier import Classifier, Prediction
from notecheck.model.errors import DatasetError
from notecheck.model.loader import validate_row
from notecheck.model.readers import ColumnMap, RawRow
from notecheck.model.schema import Note

OUTPUT_SCHEMA = pa.schema(
    [
        ("input_file", pa.string()),
        ("row", pa.int64()),
        ("id", pa.string()),
        ("verdict", pa.string()),
        ("p_commercial", pa.float64()),
        ("action", pa.string()),
        ("disclosure_rating", pa.string()),
        ("disclosure_reason", pa.string()),
        ("disclosure_markers", pa.string()),
        ("truncated", pa.bool_()),
        ("n_tokens", pa.int64()),
        ("model_version", pa.string()),
        ("error", pa.string()),
    ]
)

#: Called with each chunk's scored notes before its results are written (e.g. to queue them for review).
OnScored = Callable[[list[tuple[RawRow, Note, Prediction]]], None]


def score_rows(
    classifier: Classifier,
    rows: Sequence[RawRow],
    columns: ColumnMap,
    skip_invalid: bool = False,
    on_scored: OnScored | None = None,
) -> pa.Table:
    """Validate `rows`, predict the valid ones in one `predict` call, and return one result row per input
    row, in order. Without `skip_invalid` the first invalid row raises its `DatasetError`. `on_scored` gets
    (row, note, prediction) for every scored row before the table is returned."""
    notes: list[Note] = []
    slots: list[tuple[RawRow, Note | DatasetError]] = []
    for row in rows:
        outcome: Note | DatasetError
        try:
            if row.error is not None:
                raise row.error
            assert row.data is not None
            outcome = validate_row(row.data, columns, None, (row.path, row.number)).note
            notes.append(outcome)
        except DatasetError as exc:
            if not skip_invalid:
                raise
            outcome = exc
        slots.append((row, outcome))
    predicted = classifier.predict(notes)
    if on_scored is not None:
        valid = [(row, outcome) for row, outcome in slots if isinstance(outcome, Note)]
        on_scored([(row, note, p) for (row, note), p in zip(valid, predicted, strict=True)])
    predictions = iter(predicted)
    records = []
    for row, outcome in slots:
        if isinstance(outcome, DatasetError):
            records.append(_error_record(row, outcome, columns, classifier.version))
        else:
            records.append(_record(row, outcome, next(predictions), classifier.version))
    return pa.Table.from_pylist(records, schema=OUTPUT_SCHEMA)


def _record(row: RawRow, note: Note, prediction: Prediction, version: str) -> dict[str, Any]:
    disclosure = prediction.disclosure
    return {
        "input_file": row.path,
        "row": row.number,
        "id": note.id,
        "verdict": prediction.verdict,
        "p_commercial": round(prediction.p_commercial, 6),
        "action": prediction.action,
        "disclosure_rating": disclosure.rating,
        "disclosure_reason": disclosure.reason,
        "disclosure_markers": json.dumps([m.to_dict() for m in disclosure.markers], ensure_ascii=False),
        "truncated": prediction.truncated,
        "n_tokens": prediction.n_tokens,
        "model_version": version,
        "error": None,
    }


def _error_record(row: RawRow, error: DatasetError, columns: ColumnMap, version: str) -> dict[str, Any]:
    raw_id = (row.data or {}).get(columns.id)
    note_id = str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else f"{Path(row.path).name}:{row.number}"
    record: dict[str, Any] = dict.fromkeys(OUTPUT_SCHEMA.names)
    record.update(input_file=row.path, row=row.number, id=note_id, model_version=version, error=str(error))
    return record
