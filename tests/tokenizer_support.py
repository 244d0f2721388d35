"""One check shared by the tokenizer tests: `FastTokenizer` reads a directory exactly as `AutoTokenizer` does."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from notecheck.model.tokenizer import FastTokenizer


def assert_same_as_transformers(directory: Path, texts: list[str]) -> None:
    ours, theirs = FastTokenizer.from_pretrained(directory), AutoTokenizer.from_pretrained(directory)
    assert (ours.pad_token_id, ours.unk_token_id) == (theirs.pad_token_id, theirs.unk_token_id)
    every = list(range(len(theirs)))
    assert ours.convert_ids_to_tokens(every) == theirs.convert_ids_to_tokens(every)
    probe = ["hello", "咖啡", "no-such-piece-xyzzy", theirs.pad_token]
    assert ours.convert_tokens_to_ids(probe) == theirs.convert_tokens_to_ids(probe)
    assert ours.all_special_ids == sorted(theirs.all_special_ids)
    assert len(ours) == len(theirs)
    kwargs = {"add_special_tokens": True, "truncation": False, "verbose": False}
    assert ours(texts, **kwargs)["input_ids"] == theirs(texts, **kwargs)["input_ids"]
    for text in texts:
        mine, want = ours(text, return_offsets_mapping=True), theirs(text, return_offsets_mapping=True)
        assert mine["input_ids"] == want["input_ids"], text
        assert [tuple(o) for o in mine["offset_mapping"]] == [tuple(o) for o in want["offset_mapping"]], text
