"""The transformer backend: the one place where notes become token ids and token ids become logits.

Inference sorts notes by token length and cuts batches by a token budget where padding would cost more than
another forward pass (`model.batch_plan`), so a batch of short notes is not padded to the length of one long
note; batches run under `torch.inference_mode()`, or in OpenVINO (`model.openvino_runtime`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from notecheck.model.batch_plan import plan_batches
from notecheck.model.errors import ModelLoadError, first_line
from notecheck.model.metadata import FIX
from notecheck.model.model_dir import TOKENIZER_FILE, WEIGHT_FILES, check_transformer_files
from notecheck.model.options import RUNTIMES
from notecheck.model.pooling import load_sequence_classifier
from notecheck.model.vocab import VocabRemap

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
        model: torch.nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        batch_size: int = 32,
        max_tokens: int = 8192,
        pad_multiple: int = 1,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # A batch's width is padded up to a multiple of this (never past max_length): a long-running server
        # then sees a bounded set of shapes, and CPU kernels and the allocator stop meeting new ones.
        self.pad_multiple = max(1, pad_multiple)
        self.runtime = "fp32"  # what `load` resolved (`auto` becomes bf16 or fp32)
        self.vocab: VocabRemap | None = None  # a trimmed model's tokenizer id → embedding row (`model.vocab`)

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
        try:  # weights first: their load peak then comes before the tokenizer's ~0.3 GB, not on top
            # bf16 weights are read as bf16: no fp32 copy of the model ever sits in memory (peak RSS)
            dtype = torch.bfloat16 if runtime == "bf16" else None
            model = load_sequence_classifier(path, use_safetensors=True, dtype=dtype)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(path / WEIGHT_FILES[0], f"weights do not load ({first_line(exc)}): {FIX}") from exc
        model = apply_runtime(model, runtime)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
        except Exception as exc:  # noqa: BLE001 - transformers raises many kinds; the message names the file
            raise ModelLoadError(path / TOKENIZER_FILE, f"tokenizer does not load ({first_line(exc)}): {FIX}") from exc
        scorer = cls(model, tokenizer, max_length=max_length, **kwargs)
        scorer.runtime = runtime
        return scorer

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

    def collate(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Right-pad a batch of id lists to its longest member, rounded up to a multiple of `pad_multiple`
        (the attention mask hides the padding: the logits do not change beyond float noise)."""
        longest = max(len(s) for s in ids)
        width = max(longest, min(-(-longest // self.pad_multiple) * self.pad_multiple, self.max_length))
        pad = self.model_ids([self.tokenizer.pad_token_id or 0])[0]
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def score(self, texts: Sequence[str]) -> Scores:
        """Logits for each text, in input order."""
        enc = self.encode(texts)
        logits = np.zeros((len(texts), 2), dtype=np.float32)
        with torch.inference_mode():
            for batch in plan_batches([len(s) for s in enc.ids], self.batch_size, self.max_tokens):
                logits[batch] = self.forward(self.collate([enc.ids[i] for i in batch]))
        return Scores(logits=logits, n_tokens=enc.n_tokens, truncated=enc.truncated)

    def forward(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """(n, 2) float32 logits of one collated batch (`model.openvino_runtime` runs it in OpenVINO)."""
        device = next(self.model.parameters()).device
        logits: np.ndarray = self.model(**{k: v.to(device) for k, v in inputs.items()}).logits.float().cpu().numpy()
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
    times faster than fp32; elsewhere bf16 is emulated and slower."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


class FusedLinear(torch.nn.Module):
    """An `nn.Linear` run by oneDNN's linear primitive, bias fused in. In bf16 on CPU, `F.linear` with a bias
    goes through `addmm`, which first copies the broadcast bias into the output and then runs a slower GEMM:
    this runs the same arithmetic at about twice the speed (benchmarks/inference_profile.py). Same
    parameters and names as the `nn.Linear` it wraps, so state dicts do not change; with autograd on (the
    gradient explanations) it falls back to `F.linear`, which has a backward."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            return torch.nn.functional.linear(x, self.weight, self.bias)
        out: torch.Tensor = torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return out


def fused_linear_works() -> bool:
    """Whether oneDNN's bf16 linear is available here and agrees with `F.linear` (checked once per call)."""
    if not (torch.backends.mkldnn.is_available() and bf16_is_fast()):  # type: ignore[no-untyped-call]
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        x, w, b = (torch.randn(*shape, generator=gen).to(torch.bfloat16) for shape in ((3, 5, 16), (8, 16), (8,)))
        with torch.inference_mode():
            got = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
            want = torch.nn.functional.linear(x.float(), w.float(), b.float())
        return got.shape == want.shape and bool(torch.allclose(got.float(), want, atol=0.1, rtol=0.02))
    except (RuntimeError, AttributeError, NotImplementedError) as exc:  # an older or different torch build
        log.debug("oneDNN fused linear unavailable: %s", exc)
        return False


def fuse_linears(model: torch.nn.Module) -> int:
    """Swap every `nn.Linear` of a CPU bf16 model for a `FusedLinear`; returns how many were swapped."""
    swapped = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(module, name, FusedLinear(child))
                swapped += 1
    return swapped


def apply_runtime(model: torch.nn.Module, runtime: str) -> torch.nn.Module:
    """Cast or quantize a loaded model for inference. fp32 is exact; bf16 and int8 trade a little accuracy
    for speed on CPUs with the matching instructions (see the benchmarks). bf16 on a CPU with native bf16
    also runs its linear layers through oneDNN's fused primitive (`FusedLinear`): same results, faster."""
    if runtime == "bf16":
        model = model.to(torch.bfloat16)
        on_cpu = all(p.device.type == "cpu" for p in model.parameters())
        if on_cpu and fused_linear_works():
            log.debug("bf16: %d linear layers run by oneDNN", fuse_linears(model))
        return model
    if runtime == "int8":
        quantized = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8
        )
        return cast(torch.nn.Module, quantized)
    return model
