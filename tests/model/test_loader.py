"""The note loader: every format round-trips, every bad input names file, row and field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from notecheck.model.errors import DatasetError
from notecheck.model.loader import load_notes, parse_label_map
from notecheck.model.readers import ColumnMap

ROWS = [
    {"id": "a1", "text": "新买的面霜用了一周", "label": "genuine", "author_id": "u1", "lang": "zh", "likes": 3},
    {"id": "a2", "text": "Use my code ANNA15!", "label": "undisclosed_ad", "author_id": "u2", "lang": "en"},
    {"id": "a3", "text": "广告｜本篇由品牌赞助", "label": "disclosed_ad", "author_id": "u1", "lang": "zh"},
]


def write(path: Path, rows: list[dict], fmt: str) -> Path:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif fmt == "parquet":
        pd.DataFrame(rows).to_parquet(path, index=False)
    elif fmt == "dataset":
        import datasets

        datasets.Dataset.from_pandas(pd.DataFrame(rows)).save_to_disk(str(path))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "dataset"])
def test_round_trip_every_format(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path / f"notes.{fmt}", ROWS, fmt)
    notes, summary = load_notes(path)
    assert [n.note.id for n in notes] == ["a1", "a2", "a3"]
    assert [n.note.text for n in notes] == [r["text"] for r in ROWS]
    assert [n.label for n in notes] == ["genuine", "undisclosed_ad", "disclosed_ad"]
    assert notes[0].note.author_id == "u1" and notes[1].note.lang == "en"
    assert summary.loaded == 3 and not summary.skipped


def test_column_and_binary_label_mapping(tmp_path: Path) -> None:
    rows = [
        {"content": "Paid partnership with Glow", "sponsored": True, "post": 7},
        {"content": "my cat knocked over my coffee", "sponsored": False, "post": 8},
        {"content": "Link in bio for 20% off", "sponsored": 1, "post": 9},
    ]
    path = write(tmp_path / "bin.jsonl", rows[:2], "jsonl")
    cols = ColumnMap(text="content", label="sponsored", id="post")
    notes, _ = load_notes(path, columns=cols)
    assert [(n.note.id, n.label) for n in notes] == [("7", "commercial"), ("8", "genuine")]
    path = write(tmp_path / "custom.csv", [{"t": "x y", "y": "spam"}, {"t": "z", "y": "ham"}], "csv")
    notes, _ = load_notes(path, columns=ColumnMap(text="t", label="y"), label_map="spam=commercial,ham=genuine")
    assert [n.label for n in notes] == ["commercial", "genuine"]


def test_unlabelled_load_for_scoring(tmp_path: Path) -> None:
    path = write(tmp_path / "n.jsonl", [{"text": "hello"}], "jsonl")
    notes, _ = load_notes(path, require_label=False)
    assert notes[0].label is None and notes[0].note.id == "n.jsonl:1"


@pytest.mark.parametrize(
    ("lines", "line", "field", "reason"),
    [
        (['{"text": "ok", "label": "genuine"}', '{"text": "  ", "label": "genuine"}'], 2, "text", "empty"),
        (['{"text": "ok", "label": "spam"}'], 1, "label", "unknown label"),
        (['{"text": "ok", "label": "genuine"}', '{"text": 5, "label": "genuine"}'], 2, "text", "string"),
        (['{"text": "ok"}'], 1, "label", "missing"),
        (['{"text": "ok", "label": "genuine"}', "", '{"text": "ok", "label": [1]}'], 3, "label", "wrong type"),
        (['{"text": "ok", "label": "genuine"}', '{"text": "ok", "label": "genuine"'], 2, None, "invalid JSON"),
        (['{"body": "ok", "label": "genuine"}'], 1, "text", "--text-column"),
        (['{"text": "ok", "label": "genuine", "likes": -3}'], 1, "likes", "non-negative"),
    ],
)
def test_bad_rows_name_file_line_and_field(
    tmp_path: Path, lines: list[str], line: int, field: str | None, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_notes(path)
    err = info.value
    assert (err.line, err.field) == (line, field)
    assert reason in err.reason and f"bad.jsonl:{line}" in str(err)


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"text": "ok", "label": "genuine"}\n{"text": "\xff\xfe", "label": "genuine"}\n')
    with pytest.raises(DatasetError, match="bytes.jsonl:2.*UTF-8"):
        load_notes(path)


def test_skip_invalid_counts_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"text": "one", "label": "genuine"}\n{"text": "", "label": "genuine"}\n'
        b'{"text": "\xff", "label": "genuine"}\nnot json\n{"text": "five", "label": "ad"}\n'
    )
    notes, summary = load_notes(path, skip_invalid=True)
    assert [n.note.text for n in notes] == ["one", "five"]
    assert summary.rows == 5 and summary.loaded == 2
    assert sorted(e.line for e in summary.skipped) == [2, 3, 4]
    assert "3 invalid rows skipped" in summary.describe()


def test_csv_bad_row_is_numbered(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", [{"text": "fine", "label": "genuine"}, {"text": "ok", "label": "maybe"}], "csv")
    with pytest.raises(DatasetError, match=r"x.csv:2: field 'label'"):
        load_notes(path)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_notes(tmp_path / "nope.jsonl")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="unknown format"):
        load_notes(tmp_path / "notes.txt")


def test_label_map_rejects_unknown_target() -> None:
    with pytest.raises(DatasetError, match="unknown label"):
        parse_label_map("spam=junk")


def test_time_fields_stay_json_strings(tmp_path: Path) -> None:
    rows = [{"id": "d1", "text": "moderator said ad", "label": "ad", "decided_at": "2025-06-01T10:00:00+08:00"}]
    notes, _ = load_notes(write(tmp_path / "decisions.jsonl", rows, "jsonl"))
    decided = notes[0].extra["decided_at"]
    assert isinstance(decided, str) and decided.startswith("2025-06-01")
    json.dumps(notes[0].extra)


def test_dataset_error_survives_pickling() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(DatasetError("a.jsonl", 3, "text", "empty text")))
    assert (err.path, err.line, err.field, err.reason) == ("a.jsonl", 3, "text", "empty text")
    assert str(err) == "a.jsonl:3: field 'text' empty text"


def test_a_lone_surrogate_is_an_invalid_row_naming_its_field(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    rows = [{"id": "a", "text": "fine", "label": "genuine"}, {"id": "b", "text": "bad \ud800", "label": "genuine"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"notes.jsonl.*2.*text.*lone surrogate at character 4"):
        load_notes(path)
    notes, summary = load_notes(path, skip_invalid=True)
    assert [n.note.id for n in notes] == ["a"] and len(summary.skipped) == 1
