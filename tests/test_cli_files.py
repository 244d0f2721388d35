"""Every command that reads or writes files: an empty, corrupt or unwritable file ends in one line on stderr
naming it, and exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from notecheck.cli import main


def one_error_line(capsys: pytest.CaptureFixture[str], command: str, progress: bool = False) -> str:
    """The error line on stderr; with `progress`, it may follow progress bars (a model loading, notes scored)."""
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.out + captured.err
    if progress:
        assert all("%|" in line for line in err[:-1]), "\n".join(map(repr, err))
        err = err[-1:]
    assert len(err) == 1 and err[0].startswith(f"notecheck {command}: error: "), err
    return err[0]


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.jsonl"
    rows = [
        {"id": f"n{i}", "author_id": "u1", "text": "went hiking today", "posted_at": "2026-11-05"} for i in range(3)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def corrupt_parquet(path: Path) -> Path:
    """A Parquet file whose footer reads but whose data pages are junk: it fails only once rows are read."""
    table = pa.table({"id": [f"n{i}" for i in range(400)], "text": [f"note number {i} " * 4 for i in range(400)]})
    pq.write_table(table, path, row_group_size=100)
    data = path.read_bytes()
    path.write_bytes(data[:200] + b"\xff" * 2000 + data[2200:])
    return path


def inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Broken input files and what their error line must say."""
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 not really parquet")
    return {
        "empty": (empty, "empty file, not Parquet"),
        "garbage": (garbage, "cannot be read as Parquet"),
        "corrupt": (corrupt_parquet(tmp_path / "corrupt.parquet"), "cannot be read as Parquet after data row"),
    }


def commands(path: Path, tmp_path: Path, model: Path) -> dict[str, list[str]]:
    return {
        "score": ["score", str(path), "-o", str(tmp_path / "out.jsonl"), "--model", str(model)],
        "predict": ["predict", "--file", str(path), "--model", str(model)],
        "kol": ["kol", str(path), "--author", "u1", "--model", str(model)],
        "evaluate": ["evaluate", "--data", str(path), "--model", str(model), "--out", str(tmp_path / "eval")],
    }


@pytest.mark.parametrize("command", ["score", "predict", "kol", "evaluate"])
@pytest.mark.parametrize("kind", ["empty", "garbage", "corrupt"])
def test_an_unreadable_parquet_input_is_one_line(
    tmp_path: Path, tiny_model_dir: Path, command: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, message = inputs(tmp_path)[kind]
    assert main(commands(path, tmp_path, tiny_model_dir)[command]) == 2
    # a file whose footer reads is only found corrupt once its rows are read, after the model loaded
    line = one_error_line(capsys, command, progress=kind == "corrupt")
    assert f"{path}: {message}" in line
    if kind != "corrupt":
        assert not (tmp_path / "out.jsonl.parts").exists()  # scoring refused the input before writing anything


@pytest.mark.parametrize("where", ["directory", "under a file", "under a missing folder under a file"])
def test_an_output_that_cannot_be_written_is_one_line_before_loading_the_model(
    tmp_path: Path, notes: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    output = {
        "directory": tmp_path / "taken.jsonl",
        "under a file": notes / "out.jsonl",
        "under a missing folder under a file": notes / "sub" / "out.jsonl",
    }[where]
    (tmp_path / "taken.jsonl").mkdir()
    missing_model = tmp_path / "no-model"  # the output is refused first, so the model is never looked at
    assert main(["score", str(notes), "-o", str(output), "--model", str(missing_model)]) == 2
    line = one_error_line(capsys, "score")
    assert f"{output}: " in line and ("is a directory" in line or f"{notes} is a file" in line)


def test_a_write_that_fails_late_names_the_output(
    tmp_path: Path,
    notes: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import notecheck.serving.batch.writers as writers

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.os, "replace", full_disk)
    output = tmp_path / "scores.csv"
    assert main(["score", str(notes), "-o", str(output), "--model", str(tiny_model_dir)]) == 2
    line = one_error_line(capsys, "score", progress=True)
    assert "No space left on device" in line
    assert str(output.parent / "scores.csv.parts" / "manifest.json") in line or str(output) in line


def test_a_file_error_no_command_foresaw_is_still_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreadable(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "/srv/notes.jsonl")

    monkeypatch.setattr("notecheck.commands.predict.read_notes", unreadable)
    assert main(["predict", "--file", "/srv/notes.jsonl"]) == 2
    assert one_error_line(capsys, "predict") == "notecheck predict: error: /srv/notes.jsonl: Permission denied"


def test_a_file_without_notes_is_refused_by_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "none.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), path)
    assert main(["predict", "--file", str(path), "--model", str(tmp_path / "unused")]) == 2
    assert f"--file {path}: no notes in it" in one_error_line(capsys, "predict")
