"""`notecheck quantize`: an int8 copy for OpenVINO, calibrated on training notes, written only when validation
macro-F1 holds; the copy loads under every runtime and the openvino runtime runs its int8 model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import notecheck.training.quantize as quantize_module
from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.openvino_runtime import INT8_FILE, load_engine

TEXTS = ["Loved this serum, link in bio!", "周末去了新开的咖啡店，拿铁很好喝～", "DM me for the code 私信"]


@pytest.fixture(scope="module")
def quantized(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("q")
    source = Path(shutil.copytree(tiny_model_dir, root / "source"))
    (source / "README.md").write_text("# model card of the unquantized model\n", encoding="utf-8")
    (source / "eval").mkdir()
    (source / "eval" / "report.json").write_text("{}", encoding="utf-8")
    out = root / "int8"
    args = ["quantize", "--model", str(source), "--out", str(out), "--calibration-notes", "16"]
    assert main([*args, "--max-drop", "1"]) == 0  # a random tiny model: only the mechanics are checked here
    return out


def test_the_copy_records_its_calibration_and_validation(quantized: Path, tiny_model_dir: Path) -> None:
    meta = json.loads((quantized / "notecheck.json").read_text(encoding="utf-8"))
    record = meta["quantized"]
    assert meta["version"] == "tiny-0-int8" and record["source_version"] == "tiny-0"
    assert record["calibration_notes"] == 16 and record["validation_notes"] > 100
    assert record["quantized_matmuls"] > 0 and record["float_matmuls"] == 2  # one down-projection per layer
    assert 0 <= record["verdicts_agree"] <= 1
    xml = (quantized / INT8_FILE).read_text(encoding="utf-8")
    assert "FakeQuantize" in xml or 'element_type="i8"' in xml or 'element_type="u8"' in xml
    assert (quantized / "model.safetensors").read_bytes() == (tiny_model_dir / "model.safetensors").read_bytes()
    assert not (quantized / "README.md").exists() and not (quantized / "eval").exists()  # they describe the source


def test_openvino_runs_the_int8_model_and_torch_the_weights(quantized: Path, tiny_model_dir: Path) -> None:
    _, how = load_engine(quantized)
    assert how == "quantized int8"
    int8 = Classifier.from_pretrained(quantized, runtime="auto").scores(TEXTS).logits
    fp32 = Classifier.from_pretrained(tiny_model_dir, runtime="fp32").scores(TEXTS).logits
    np.testing.assert_allclose(int8, fp32, atol=0.1)  # int8 rounding on a tiny random model
    same = Classifier.from_pretrained(quantized, runtime="fp32").scores(TEXTS).logits
    np.testing.assert_array_equal(same, fp32)


def test_nothing_is_written_when_validation_drops_too_far(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(quantize_module, "_validation_check", lambda *a: ({"fp32": 0.90, "int8": 0.88}, 0.97))
    out = tmp_path / "int8"
    args = ["quantize", "--model", str(tiny_model_dir), "--out", str(out), "--calibration-notes", "4"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0.0200 below fp32" in err[0]
    assert not out.exists() and not list(tmp_path.glob(".int8*"))


def test_a_copy_that_cannot_be_written_leaves_nothing_behind(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import openvino as ov

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ov, "save_model", disk_full)
    out = tmp_path / "int8"
    args = ["quantize", "--model", str(tiny_model_dir), "--out", str(out), "--calibration-notes", "4"]
    assert main([*args, "--max-drop", "1"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_an_existing_output_and_a_quantized_source(quantized: Path, tmp_path: Path) -> None:
    assert main(["quantize", "--model", str(quantized), "--out", str(tmp_path / "again")]) == 2
    assert main(["quantize", "--model", str(quantized), "--out", str(quantized)]) == 2


def test_a_saved_copy_keeps_its_int8_model_or_drops_the_record(quantized: Path, tmp_path: Path) -> None:
    kept = Classifier.from_pretrained(quantized, runtime="openvino").save_pretrained(tmp_path / "kept")
    assert (kept / INT8_FILE).read_bytes() == (quantized / INT8_FILE).read_bytes()
    assert load_engine(kept)[1] == "quantized int8"
    assert Classifier.from_pretrained(kept).metadata.quantized["source_version"] == "tiny-0"
    # saved through a runtime that never read the int8 model: the record no longer names a file it has
    plain = Classifier.from_pretrained(quantized, runtime="fp32").save_pretrained(tmp_path / "plain")
    assert not (plain / INT8_FILE).exists() and Classifier.from_pretrained(plain).metadata.quantized == {}
