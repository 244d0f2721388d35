"""The model registry: versions arrive whole, `current` switches atomically, rollback walks back."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from notecheck.model.errors import ModelLoadError
from notecheck.model.metadata import METADATA_FILE, ModelMetadata
from notecheck.training.registry import CURRENT, HISTORY, Registry, RegistryError


def _model(tmp_path: Path, version: str, created_at: str = "") -> Path:
    """A stand-in model directory: metadata plus a weights file."""
    directory = tmp_path / "src" / version
    directory.mkdir(parents=True)
    ModelMetadata(version=version, backend="tfidf", created_at=created_at).save(directory)
    (directory / "weights.bin").write_bytes(b"w" * 1000)
    return directory


@pytest.fixture()
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry")
    for i, version in enumerate(("v1", "v2", "v3")):
        reg.add(_model(tmp_path, version, created_at=f"2025-01-0{i + 1}T00:00:00+00:00"), version)
    return reg


def _complete(path: Path | None) -> bool:
    return path is not None and (path / METADATA_FILE).is_file() and (path / "weights.bin").stat().st_size == 1000


def test_add_copies_or_moves_a_whole_model_in(tmp_path: Path, registry: Registry) -> None:
    assert registry.versions() == ["v1", "v2", "v3"]
    assert registry.current() is None  # nothing promoted yet
    assert _complete(registry.path("v2"))
    assert (tmp_path / "src" / "v2").is_dir()  # copied by default
    moved = _model(tmp_path, "v4")
    registry.add(moved, "v4", move=True)
    assert not moved.exists() and _complete(registry.path("v4"))
    assert ModelMetadata.load(registry.path("v4")).version == "v4"


def test_add_refuses_duplicates_non_models_and_bad_names(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(RegistryError, match="already exists"):
        registry.add(_model(tmp_path, "again"), "v1")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="notecheck.json"):
        registry.add(empty, "v9")
    for i, bad in enumerate(("", ".hidden", "a/b", "..", CURRENT, HISTORY, "x.partial")):
        with pytest.raises(RegistryError):
            registry.add(_model(tmp_path, f"ok{i}"), bad)
    assert registry.versions() == ["v1", "v2", "v3"]


def test_failed_copy_leaves_no_version_behind(tmp_path: Path, registry: Registry, monkeypatch) -> None:  # noqa: ANN001
    def broken_copy(src: Path, dst: Path, **_: object) -> None:
        Path(dst).mkdir()
        (Path(dst) / METADATA_FILE).write_text("{}", encoding="utf-8")  # half-written
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copytree", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        registry.add(_model(tmp_path, "v5"), "v5")
    assert registry.versions() == ["v1", "v2", "v3"]
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".incoming")]


def test_promote_and_rollback_walk_the_history(registry: Registry) -> None:
    for version in ("v1", "v2", "v3"):
        registry.promote(version, f"because {version}")
    assert registry.current() == registry.root / "v3" and registry.current_version() == "v3"
    assert (registry.root / CURRENT).is_symlink() and os.readlink(registry.root / CURRENT) == "v3"
    assert registry.rollback() == "v2"
    assert registry.rollback() == "v1"  # a second rollback goes further back, not forth again
    assert registry.current_version() == "v1"
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()
    history = [json.loads(line) for line in (registry.root / HISTORY).read_text().splitlines()]
    assert [(h["version"], h["previous"], h["action"]) for h in history] == [
        ("v1", None, "promote"),
        ("v2", "v1", "promote"),
        ("v3", "v2", "promote"),
        ("v2", "v3", "rollback"),
        ("v1", "v2", "rollback"),
    ]
    assert history[1]["reason"] == "because v2" and all(h["promoted_at"] for h in history)


def test_rollback_with_one_promoted_version_errors(registry: Registry) -> None:
    with pytest.raises(RegistryError):
        registry.rollback()
    registry.promote("v1", "first")
    with pytest.raises(RegistryError, match="only 1"):
        registry.rollback()
    assert registry.current_version() == "v1"


def test_promote_refuses_unknown_current_and_stale_expectations(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="not in the registry"):
        registry.promote("v7", "typo")
    registry.promote("v1", "first")
    with pytest.raises(RegistryError, match="already current"):
        registry.promote("v1", "again")
    with pytest.raises(RegistryError, match="meanwhile"):
        registry.promote("v3", "gated against v2", expected_current="v2")
    registry.promote("v3", "gated against v1", expected_current="v1")
    assert registry.current_version() == "v3"
    assert registry.versions() == ["v1", "v2", "v3"]  # the pointer and the log are not versions


def test_failed_switch_keeps_the_old_pointer_and_log(registry: Registry, monkeypatch) -> None:  # noqa: ANN001
    registry.promote("v1", "first")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("read-only filesystem")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        registry.promote("v2", "second")
    assert registry.current_version() == "v1"
    assert registry.promoted() == ["v1"]
    assert not [p for p in registry.root.iterdir() if p.name.startswith(f".{CURRENT}")]


def test_current_always_resolves_to_a_complete_directory(registry: Registry, monkeypatch) -> None:  # noqa: ANN001
    """A reader polling `current` while versions are switched back and forth never sees a gap, and the
    pointer is never deleted (only replaced), so there is no window in which it is missing."""
    registry.promote("v1", "first")
    removed: list[str] = []
    real_unlink = os.unlink

    def spy_unlink(path: object, *args: object, **kwargs: object) -> None:
        removed.append(Path(str(path)).name)
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", spy_unlink)
    monkeypatch.setattr(os, "remove", spy_unlink)
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        link = registry.root / CURRENT
        while not stop.is_set():
            if not (link / METADATA_FILE).is_file() or not _complete(registry.current()):
                failures.append("current did not resolve")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(150):
            registry.promote(("v2", "v3", "v1")[i % 3], "flip")
    finally:
        stop.set()
        reader.join()
    assert not failures
    assert CURRENT not in removed
    assert len(registry.history()) == 151
