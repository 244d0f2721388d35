"""A wrong model directory is named by the file at fault, what is wrong with it and what to do, in one line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.errors import ModelLoadError, NotecheckError
from notecheck.model.metadata import FIX
from notecheck.model.model_dir import inspect_model_dir


def edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        config = json.loads((model / "config.json").read_text(encoding="utf-8"))
        config.update(changes)
        (model / "config.json").write_text(json.dumps(config), encoding="utf-8")

    return edit


THREE = {"0": "genuine", "1": "commercial", "2": "other"}
BREAKAGES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (how the copy is broken, the file named, what the message says)
    "no tokenizer": (lambda m: (m / "tokenizer.json").unlink(), "tokenizer.json", "missing (the tokenizer"),
    "three labels": (
        edit_config(id2label=THREE, label2id={v: int(k) for k, v in THREE.items()}),
        "config.json",
        "id2label has 3 labels (genuine, commercial, other); a notecheck classifier has 2",
    ),
    "swapped labels": (
        edit_config(id2label={"0": "commercial", "1": "genuine"}),
        "config.json",
        "id2label has 2 labels (commercial, genuine)",
    ),
    "no labels": (edit_config(id2label=None), "config.json", "no id2label"),
    "broken config": (
        lambda m: (m / "config.json").write_text("{not json", encoding="utf-8"),
        "config.json",
        "not valid JSON",
    ),
    "config not an object": (
        lambda m: (m / "config.json").write_text("[1, 2]", encoding="utf-8"),
        "config.json",
        "not a JSON object",
    ),
    "no config": (lambda m: (m / "config.json").unlink(), "config.json", "missing"),
    "no weights": (lambda m: (m / "model.safetensors").unlink(), "model.safetensors", "missing"),
    "broken metadata": (
        lambda m: (m / "notecheck.json").write_text("{", encoding="utf-8"),
        "notecheck.json",
        "corrupt metadata",
    ),
}


@pytest.fixture(params=list(BREAKAGES))
def broken(request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """A copy of the tiny model broken one way; (its directory, the file at fault, the message)."""
    breakage, victim, message = BREAKAGES[request.param]
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    breakage(model)
    return model, victim, message


def test_each_breakage_names_the_directory_the_file_and_the_fix(broken: tuple[Path, str, str]) -> None:
    model, victim, message = broken
    with pytest.raises(ModelLoadError) as info:
        Classifier.from_pretrained(model)
    error = info.value
    assert isinstance(error, NotecheckError) and error.path == str(model / victim)
    assert message in error.reason and FIX in error.reason and "\n" not in str(error)
    with pytest.raises(ModelLoadError) as cheap:  # the same, without reading weights or building a tokenizer
        inspect_model_dir(model)
    assert str(cheap.value) == str(error)


def test_the_cli_says_it_in_one_line(broken: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    model, victim, message = broken
    assert main(["predict", "a note", "--model", str(model)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in captured.err
    assert err[0].startswith(f"notecheck predict: error: {model / victim}: ") and message in err[0]


def test_a_corrupt_tokenizer_is_blamed_on_the_tokenizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (model / "tokenizer.json").write_text('{"version": "1.0", "model": 3}', encoding="utf-8")
    inspect_model_dir(model)  # present and small files fine: only loading finds out
    with pytest.raises(ModelLoadError) as info:
        Classifier.from_pretrained(model)
    assert info.value.path == str(model / "tokenizer.json") and "tokenizer does not load" in info.value.reason
    assert "\n" not in str(info.value) and FIX in str(info.value)


def test_a_file_where_the_directory_should_be(tmp_path: Path) -> None:
    (tmp_path / "model").write_text("x", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not a directory"):
        inspect_model_dir(tmp_path / "model")
    with pytest.raises(ModelLoadError, match="model directory not found"):
        inspect_model_dir(tmp_path / "nope")


def test_a_whole_model_passes(tiny_model_dir: Path) -> None:
    assert inspect_model_dir(tiny_model_dir).version == "tiny-0"
