"""The openvino runtime: the tiny model converted once, cached, scoring like torch; `auto` picks it."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import notecheck.model.openvino_runtime as ovr
import notecheck.model.scorer as scorer_module
from notecheck.model.classifier import Classifier
from notecheck.model.errors import ModelLoadError
from notecheck.model.scorer import TransformerScorer

TEXTS = ["今天去了新开的咖啡店，拿铁一般。", "Use my code ANNA15 for 15% off, link in bio!", "短", "周末带狗狗去公园"]


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty conversion cache for this test."""
    monkeypatch.setenv(ovr.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def torch_logits(model_dir: Path) -> np.ndarray:
    return np.asarray(Classifier.from_pretrained(model_dir, runtime="fp32").scorer.score(TEXTS).logits)


def test_converted_model_gives_torch_logits_in_fp32_and_close_in_bf16(tiny_model_dir: Path, cache: Path) -> None:
    import openvino as ov

    _, how = ovr.load_engine(tiny_model_dir)
    assert how == "converted"
    (xml,) = (cache / "openvino").glob("*/model.xml")
    fp32 = ovr.OpenVinoEngine.compile(ov.Core().read_model(xml), precision="f32")
    assert fp32.precision == "f32"
    loaded = Classifier.from_pretrained(tiny_model_dir, runtime="openvino").scorer
    assert isinstance(loaded, ovr.OpenVinoScorer)
    want = torch_logits(tiny_model_dir)
    batch = loaded.pad(loaded.encode(TEXTS).ids)  # padded: the mask must hide the padding
    got = fp32(batch["input_ids"], batch["attention_mask"])
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(got, want, atol=2e-3)  # f32 arithmetic on weights cached in fp16
    # the runtime's own precision (bf16 on CPUs with native bf16): within bf16 rounding
    np.testing.assert_allclose(loaded.score(TEXTS).logits, want, atol=0.05)


def test_conversion_is_cached_and_a_cached_load_never_reads_the_torch_weights(
    tiny_model_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Classifier.from_pretrained(tiny_model_dir, runtime="openvino")
    (entry,) = (cache / "openvino").iterdir()  # one entry, no staging folder left behind
    assert {p.name for p in entry.iterdir()} == {"model.xml", "model.bin"}

    def no_torch(*args: object, **kwargs: object) -> torch.nn.Module:
        raise AssertionError("the torch weights were loaded")

    monkeypatch.setattr(ovr, "load_torch_model", no_torch)
    second = Classifier.from_pretrained(tiny_model_dir, runtime="openvino")
    np.testing.assert_allclose(second.scorer.score(TEXTS).logits, first.scorer.score(TEXTS).logits, atol=1e-6)
    assert second.scorer.runtime == "openvino"
    assert not second.scorer.model_loaded  # type: ignore[attr-defined]


def test_new_weights_get_a_new_cache_entry(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    before = ovr.cache_key(copy)
    assert ovr.cache_key(copy) == before
    weights = copy / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert ovr.cache_key(copy) != before


def test_a_damaged_cache_entry_is_converted_again(tiny_model_dir: Path, cache: Path) -> None:
    ovr.load_engine(tiny_model_dir)
    (xml,) = (cache / "openvino").glob("*/model.xml")
    xml.write_text("<not a model", encoding="utf-8")
    engine, how = ovr.load_engine(tiny_model_dir)
    assert how == "converted"
    assert engine(np.array([[2, 5, 3]]), np.ones((1, 3), dtype=np.int64)).shape == (1, 2)


def test_an_unwritable_cache_still_serves(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv(ovr.CACHE_ENV, str(blocker))
    engine, how = ovr.load_engine(tiny_model_dir)
    assert how == "converted, not cached"
    ids, mask = np.array([[2, 5, 3]]), np.ones((1, 3), dtype=np.int64)
    assert engine(ids, mask).shape == (1, 2)
    # the same fp16 weights as a cached conversion: the first run scores as every later one
    cached, _ = ovr.load_engine(tiny_model_dir, cache=tmp_path / "writable")
    np.testing.assert_array_equal(engine(ids, mask), cached(ids, mask))


def test_a_cache_entry_that_does_not_read_back_still_serves(
    tiny_model_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(ov_model: object, target: Path) -> None:  # e.g. a disk that truncated the file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("<not a model", encoding="utf-8")

    monkeypatch.setattr(ovr, "save_atomic", broken_save)
    engine, how = ovr.load_engine(tiny_model_dir)
    assert how == "converted, not cached"
    assert engine(np.array([[2, 5, 3]]), np.ones((1, 3), dtype=np.int64)).shape == (1, 2)


def test_the_cache_holds_fp16_weights_and_cached_scoring_never_imports_torch(tiny_model_dir: Path, cache: Path) -> None:
    Classifier.from_pretrained(tiny_model_dir, runtime="openvino")  # converts (this process has torch anyway)
    (xml,) = (cache / "openvino").glob("*/model.xml")
    assert 'element_type="f16"' in xml.read_text(encoding="utf-8")
    script = (
        "import sys; from notecheck.model.classifier import Classifier; "
        f"c = Classifier.from_pretrained({str(tiny_model_dir)!r}, runtime='openvino'); "
        "p = c.predict(['link in bio, DM me', '周末的咖啡']); "
        "print(len(p), c.scorer.runtime, sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    env = {**os.environ, ovr.CACHE_ENV: str(cache)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "2 openvino []"


def test_the_torch_model_loads_only_when_gradients_need_it(tiny_model_dir: Path, cache: Path) -> None:
    from notecheck.model.attribution import token_attributions

    loaded = Classifier.from_pretrained(tiny_model_dir, runtime="openvino")
    scorer = loaded.scorer
    assert isinstance(scorer, ovr.OpenVinoScorer)
    loaded.predict(TEXTS)
    assert not scorer.model_loaded
    tokens = token_attributions(scorer, TEXTS[1], "grad_x_input")
    assert scorer.model_loaded and isinstance(scorer.model, torch.nn.Module)
    assert np.abs(tokens.scores).sum() > 0
    assert scorer.model.training is False


def test_auto_is_openvino_where_installed_else_the_torch_runtime(
    tiny_model_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert scorer_module.resolve_runtime("auto") == "openvino"
    assert scorer_module.resolve_runtime("bf16") == "bf16"
    assert Classifier.from_pretrained(tiny_model_dir, runtime="auto").scorer.runtime == "openvino"
    monkeypatch.setattr(ovr, "openvino_available", lambda: False)
    for native in (True, False):
        monkeypatch.setattr(scorer_module, "bf16_is_fast", lambda native=native: native)
        assert scorer_module.resolve_runtime("auto") == ("bf16" if native else "fp32")


def test_auto_falls_back_to_torch_when_openvino_cannot_run_the_model(
    tiny_model_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(model: torch.nn.Module) -> None:
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(ovr, "convert", broken)
    with caplog.at_level(logging.WARNING):
        loaded = Classifier.from_pretrained(tiny_model_dir, runtime="auto").scorer
    assert type(loaded) is TransformerScorer and loaded.runtime == scorer_module.torch_runtime()
    assert "unsupported operation" in caplog.text
    with pytest.raises(ModelLoadError, match="openvino cannot convert"):
        Classifier.from_pretrained(tiny_model_dir, runtime="openvino")


def test_a_missing_openvino_package_is_named(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovr, "openvino_available", lambda: False)
    with pytest.raises(ModelLoadError, match="pip install openvino"):
        Classifier.from_pretrained(tiny_model_dir, runtime="openvino")


def test_saving_copies_the_source_weights_without_loading_the_torch_model(
    tiny_model_dir: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scorer_module, "bf16_is_fast", lambda: True)  # where gradients would load it in bf16
    monkeypatch.setattr(ovr, "bf16_is_fast", lambda: True)
    loaded = Classifier.from_pretrained(tiny_model_dir, runtime="openvino")
    out = loaded.save_pretrained(tmp_path / "copy")
    assert not loaded.scorer.model_loaded  # type: ignore[attr-defined]
    assert (out / "model.safetensors").read_bytes() == (tiny_model_dir / "model.safetensors").read_bytes()
    again = Classifier.from_pretrained(out, runtime="fp32")
    np.testing.assert_array_equal(again.scorer.score(TEXTS).logits, torch_logits(tiny_model_dir))
    loaded.scorer.model = again.scorer.model  # a model given to it is what it saves from then on
    assert loaded.scorer.source is None  # type: ignore[attr-defined]


def test_loading_the_torch_model_is_done_once_across_threads(tiny_model_dir: Path, cache: Path) -> None:
    import threading

    scorer = Classifier.from_pretrained(tiny_model_dir, runtime="openvino").scorer
    assert isinstance(scorer, ovr.OpenVinoScorer)
    loads: list[int] = []
    load = scorer._load_model

    def slow_load() -> torch.nn.Module:
        loads.append(1)
        threading.Event().wait(0.2)  # long enough for every thread to arrive while the first still loads
        return load()

    scorer._load_model = slow_load
    models: list[torch.nn.Module] = []
    threads = [threading.Thread(target=lambda: models.append(scorer.model)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and all(m is models[0] for m in models)
