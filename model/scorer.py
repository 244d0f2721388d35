"""The transformer backend: the one place where notes become token ids and token ids become logits.

Inference sorts notes by token length and cuts batches by a token budget where padding would cost more than
another forward pass (`model.batch_plan`), so a batch of short notes is not padded to the length of one long
note; batches run under `torch.inference_mode()`, or in OpenVINO (`model.openvino_runtime`).

This module imports neither PyTorch nor `transformers` (their import costs ~0.2 GB of resident memory, which
a process scoring through OpenVINO never needs): torch is imported where a torch model is loaded or run, and
the tokenizer is read by `model.tokenizer`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from notecheck.model.batch_plan import plan_batches
from notecheck.model.errors import ModelLoadError, first_line
from notecheck.model.metadata import FIX
from notecheck.model.model_dir import WEIGHT_FILES, check_transformer_files
from notecheck.model.options import RUNTIMES
from notecheck.model.tokenizer import FastTokenizer
from notecheck.model.vocab import VocabRemap

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass
class Encoded:
    """Token ids of notes, truncated to `max_length`, with each note's untruncated length."""

    ids: list[list[int]]
    n_tokens: list[int]  # length before truncation, special tokens included
    truncated: list[bool]


@dataclass
class Scores:
    """Raw class logits (n, 2) plus what tokenization did to each note."""

    logits: np.ndarray
    n_tokens: list[int]
    truncated: list[bool]


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> Iterator[list[int]]:
    """Yield index lists, longest notes first, each with at most `batch_size` notes and at most
    `max_tokens` padded tokens (a single note longer than the budget still gets its own batch).

    >>> list(length_batches([5, 50, 6, 49], batch_size=8, max_tokens=100))
    [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for i in order:
        width = lengths[batch[0]] if batch else lengths[i]  # sorted: the first is the widest
        if batch and (len(batch) + 1 > batch_size or (len(batch) + 1) * width > max_tokens):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


class TransformerScorer:
    """A fine-tuned sequence classifier with its tokenizer. `encode` is the only tokenization path."""

    def __init__(
        self,
        model: torch.nn.Module | None,
        tokenizer: Any,  # a `FastTokenizer`, or a `transformers` tokenizer while training
        max_length: int,
        batch_size: int = 32,
        max_tokens: int = 8192,
        pad_multiple: int = 1,
    ) -> None:
        if model is not None:  # None: a subclass runs the forward passes (`model.openvino_runtime`)
            self.model: torch.nn.Module = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # A batch's width is padded up to a multiple of this (never past max_length): a long-running server
        # then sees a bounded set of shapes, and CPU kernels and the allocator stop meeting new ones.
        self.pad_multiple = max(1, pad_multiple)
        self.runtime = "fp32"  # what `load` resolved (`auto` becomes bf16 or fp32)
        self.vocab: VocabRemap | None = None  # a trimmed model's tokenizer id → embedding row (`model.vocab`)
        self._twin: tuple[torch.nn.Module, torch.nn.Module] | None = None  # (model, its gradient twin)
        self._twin_lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, max_length: int, runtime: str = "fp32", **kwargs: Any) -> TransformerScorer:
        """Load weights (safetensors only, never pickles) and tokenizer from a model directory."""
        path = Path(path)
        if runtime not in RUNTIMES:
            raise ModelLoadError(path, f"unknown runtime '{runtime}' (choose from {', '.join(RUNTIMES)})")
        requested, runtime = runtime, resolve_runtime(runtime)
        check_transformer_files(path)
        if runtime == "openvino":
            from notecheck.model.openvino_runtime import OpenVinoError, OpenVinoScorer

            try:
                return OpenVinoScorer.load(path, max_length, **kwargs)
            except OpenVinoError as exc:
                if requested != "auto":
                    raise ModelLoadError(path, f"{exc}: use another --runtime") from exc
                runtime = torch_runtime()
                log.warning("%s: running runtime %s instead", exc, runtime)
        # weights first: their load peak then comes before the tokenizer's ~0.3 GB, not on top
        model = load_torch_model(path, runtime)
        scorer = cls(model, FastTokenizer.from_pretrained(path), max_length=max_length, **kwargs)
        scorer.runtime = runtime
        return scorer

    def gradient_model(self) -> torch.nn.Module:
        """`model` for backward passes (the gradient explanations): its weights, eager attention
        (`torch_runtime.gradient_twin`). Made once per model, on first use."""
        from notecheck.model.torch_runtime import gradient_twin

        model = self.model
        with self._twin_lock:
            if self._twin is None or self._twin[0] is not model:
                self._twin = (model, gradient_twin(model))
            return self._twin[1].train(model.training)

    def save(self, path: str | Path) -> None:
        self.model.save_pretrained(path, safe_serialization=True)  # type: ignore[operator]
        self.tokenizer.save_pretrained(path)
        if self.vocab is not None:
            self.vocab.save(path)

    def model_ids(self, ids: Sequence[int]) -> list[int]:
        """The model's embedding rows for tokenizer ids: the same ids, or a trimmed vocabulary's rows."""
        return list(ids) if self.vocab is None else self.vocab.apply(ids)

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize without padding; truncate to `max_length`, keeping the closing special token."""
        out = self.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        ids, n_tokens, truncated = [], [], []
        for seq in out["input_ids"]:
            n_tokens.append(len(seq))
            cut = len(seq) > self.max_length
            truncated.append(cut)
            ids.append(self.model_ids(seq[: self.max_length - 1] + seq[-1:] if cut else seq))
        return Encoded(ids=ids, n_tokens=n_tokens, truncated=truncated)

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """One text's ids exactly as `encode` gives them, with each token's (start, end) in `text`
        ((0, 0) for special tokens): explanations map token scores back to the words of the note."""
        out = self.tokenizer(text, truncation=False, verbose=False, return_offsets_mapping=True)
        ids, offsets = self.model_ids(out["input_ids"]), [(int(a), int(b)) for a, b in out["offset_mapping"]]
        keep = slice(0, self.max_length - 1)
        return (ids[keep] + ids[-1:], offsets[keep] + offsets[-1:]) if len(ids) > self.max_length else (ids, offsets)

    def pad(self, ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
        """Right-pad a batch of id lists to its longest member, rounded up to a multiple of `pad_multiple`
        (the attention mask hides the padding: the logits do not change beyond float noise); int64 arrays."""
        longest = max(len(s) for s in ids)
        width = max(longest, min(-(-longest // self.pad_multiple) * self.pad_multiple, self.max_length))
        pad = self.model_ids([self.tokenizer.pad_token_id or 0])[0]
        input_ids = np.full((len(ids), width), pad, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def collate(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """`pad` as torch tensors, for the torch model (training, probes, gradient explanations)."""
        import torch

        return {k: torch.from_numpy(v) for k, v in self.pad(ids).items()}

    def score(self, texts: Sequence[str]) -> Scores:
        """Logits for each text, in input order."""
        enc = self.encode(texts)
        logits = np.zeros((len(texts), 2), dtype=np.float32)
        for batch in plan_batches([len(s) for s in enc.ids], self.batch_size, self.max_tokens):
            logits[batch] = self.forward(self.pad([enc.ids[i] for i in batch]))
        return Scores(logits=logits, n_tokens=enc.n_tokens, truncated=enc.truncated)

    def forward(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(n, 2) float32 logits of one padded batch, under `torch.inference_mode()` (`model.openvino_runtime`
        runs it in OpenVINO instead)."""
        import torch

        device = next(self.model.parameters()).device
        with torch.inference_mode():
            batch = {k: torch.as_tensor(v).to(device) for k, v in inputs.items()}
            logits: np.ndarray = self.model(**batch).logits.float().cpu().numpy()
        return logits


def resolve_runtime(runtime: str) -> str:
    """`auto` → openvino where the package is installed (the fastest at the same verdicts, see the README's
    speed table), else `torch_runtime()`; any other runtime as given.

    >>> resolve_runtime("fp32")
    'fp32'
    """
    if runtime != "auto":
        return runtime
    from notecheck.model.openvino_runtime import openvino_available

    return "openvino" if openvino_available() else torch_runtime()


def torch_runtime() -> str:
    """The fastest torch runtime that keeps fp32's verdicts: bf16 on a CPU with native bf16, else fp32."""
    return "bf16" if bf16_is_fast() else "fp32"


def bf16_is_fast() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), where bf16 runs several
    times faster than fp32; elsewhere bf16 is emulated and slower. Read from the kernel's CPU flags on Linux
    (no torch import), else asked of torch."""
    flags = cpu_flags()
    if flags is not None:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    import torch

    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


@cache
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from `/proc/cpuinfo` (Linux), or None where there is no such file."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return None


def load_torch_model(path: Path, runtime: str) -> torch.nn.Module:
    """The directory's torch classifier in `runtime` (fp32, bf16 or int8), in eval mode. bf16 weights are
    read as bf16: no fp32 copy of the model ever sits in memory (peak RSS)."""
    import torch

    from notecheck.model.pooling import load_sequence_classifier
    from notecheck.model.torch_runtime import apply_runtime

    try:
        dtype = torch.bfloat16 if runtime == "bf16" else None
        model = load_sequence_classifier(path, use_safetensors=True, dtype=dtype)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds
        raise ModelLoadError(path / WEIGHT_FILES[0], f"weights do not load ({first_line(exc)}): {FIX}") from exc
    return apply_runtime(model, runtime).eval()
