"""Loading labelled notes: the rows of `model.readers` (JSONL, CSV, Parquet) or of a saved `datasets`
directory, each validated into a note.

Every row is validated. A bad row stops the load with one `DatasetError` naming the file, the row and the
field; with `skip_invalid=True` it is skipped and counted in the `LoadSummary` instead. Rows are numbered
from 1: the line number for JSONL (blank lines counted), the data row for CSV (header excluded) and
Parquet / dataset directories.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notecheck.model.errors import DatasetError
from notecheck.model.kol.dates import date_problem, read_date
from notecheck.model.options import NOTE_FORMATS, describe_formats
from notecheck.model.paths import bundled_path
from notecheck.model.readers import NUMERIC_FIELDS, ColumnMap, RawRow, iter_rows
from notecheck.model.schema import VERDICTS, Note, lone_surrogate

log = logging.getLogger(__name__)

#: Labels understood without a mapping: the three verdicts, plus common binary spellings.
DEFAULT_LABEL_MAP: dict[str, str] = {
    **{v: v for v in VERDICTS},
    "commercial": "commercial",
    **dict.fromkeys(["1", "true", "yes", "ad", "ads", "sponsored", "paid", "advert", "advertisement"], "commercial"),
    **dict.fromkeys(["0", "false", "no", "non-ad", "non_ad", "nonad", "not_ad", "organic", "not_sponsored"], "genuine"),
}


@dataclass
class LabelledNote:
    """A note plus its label (a verdict, or `commercial` for binary data) and the row's other fields."""

    note: Note
    label: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadSummary:
    files: list[str] = field(default_factory=list)
    rows: int = 0
    loaded: int = 0
    skipped: list[DatasetError] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.loaded} notes loaded from {self.rows} rows in {len(self.files)} file(s)"
        if self.skipped:
            first = "; ".join(str(e) for e in self.skipped[:3])
            text += f"; {len(self.skipped)} invalid rows skipped (first: {first})"
        return text


def data_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into the note files they hold (sorted, so the order never depends on the filesystem);
    files and saved `datasets` directories are kept as given.

    >>> data_files(["data/notes"])[:2]  # doctest: +SKIP
    [PosixPath('data/notes/en_1.jsonl'), PosixPath('data/notes/en_2.jsonl')]
    """
    files: list[Path] = []
    for item in paths:
        path = Path(bundled_path(item))  # `data/notes` means the clone's bundled notes from anywhere
        if path.is_dir() and not (path / "dataset_info.json").exists():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in NOTE_FORMATS)
            if not found:
                raise DatasetError(path, None, None, f"directory holds no {describe_formats(NOTE_FORMATS)} files")
            files += found
        else:
            files.append(path)
    return files


def parse_label_map(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """`"spam=commercial,ham=genuine"` or a mapping, layered over `DEFAULT_LABEL_MAP`."""
    mapping = dict(DEFAULT_LABEL_MAP)
    if isinstance(spec, str):
        for pair in filter(None, (p.strip() for p in spec.split(","))):
            raw, sep, target = pair.partition("=")
            if not sep:
                raise DatasetError("--label-map", None, None, f"'{pair}' is not RAW=LABEL")
            mapping[raw.strip().lower()] = target.strip()
    elif spec:
        mapping.update({str(k).lower(): v for k, v in spec.items()})
    for raw, target in mapping.items():
        if target not in (*VERDICTS, "commercial"):
            raise DatasetError("--label-map", None, None, f"'{raw}' maps to unknown label '{target}'")
    return mapping


def raw_rows(path: str | Path, columns: ColumnMap) -> Iterator[RawRow]:
    """The rows of one note file (`model.readers`) or of a saved `datasets` directory, numbered from 1."""
    path = Path(bundled_path(path))
    if not path.exists():
        raise DatasetError(path, None, None, "file not found")
    if not path.is_dir():
        yield from iter_rows(path, columns)
        return
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds
        raise DatasetError(path, None, None, f"not a saved dataset directory: {exc}") from exc
    ds = ds["train"] if isinstance(ds, datasets.DatasetDict) else ds
    for number, row in enumerate(ds, start=1):
        yield RawRow(str(path), number, dict(row))


def _plain(value: Any) -> Any:
    """Arrow turns ISO time strings into datetimes; keep them as ISO strings so rows stay JSON-serialisable."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def validate_row(
    row: Mapping[str, Any],
    columns: ColumnMap,
    label_map: Mapping[str, str] | None,
    where: tuple[str, int],
) -> LabelledNote:
    """Turn one raw row into a `LabelledNote`, or raise `DatasetError` naming the field.

    `label_map=None` means labels are not needed (scoring); otherwise the label is required.
    """
    path, number = where
    text = row.get(columns.text)
    if columns.text not in row:
        raise DatasetError(path, number, columns.text, "missing (use --text-column to map another column)")
    if not isinstance(text, str):
        raise DatasetError(path, number, columns.text, f"must be a string, got {type(text).__name__}")
    if not text.strip():
        raise DatasetError(path, number, columns.text, "empty text")
    for column in (columns.text, columns.title):
        value = row.get(column)
        at = lone_surrogate(value) if isinstance(value, str) else None
        if at is not None:
            raise DatasetError(path, number, column, f"not valid Unicode: a lone surrogate at character {at}")
    label = None
    if label_map is not None:
        raw = row.get(columns.label)
        if raw is None:
            raise DatasetError(path, number, columns.label, "missing label (use --label-column)")
        if not isinstance(raw, str | int | bool | float) or isinstance(raw, float) and not raw.is_integer():
            raise DatasetError(path, number, columns.label, f"wrong type {type(raw).__name__}")
        key = str(int(raw) if isinstance(raw, bool | float) else raw).strip().lower()
        label = label_map.get(key)
        if label is None:
            raise DatasetError(path, number, columns.label, f"unknown label '{raw}' (use --label-map RAW=LABEL)")
    fields = {}
    for name in ("id", "title", "author_id", "lang"):
        value = row.get(getattr(columns, name))
        if value is not None and not isinstance(value, str | int):
            raise DatasetError(path, number, getattr(columns, name), f"must be a string, got {type(value).__name__}")
        fields[name] = None if value is None else str(value)
    extra = _extra_fields(row, columns, where)
    note = Note(
        text=text,
        id=fields["id"] or f"{Path(path).name}:{number}",
        title=fields["title"] or "",
        author_id=fields["author_id"],
        lang=fields["lang"],
        metadata=extra,
    )
    return LabelledNote(note=note, label=label, extra=extra)


