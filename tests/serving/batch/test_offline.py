"""Offline batch scoring: every format round-trips, reading streams in bounded chunks, and a run killed at any
point (a real SIGKILL included) resumes to exactly one result per input row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
from scoring_support import assert_same_scores, note_rows, read_results, write_notes

from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.loader import load_notes
from notecheck.model.readers import ColumnMap, iter_chunks, iter_rows
from notecheck.serving.batch.offline import ResumeError, parts_dir_for, score_files

FORMATS = ["jsonl", "csv", "parquet"]


@pytest.mark.parametrize("out_fmt", FORMATS)
@pytest.mark.parametrize("in_fmt", FORMATS)
def test_round_trip_matches_predict(tmp_path: Path, tiny_classifier: Classifier, in_fmt: str, out_fmt: str) -> None:
    source = write_notes(tmp_path / f"notes.{in_fmt}", note_rows(23, missing_id_every=5))
    output = tmp_path / f"scores.{out_fmt}"
    summary = score_files([source], output, tiny_classifier, ColumnMap(), chunk_size=100, progress=False)
    got = read_results(output)
    notes = [n.note for n in load_notes(source, require_label=False)[0]]
    want = tiny_classifier.predict(notes)  # one chunk holds every note: the very same predict call
    assert summary.rows == len(got) == len(notes) == 23 and summary.scored == 23
    assert [r["id"] for r in got] == [n.id for n in notes]
    assert got[4]["id"] == f"notes.{in_fmt}:5"  # no id: file:row, as the loader names it
    assert [r["row"] for r in got] == list(range(1, 24))
    for record, p in zip(got, want, strict=True):
        assert record["p_commercial"] == round(p.p_commercial, 6)
        assert (record["verdict"], record["action"]) == (p.verdict, p.action)
        assert (record["truncated"], record["n_tokens"]) == (p.truncated, p.n_tokens)
        assert record["disclosure_rating"] == p.disclosure.rating
        assert json.loads(record["disclosure_markers"]) == [m.to_dict() for m in p.disclosure.markers]
        assert record["model_version"] == "tiny-0" and record["error"] is None
        assert record["input_file"] == str(source)
    assert {r["disclosure_rating"] for r in got} >= {"clear", "none"}
    assert not parts_dir_for(output).exists()


def test_small_chunks_score_like_one_chunk(tmp_path: Path, tiny_classifier: Classifier) -> None:
    sources = [write_notes(tmp_path / "a.jsonl", note_rows(13)), write_notes(tmp_path / "b.parquet", note_rows(9))]
    one = score_files(sources, tmp_path / "one.jsonl", tiny_classifier, ColumnMap(), chunk_size=1000, progress=False)
    many = score_files(sources, tmp_path / "many.jsonl", tiny_classifier, ColumnMap(), chunk_size=4, progress=False)
    assert one.rows == many.rows == 22
    got, want = read_results(tmp_path / "many.jsonl"), read_results(tmp_path / "one.jsonl")
    assert_same_scores(got, want, tol=1e-5)
    assert [r["input_file"] for r in got] == [str(sources[0])] * 13 + [str(sources[1])] * 9


@pytest.mark.parametrize("fmt", FORMATS)
def test_chunks_never_exceed_chunk_size(tmp_path: Path, fmt: str) -> None:
    paths = [write_notes(tmp_path / f"{name}.{fmt}", note_rows(n, prefix=name)) for name, n in (("a", 17), ("b", 6))]
    chunks = list(iter_chunks(paths, ColumnMap(), chunk_size=7))
    assert [len(c.rows) for c in chunks] == [7, 7, 7, 2]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    ids = [r.data["id"] for c in chunks for r in c.rows if r.data]
    assert ids == [f"a{i}" for i in range(17)] + [f"b{i}" for i in range(6)]
    assert {r.path for r in chunks[2].rows} == {str(paths[0]), str(paths[1])}  # a chunk may span files


@pytest.mark.parametrize("fmt", FORMATS)
def test_reading_memory_is_bounded_by_the_chunk(tmp_path: Path, fmt: str) -> None:
    """Streaming through a file costs a small fraction of what holding all its rows does."""
    rows = [{"id": f"m{i}", "text": f"{'长文本' * 60} {i}", "title": "t"} for i in range(6000)]
    path = write_notes(tmp_path / f"big.{fmt}", rows, row_group_size=500)
    tracemalloc.start()
    try:
        held = list(iter_rows(path, ColumnMap()))
        _, whole = tracemalloc.get_traced_memory()
        del held
        tracemalloc.reset_peak()
        count = sum(len(chunk.rows) for chunk in iter_chunks([path], ColumnMap(), chunk_size=100))
        _, streamed = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 6000
    assert streamed < whole / 8, (streamed, whole)


def test_invalid_row_stops_naming_file_row_and_field(tmp_path: Path, tiny_classifier: Classifier) -> None:
    rows = note_rows(6)
    rows[4]["text"] = "   "
    source = write_notes(tmp_path / "bad.jsonl", rows)
    output = tmp_path / "out.parquet"
    with pytest.raises(DatasetError) as err:
        score_files([source], output, tiny_classifier, ColumnMap(), chunk_size=2, progress=False)
    assert (err.value.path, err.value.line, err.value.field) == (str(source), 5, "text")
    assert not output.exists()
    assert len(list(parts_dir_for(output).glob("part-*.parquet"))) == 2  # kept: a rerun with skip resumes
    summary = score_files(
        [source], output, tiny_classifier, ColumnMap(), chunk_size=2, progress=False, skip_invalid=True
    )
    assert summary.resumed == 4 and summary.invalid == 1 and summary.rows == 6


def test_skip_invalid_keeps_one_row_per_input_row(tmp_path: Path, tiny_classifier: Classifier) -> None:
    source = tmp_path / "mixed.jsonl"
    lines = ['{"id": "ok1", "text": "周末带狗狗去公园"}', "{not json", "", '{"id": "e2", "text": ""}', '{"text": 5}']
    source.write_text("\n".join([*lines, '{"id": "ok2", "text": "Use my code ANNA15"}']) + "\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    summary = score_files(
        [source], output, tiny_classifier, ColumnMap(), chunk_size=2, progress=False, skip_invalid=True
    )
    got = read_results(output)
    assert [(r["row"], r["id"]) for r in got] == [(1, "ok1"), (2, "mixed.jsonl:2"), (4, "e2"), (5, "mixed.jsonl:5"),
                                                  (6, "ok2")]  # fmt: skip
    assert summary.invalid == 3 and summary.rows == 5
    assert [r["error"] is None for r in got] == [True, False, False, False, True]
    assert "mixed.jsonl:2" in got[1]["error"] and "invalid JSON" in got[1]["error"]
    assert "field 'text'" in got[2]["error"] and "empty" in got[2]["error"]
    assert got[3]["verdict"] is None and got[3]["p_commercial"] is None and got[4]["verdict"] is not None


class CrashingClassifier(Classifier):
    """The tiny classifier, dying after `survive` predict calls: a crash between two chunks."""

    def __init__(self, inner: Classifier, survive: int) -> None:
        super().__init__(inner.scorer, inner.metadata)
        self.left = survive

    def predict(self, notes):  # noqa: ANN001, ANN201
        if self.left == 0:
            raise RuntimeError("simulated crash")
        self.left -= 1
        return super().predict(notes)


def test_rerun_after_crash_resumes_without_loss_or_duplicates(tmp_path: Path, tiny_classifier: Classifier) -> None:
    source = write_notes(tmp_path / "notes.parquet", note_rows(50))
    reference, output = tmp_path / "ref.jsonl", tmp_path / "out.jsonl"
    score_files([source], reference, tiny_classifier, ColumnMap(), chunk_size=8, progress=False)
    with pytest.raises(RuntimeError, match="simulated"):
        score_files([source], output, CrashingClassifier(tiny_classifier, 3), ColumnMap(), chunk_size=8, progress=False)
    parts = parts_dir_for(output)
    (parts / ".part-000003.parquet.tmp-999").write_bytes(b"half a part")  # killed while writing a part
    summary = score_files([source], output, tiny_classifier, ColumnMap(), chunk_size=8, progress=False)
    assert (summary.resumed, summary.scored, summary.rows) == (24, 26, 50)
    assert read_results(output) == read_results(reference)
    assert not parts.exists()
    again = score_files([source], output, tiny_classifier, ColumnMap(), chunk_size=8, progress=False)
    assert again.resumed == 0 and read_results(output) == read_results(reference)  # a finished run reruns whole


def test_rerun_with_other_model_inputs_or_chunking_is_refused(
    tmp_path: Path, tiny_classifier: Classifier, tiny_model_dir: Path
) -> None:
    source = write_notes(tmp_path / "notes.jsonl", note_rows(20))
    output = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        score_files([source], output, CrashingClassifier(tiny_classifier, 1), ColumnMap(), chunk_size=5, progress=False)
    other = Classifier.from_pretrained(tiny_model_dir)
    other.metadata.version = "tiny-1"
    with pytest.raises(ResumeError, match="model_version.*--restart"):
        score_files([source], output, other, ColumnMap(), chunk_size=5, progress=False)
    with pytest.raises(ResumeError, match="chunk_size"):
        score_files([source], output, tiny_classifier, ColumnMap(), chunk_size=6, progress=False)
    extra = write_notes(tmp_path / "more.jsonl", note_rows(3))
    with pytest.raises(ResumeError, match="inputs"):
        score_files([source, extra], output, tiny_classifier, ColumnMap(), chunk_size=5, progress=False)
    write_notes(source, note_rows(21))  # the same file, changed
    with pytest.raises(ResumeError, match="inputs"):
        score_files([source], output, tiny_classifier, ColumnMap(), chunk_size=5, progress=False)
    summary = score_files([source], output, other, ColumnMap(), chunk_size=5, progress=False, restart=True)
    assert summary.resumed == 0 and summary.rows == 21
    assert {r["model_version"] for r in read_results(output)} == {"tiny-1"}


def test_cli_prints_summary_and_turns_errors_into_exit_2(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_notes(tmp_path / "notes.csv", note_rows(5))
    output = tmp_path / "out.jsonl"
    assert main(["score", str(source), "-o", str(output), "--model", str(tiny_model_dir), "--chunk-size", "2"]) == 0
    assert "5 rows scored at" in capsys.readouterr().out and len(read_results(output)) == 5
    assert main(["score", str(source), "-o", str(tmp_path / "out.xlsx"), "--model", str(tiny_model_dir)]) == 2
    assert "unknown format '.xlsx'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="also an input"):
        score_files([source], source, Classifier.from_pretrained(tiny_model_dir), ColumnMap(), progress=False)


def test_sigkilled_score_command_resumes_exactly(
    tmp_path: Path, tiny_classifier: Classifier, tiny_model_dir: Path
) -> None:
    """A real `notecheck score` process is SIGKILLed mid-run; the rerun loses and duplicates nothing."""
    n, chunk = 2000, 8
    source = write_notes(tmp_path / "notes.jsonl", note_rows(n, prefix="k"))
    output = tmp_path / "scores.parquet"
    command = [sys.executable, "-m", "notecheck", "score", str(source), "-o", str(output), "--model",
               str(tiny_model_dir), "--chunk-size", str(chunk), "--runtime", "fp32"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # steady speed on a busy machine
    with (tmp_path / "first.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=tmp_path)
        parts = parts_dir_for(output)
        deadline = time.monotonic() + 120
        while len(list(parts.glob("part-*.parquet"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, (tmp_path / "first.log").read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    written = len(list(parts.glob("part-*.parquet")))
    assert not output.exists() and 3 <= written < n // chunk

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{n} rows scored" in rerun.stdout and "resumed from an interrupted run" in rerun.stdout
    got = read_results(output)
    assert [r["id"] for r in got] == [f"k{i}" for i in range(n)]  # each id once, in order
    reference, threads = tmp_path / "reference.parquet", torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocess; also far faster than contended threads on a busy machine
    try:
        score_files([source], reference, tiny_classifier, ColumnMap(), chunk_size=chunk, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert_same_scores(got, read_results(reference))
    assert not parts.exists()
