"""A trimmed vocabulary read through the whole tokenizer: the model keeps only the embedding rows it needs.

Of multilingual-e5-small's 118 M parameters, 96 M are the 250k rows of its word embeddings, and a notecheck
model reads a small part of them. `notecheck trim-vocab --keep-tokenizer` writes a model directory that keeps
the tokenizer exactly as it was (text tokenizes identically; by default the tokenizer is trimmed too and needs
no remap, `training.vocab_trim`) and holds a smaller embedding matrix plus a `VocabRemap`: a table from each tokenizer
id to its row in that matrix, where every id without a row goes to the row of the tokenizer's unknown token.
`TransformerScorer.encode` applies the table, so predictions and explanations see the same ids.

The table is saved as `vocab_remap.safetensors` (the kept tokenizer ids in row order, no pickles) and
recorded under `vocab` in `notecheck.json`; `Classifier.from_pretrained` applies it. `notecheck trim-vocab`
(`training.vocab_trim`) writes trimmed model directories.

>>> remap = VocabRemap.from_kept([0, 1, 2, 3, 10, 42], vocab_size=50, unk_id=3)
>>> remap.apply([0, 42, 7, 2])
[0, 5, 3, 2]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from notecheck.model.errors import ModelLoadError
from notecheck.model.metadata import FIX

REMAP_FILE = "vocab_remap.safetensors"
KEPT_TENSOR = "kept_ids"  # the kept tokenizer ids, ascending: row i of the model is tokenizer id kept_ids[i]


@dataclass(frozen=True)
class VocabRemap:
    """Tokenizer id → model embedding row. `kept[i]` is the tokenizer id of row i; `table[id]` the row of a
    tokenizer id (the unknown token's row for ids without one)."""

    kept: np.ndarray  # (n_rows,) int64, ascending tokenizer ids
    table: np.ndarray  # (vocab_size,) int64
    unk_row: int

    @classmethod
    def from_kept(cls, kept: Sequence[int] | np.ndarray, vocab_size: int, unk_id: int) -> VocabRemap:
        """The remap that keeps the tokenizer ids `kept` (any order, duplicates ignored; `unk_id` is always
        kept). Rows follow tokenizer order, so ids below the first dropped one keep their value."""
        ids = np.unique(np.asarray([*np.asarray(kept).tolist(), unk_id], dtype=np.int64))
        if ids[0] < 0 or ids[-1] >= vocab_size:
            raise ValueError(f"kept ids must lie in 0..{vocab_size - 1}, got {ids[0]}..{ids[-1]}")
        unk_row = int(np.searchsorted(ids, unk_id))
        table = np.full(vocab_size, unk_row, dtype=np.int64)
        table[ids] = np.arange(len(ids), dtype=np.int64)
        return cls(kept=ids, table=table, unk_row=unk_row)

    @property
    def vocab_size(self) -> int:
        """How many ids the tokenizer has (the table's length)."""
        return len(self.table)

    @property
    def n_rows(self) -> int:
        """How many embedding rows the model keeps."""
        return len(self.kept)

    def apply(self, ids: Sequence[int]) -> list[int]:
        """Model rows for tokenizer ids; ids without a row become the unknown token's row."""
        out: list[int] = self.table[np.asarray(ids, dtype=np.int64)].tolist()
        return out

    def unknown_share(self, ids: Sequence[int]) -> float:
        """The share of `ids` (tokenizer ids) that have no row and so are read as the unknown token."""
        if not len(ids):
            return 0.0
        rows = self.table[np.asarray(ids, dtype=np.int64)]
        dropped = (rows == self.unk_row) & (np.asarray(ids) != self.kept[self.unk_row])
        return float(dropped.mean())

    def record(self) -> dict[str, Any]:
        """What `notecheck.json` says about the trimmed vocabulary (`ModelMetadata.vocab`)."""
        return {"file": REMAP_FILE, "tokenizer_size": self.vocab_size, "rows": self.n_rows}

    def save(self, directory: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(directory) / REMAP_FILE
        meta = {"tokenizer_size": str(self.vocab_size), "unk_id": str(int(self.kept[self.unk_row]))}
        save_file({KEPT_TENSOR: self.kept.astype(np.int32)}, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> VocabRemap:
        """Read `vocab_remap.safetensors`; `ModelLoadError` naming it when it is missing or malformed."""
        from safetensors import safe_open

        path = Path(directory) / REMAP_FILE
        if not path.is_file():
            raise ModelLoadError(path, f"missing (notecheck.json says the vocabulary is trimmed): {FIX}")
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                kept = f.get_tensor(KEPT_TENSOR)
            return cls.from_kept(kept, int(meta["tokenizer_size"]), int(meta["unk_id"]))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ModelLoadError(path, f"not a vocabulary remap ({exc}): {FIX}") from exc

    def check(self, where: Path, tokenizer_size: int, model_rows: int) -> None:
        """The remap must cover the tokenizer's ids and name exactly the model's embedding rows."""
        if tokenizer_size != self.vocab_size:
            raise ModelLoadError(
                where / REMAP_FILE, f"made for a tokenizer of {self.vocab_size} ids, this one has {tokenizer_size}"
            )
        if model_rows != self.n_rows:
            raise ModelLoadError(
                where / REMAP_FILE, f"keeps {self.n_rows} embedding rows, the weights have {model_rows}: {FIX}"
            )


def load_remap(directory: str | Path, tokenizer: Any) -> VocabRemap:
    """A trimmed model directory's remap, checked against its tokenizer and its embedding rows. The row count
    is read from `config.json` (`vocab_size`, which the weights' shape must match to load at all), so a runtime
    that never builds the torch model (openvino) is not made to load it for this check."""
    remap = VocabRemap.load(directory)
    config = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    remap.check(Path(directory), len(tokenizer), int(config["vocab_size"]))
    return remap