def _extra_fields(row: Mapping[str, Any], columns: ColumnMap, where: tuple[str, int]) -> dict[str, Any]:
    """The row's fields beyond the note's own: the numeric ones checked, `posted_at` checked against the
    accepted date range (`model.kol.dates`), the rest as they are (dates as ISO strings)."""
    path, number = where
    extra = {}
    for name in NUMERIC_FIELDS:
        value = row.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise DatasetError(path, number, name, f"must be a non-negative number, got {value!r}")
            extra[name] = value
    posted = read_date(row.get("posted_at"))
    problem = None if posted is None else date_problem(posted)
    if problem is not None:
        raise DatasetError(path, number, "posted_at", problem)
    used = {getattr(columns, f) for f in ColumnMap.__dataclass_fields__} | set(NUMERIC_FIELDS)
    extra.update({k: _plain(v) for k, v in row.items() if k not in used and v is not None})
    return extra


def load_notes(
    paths: str | Path | Iterable[str | Path],
    columns: ColumnMap | None = None,
    label_map: str | Mapping[str, str] | None = "",
    require_label: bool = True,
    skip_invalid: bool = False,
) -> tuple[list[LabelledNote], LoadSummary]:
    """Load and validate notes from one or more files.

    >>> notes, summary = load_notes("data/notes/zh_1.jsonl")  # doctest: +SKIP
    >>> summary.describe()  # doctest: +SKIP
    '352 notes loaded from 352 rows in 1 file(s)'
    """
    columns = columns or ColumnMap()
    mapping = parse_label_map(label_map) if require_label else None
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    summary = LoadSummary()
    notes: list[LabelledNote] = []
    for item in items:
        path = Path(item)
        summary.files.append(str(path))
        for row in raw_rows(path, columns):
            summary.rows += 1
            try:
                if row.error is not None:
                    raise row.error
                assert row.data is not None
                notes.append(validate_row(row.data, columns, mapping, (str(path), row.number)))
            except DatasetError as exc:
                if not skip_invalid:
                    raise
                summary.skipped.append(exc)
    summary.loaded = len(notes)
    log.debug(summary.describe())
    return notes, summary
