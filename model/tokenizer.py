"""A model directory's tokenizer, read straight from its `tokenizer.json` by the `tokenizers` library.

`transformers.AutoTokenizer` wraps the same Rust tokenizer, but importing it imports PyTorch (~0.2 GB of
resident memory) even where the forward passes run in OpenVINO. `FastTokenizer` gives the few calls the scorer
makes (`model.scorer.TransformerScorer.encode` is the one place notes become ids) with the same ids and offsets
(tests/model/test_tokenizer.py checks both tokenizers on the bundled notes), and nothing else.

>>> FastTokenizer.special_token("<pad>"), FastTokenizer.special_token({"content": "<pad>", "special": True})
('<pad>', '<pad>')
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from notecheck.model.errors import ModelLoadError, first_line
from notecheck.model.metadata import FIX
from notecheck.model.model_dir import TOKENIZER_FILE

CONFIG_FILE = "tokenizer_config.json"
SPECIAL_FILE = "special_tokens_map.json"  # where older transformers (and many hub models) keep the special tokens
#: Files `save_pretrained` copies beside the weights (those present).
FILES = (TOKENIZER_FILE, CONFIG_FILE, SPECIAL_FILE)


class FastTokenizer:
    """The tokenizer of a model directory. Call it as a `transformers` tokenizer: `tok(texts)["input_ids"]`,
    `tok(text, return_offsets_mapping=True)`; never truncates or pads (the scorer does both)."""

    def __init__(self, tokenizer: Any, config: dict[str, Any], source: Path) -> None:
        self.backend_tokenizer = tokenizer  # the `tokenizers.Tokenizer`, under transformers' name for it
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.source = source
        self.config = config
        self.text: str | None = None  # tokenizer.json's text when it is not `source`'s (`from_str`)
        pad, unk = (self.special_token(config.get(name)) for name in ("pad_token", "unk_token"))
        self.pad_token_id = tokenizer.token_to_id(pad) if pad else None
        self.unk_token_id = tokenizer.token_to_id(unk) if unk else None
        added = tokenizer.get_added_tokens_decoder()
        self.all_special_ids = sorted(i for i, token in added.items() if token.special)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> FastTokenizer:
        """Read `tokenizer.json`, and the pad and unknown tokens from `tokenizer_config.json` or
        `special_tokens_map.json`; `ModelLoadError` names the file that does not load."""
        from tokenizers import Tokenizer

        path = Path(path)
        try:
            tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        except Exception as exc:  # noqa: BLE001 - the Rust library raises plain Exceptions
            raise ModelLoadError(path / TOKENIZER_FILE, f"tokenizer does not load ({first_line(exc)}): {FIX}") from exc
        config: dict[str, Any] = {}
        for name in (SPECIAL_FILE, CONFIG_FILE):  # tokenizer_config.json's entries win, as in transformers
            if (path / name).is_file():
                try:
                    found = json.loads((path / name).read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise ModelLoadError(path / name, f"not readable JSON ({first_line(exc)}): {FIX}") from exc
                config.update({k: v for k, v in found.items() if v is not None} if isinstance(found, dict) else {})
        return cls(tokenizer, config, path)

    @classmethod
    def from_str(cls, text: str, like: FastTokenizer) -> FastTokenizer:
        """A tokenizer from the text of a `tokenizer.json` (a trimmed vocabulary), with `like`'s special-token
        settings; `save_pretrained` writes this text, and `like`'s other files."""
        from tokenizers import Tokenizer

        made = cls(Tokenizer.from_str(text), like.config, like.source)
        made.text = text
        return made

    @staticmethod
    def special_token(value: Any) -> str | None:
        """A special token as `tokenizer_config.json` writes it: a string, or an AddedToken's dict."""
        if isinstance(value, dict):
            value = value.get("content")
        return value if isinstance(value, str) else None

    def __len__(self) -> int:
        return int(self.backend_tokenizer.get_vocab_size(with_added_tokens=True))

    def __call__(
        self,
        text: str | Sequence[str],
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        **_ignored: Any,  # truncation=False, verbose=False: this tokenizer never truncates or warns
    ) -> dict[str, Any]:
        single = isinstance(text, str)
        encodings = self.backend_tokenizer.encode_batch(
            [text] if single else list(text), add_special_tokens=add_special_tokens
        )
        out: dict[str, Any] = {"input_ids": [e.ids for e in encodings]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        return {k: v[0] for k, v in out.items()} if single else out

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str | None]:
        return [self.backend_tokenizer.id_to_token(i) for i in ids]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Each token's id; the unknown token's id for a token the vocabulary lacks (as `transformers`)."""
        if isinstance(tokens, str):
            found = self.backend_tokenizer.token_to_id(tokens)
            return int(found if found is not None else self.unk_token_id or 0)
        return [self.convert_tokens_to_ids(t) for t in tokens]  # type: ignore[misc]

    def save_pretrained(self, path: str | Path) -> None:
        """Copy the tokenizer files beside a saved model (the same bytes: the text tokenizes the same), or
        write the `tokenizer.json` this tokenizer was made from (`from_str`)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            source = self.source / name
            if name == TOKENIZER_FILE and self.text is not None:
                (path / name).write_text(self.text, encoding="utf-8")
            elif name == CONFIG_FILE and self.text is not None and source.is_file():
                # its `added_tokens_decoder` is keyed by the source's ids: transformers reads them from tokenizer.json
                config = json.loads(source.read_text(encoding="utf-8"))
                config.pop("added_tokens_decoder", None)
                (path / name).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            elif source.is_file() and source.resolve() != (path / name).resolve():
                shutil.copyfile(source, path / name)
