"""The bundled default config finds the clone's data from any working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from notecheck.model.paths import REPO_ROOT, bundled_path
from notecheck.training.config import TrainConfig


def test_the_default_config_reads_the_clones_data_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = TrainConfig.load(None)
    assert config.data == [str(REPO_ROOT / "data" / "notes")] and Path(config.data[0]).is_dir()
    assert config.split_file == str(REPO_ROOT / "data" / "splits.json")
    assert config.out == "runs/default"  # outputs stay in the user's working directory


def test_a_local_path_wins_and_unknown_paths_are_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "notes").mkdir(parents=True)
    assert bundled_path("data/notes") == "data/notes"
    assert bundled_path("nowhere/notes.jsonl") == "nowhere/notes.jsonl"
    given = TrainConfig.load(None, data=["mine.jsonl"])
    assert given.data == ["mine.jsonl"]


def test_readme_paths_work_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from notecheck.model.loader import data_files, load_notes

    monkeypatch.chdir(tmp_path)
    files = data_files(["data/notes"])
    assert files and all(f.is_file() and str(f).startswith(str(REPO_ROOT)) for f in files)
    samples, _ = load_notes("data/samples.jsonl", require_label=False)
    assert len(samples) >= 10
