"""The torch side of inference: bf16 and int8 models, oneDNN's fused linear for bf16 on CPU, and the
eager-attention twin that gradient explanations run through.

Kept apart from `model.scorer` so that a process whose forward passes run in OpenVINO never imports PyTorch
(about 0.2 GB of resident memory).
"""

from __future__ import annotations

import copy
import itertools
import logging
from typing import cast

import torch

from notecheck.model.scorer import bf16_is_fast

log = logging.getLogger(__name__)


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


def gradient_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A view of `model` for backward passes: the same weights and buffers (shared, not copied), its own
    config, with attention computed eagerly (matmul, softmax, matmul) instead of by `sdpa`.

    On CPU, PyTorch's fused attention has a slow backward: it was 37% of an Integrated Gradients explanation
    (24 steps of a 128-token note, bf16), and eager attention makes the whole explanation about 1.4x faster
    (benchmarks/explain_cost.py). Forward passes keep `sdpa`, which is as fast or faster there; a twin, not a
    switch on the one model, because a server explains and predicts on several threads at once and the
    attention choice lives in the model's config. A model without that choice is returned as it is."""
    if getattr(getattr(model, "config", None), "_attn_implementation", "eager") == "eager":
        return model
    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    twin = copy.deepcopy(model, shared)
    try:
        twin.set_attn_implementation("eager")  # type: ignore[operator]  # a transformers model
    except (AttributeError, ValueError) as exc:  # an architecture without the eager path
        log.debug("gradient passes keep the model's attention: %s", exc)
        return model
    if getattr(twin.config, "_attn_implementation", None) != "eager":  # refused with a warning only
        return model
    return twin
