"""The bf16 runtime's oneDNN linear layers: same results as plain bf16, still differentiable."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from notecheck.model.classifier import Classifier
from notecheck.model.torch_runtime import FusedLinear, fuse_linears, fused_linear_works

needs_fused = pytest.mark.skipif(not fused_linear_works(), reason="no native bf16 oneDNN linear on this CPU")


@needs_fused
def test_bf16_runtime_swaps_every_linear_and_scores_like_plain_bf16(tiny_model_dir: Path) -> None:
    fused = Classifier.from_pretrained(tiny_model_dir, runtime="bf16")
    model = fused.scorer.model
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    assert any(isinstance(m, FusedLinear) for m in model.modules())

    plain = Classifier.from_pretrained(tiny_model_dir, runtime="fp32")
    plain.scorer.model = plain.scorer.model.to(torch.bfloat16)
    texts = ["今天去了新开的咖啡店，拿铁一般。", "Use my code ANNA15 for 15% off, link in bio!", "短"]
    got, want = fused.scorer.score(texts).logits, plain.scorer.score(texts).logits
    assert got.shape == (3, 2)
    assert abs(got - want).max() < 0.02


@needs_fused
def test_fused_linear_keeps_parameter_names_and_falls_back_for_gradients() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).to(torch.bfloat16)
    reference = copy.deepcopy(net)
    assert fuse_linears(net) == 2
    assert list(net.state_dict()) == list(reference.state_dict())

    x = torch.randn(4, 16, dtype=torch.bfloat16, requires_grad=True)
    net(x).float().sum().backward()  # F.linear fallback: a backward exists
    assert x.grad is not None and x.grad.abs().sum() > 0
    with torch.inference_mode():
        assert torch.allclose(net(x.detach()).float(), reference(x.detach()).float(), atol=0.05)


@pytest.mark.parametrize("fast", [True, False])
def test_auto_runtime_is_bf16_only_where_the_cpu_has_native_bf16(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    import notecheck.model.openvino_runtime as openvino_runtime
    import notecheck.model.scorer as scorer

    monkeypatch.setattr(openvino_runtime, "openvino_available", lambda: False)  # else `auto` is openvino
    monkeypatch.setattr(scorer, "bf16_is_fast", lambda: fast)
    assert scorer.resolve_runtime("auto") == ("bf16" if fast else "fp32")
    assert scorer.resolve_runtime("int8") == "int8"
    loaded = Classifier.from_pretrained(tiny_model_dir, runtime="auto")
    assert loaded.scorer.runtime == ("bf16" if fast else "fp32")
    dtype = next(loaded.scorer.model.parameters()).dtype
    assert dtype == (torch.bfloat16 if fast else torch.float32)
