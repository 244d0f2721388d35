"""`FastTokenizer` reads a model directory's tokenizer without `transformers`: same ids, offsets, special
and pad ids as `AutoTokenizer`, and a copy that saves and loads the same. (The real XLM-R tokenizer is checked
on every bundled note in tests/training/encoder/test_encoder_build.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizer_support import assert_same_as_transformers

from notecheck.model.errors import ModelLoadError
from notecheck.model.tokenizer import FastTokenizer

TEXTS = [
    "Loved this serum, link in bio!",
    "周末去了新开的咖啡店，拿铁很好喝～",
    "",
    "  spaces   and\nlines  ",
    "ünïcödé ✨🔥",
]


def test_tiny_tokenizer_matches_transformers(tiny_model_dir: Path) -> None:
    assert_same_as_transformers(tiny_model_dir, TEXTS)


def test_special_tokens_kept_in_the_older_file_are_read(tiny_model_dir: Path, tmp_path: Path) -> None:
    # older transformers and many hub models keep the special tokens in special_tokens_map.json
    for name in ("tokenizer.json", "config.json"):
        (tmp_path / name).write_bytes((tiny_model_dir / name).read_bytes())
    config = json.loads((tiny_model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    special = {k: config.pop(k) for k in list(config) if k in ("pad_token", "unk_token", "cls_token", "sep_token")}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    tok = FastTokenizer.from_pretrained(tmp_path)
    assert tok.pad_token_id is not None and tok.unk_token_id is not None
    assert_same_as_transformers(tmp_path, TEXTS)


def test_it_never_truncates_and_saves_the_same_files(tiny_model_dir: Path, tmp_path: Path) -> None:
    tok = FastTokenizer.from_pretrained(tiny_model_dir)
    per_word = len(tok("good")["input_ids"]) - 2
    # [CLS] + 500 words + [SEP], far past the model's 128 positions: truncating is the scorer's job
    assert len(tok("good " * 500)["input_ids"]) == 500 * per_word + 2
    tok.save_pretrained(tmp_path / "copy")
    assert (tmp_path / "copy" / "tokenizer.json").read_bytes() == (tiny_model_dir / "tokenizer.json").read_bytes()
    assert FastTokenizer.from_pretrained(tmp_path / "copy")(TEXTS)["input_ids"] == tok(TEXTS)["input_ids"]


def test_a_broken_tokenizer_file_is_named(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": ', encoding="utf-8")
    with pytest.raises(ModelLoadError, match="tokenizer.json"):
        FastTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_bytes((tiny_model_dir / "tokenizer.json").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="tokenizer_config.json"):
        FastTokenizer.from_pretrained(tmp_path)


def test_reading_it_imports_neither_torch_nor_transformers(tiny_model_dir: Path) -> None:
    script = (
        "import sys; from notecheck.model.tokenizer import FastTokenizer; "
        f"FastTokenizer.from_pretrained({str(tiny_model_dir)!r})(['hello']); "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
