"""The Ray Data job on a local two-CPU instance: the same rows and scores as the plain path, bad rows named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray
from scoring_support import assert_same_scores, note_rows, read_results, write_notes

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.readers import ColumnMap
from notecheck.serving.batch.offline import score_files
from notecheck.serving.batch.ray_job import score_with_ray, work_units


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One small local instance for the module (starting Ray is most of the cost)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def sort_key(record: dict) -> tuple[str, int]:
    return record["input_file"], record["row"]


def test_work_units_number_row_groups_from_their_first_row(tmp_path: Path) -> None:
    parquet = write_notes(tmp_path / "a.parquet", note_rows(10), row_group_size=4)
    jsonl = write_notes(tmp_path / "b.jsonl", note_rows(3))
    units = work_units([str(parquet), str(jsonl)])
    assert [(u["row_group"], u["first_row"]) for u in units] == [(0, 0), (1, 4), (2, 8), (-1, 0)]
    with pytest.raises(DatasetError, match="file not found"):
        work_units([str(tmp_path / "missing.parquet")])


@pytest.mark.slow  # starting Ray and its actors takes 10-40 s, by how busy the machine is
def test_ray_scores_like_the_plain_path(
    tmp_path: Path, local_ray: None, tiny_model_dir: Path, tiny_classifier: Classifier
) -> None:
    rows = note_rows(40, missing_id_every=7)
    rows[30]["text"] = ""
    parquet = write_notes(tmp_path / "a.parquet", rows, row_group_size=16)
    jsonl = write_notes(tmp_path / "b.jsonl", note_rows(9, prefix="j"))
    inputs = [str(parquet), str(jsonl)]
    output = tmp_path / "ray_out"
    output.mkdir()
    (output / "stale.parquet").write_bytes(b"an older run")  # replaced, not appended to
    summary = score_with_ray(
        inputs, str(output), str(tiny_model_dir), ColumnMap(), num_actors=2, batch_size=8, skip_invalid=True
    )
    plain = tmp_path / "plain.parquet"
    score_files(
        [Path(p) for p in inputs], plain, tiny_classifier, ColumnMap(), chunk_size=8, progress=False, skip_invalid=True
    )

    got, want = sorted(read_results(output), key=sort_key), read_results(plain)
    assert summary.rows == len(got) == 49 and summary.invalid == 1 and summary.model_version == "tiny-0"
    assert got[30]["error"] is not None and "a.parquet:31" in got[30]["error"]
    assert pq.read_schema(next(output.glob("*.parquet"))).names == pq.read_schema(plain).names
    assert [r["input_file"] for r in got] == [r["input_file"] for r in want]
    assert_same_scores(got, want)
    assert got[6]["id"] == "a.parquet:7"  # numbered within its file, across row groups
    assert not (output / "stale.parquet").exists()


@pytest.mark.slow
def test_ray_bad_row_is_one_dataset_error(tmp_path: Path, local_ray: None, tiny_model_dir: Path) -> None:
    rows = note_rows(12)
    rows[9]["text"] = None
    source = write_notes(tmp_path / "bad.parquet", rows, row_group_size=5)
    with pytest.raises(DatasetError) as err:
        score_with_ray([str(source)], str(tmp_path / "out"), str(tiny_model_dir), ColumnMap(), num_actors=1)
    assert (err.value.path, err.value.line, err.value.field) == (str(source), 10, "text")
    assert not (tmp_path / "out").exists()


def test_ray_refuses_text_outputs(tmp_path: Path, tiny_model_dir: Path) -> None:
    source = write_notes(tmp_path / "a.parquet", note_rows(2))
    with pytest.raises(ConfigError, match="Parquet directory"):
        score_with_ray([str(source)], str(tmp_path / "out.csv"), str(tiny_model_dir), ColumnMap())
