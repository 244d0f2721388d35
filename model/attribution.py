"""Token attributions of the transformer's calibrated log-odds of commercial: Integrated Gradients (Captum)
and gradient x input, both on the input word embeddings.

The model is called with `inputs_embeds` rather than through a hook on the embedding layer, so explaining a
note never changes what a concurrent `predict` on the same model computes (the server predicts while it
explains). Tokens come from `TransformerScorer.encode_with_offsets`, the same ids `encode` gives `predict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch

from notecheck.model.scorer import TransformerScorer


@dataclass
class TokenAttributions:
    """Per-token scores (calibrated log-odds units) with each token's span in the model input."""

    scores: np.ndarray
    offsets: list[tuple[int, int]]
    log_odds: float  # f(note): what the scores explain
    completeness_gap: float | None  # IG only: |sum(scores) - (f(note) - f(baseline))|


def log_odds_fn(model: torch.nn.Module, temperature: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """f(embeddings, attention_mask) -> (batch,) calibrated log-odds of commercial."""
    scale = 1.0 / max(temperature, 1e-6)

    def forward(embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = model(inputs_embeds=embeds, attention_mask=attention_mask).logits.float()
        return cast(torch.Tensor, (logits[:, 1] - logits[:, 0]) * scale)

    return forward


def _inputs(scorer: TransformerScorer, text: str) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
    """Token ids (1, L), the baseline ids (every non-special token replaced by pad) and the offsets."""
    ids, offsets = scorer.encode_with_offsets(text)
    device = next(scorer.model.parameters()).device
    # rows, not tokenizer ids, on a trimmed vocabulary (where a dropped token is read as <unk>, a special token)
    special = set(scorer.model_ids(scorer.tokenizer.all_special_ids))
    pad = scorer.model_ids([scorer.tokenizer.pad_token_id or 0])[0]
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)
    baseline = torch.tensor([[i if i in special else pad for i in ids]], dtype=torch.long, device=device)
    return input_ids, baseline, offsets


def token_attributions(
    scorer: TransformerScorer,
    text: str,
    method: str,
    temperature: float = 1.0,
    n_steps: int = 24,
    internal_batch_size: int | None = None,
    bf16: bool = False,
) -> TokenAttributions:
    """Attribute the calibrated log-odds of `text` (a model input string) to its tokens.

    `method`: `ig` (Integrated Gradients, Gauss-Legendre steps, `internal_batch_size` steps per forward) or
    `grad_x_input` (one backward pass). Special tokens score 0. `bf16` runs the forward and backward passes of
    an fp32 model under bf16 autocast (about twice as fast on CPUs with native bf16; the completeness gap
    stays the same size, see benchmarks/explain_cost.py); f(note) is still computed in the model's dtype.
    """
    model = scorer.gradient_model()  # the same weights, with attention whose backward is fast on CPU
    forward = log_odds_fn(model, temperature)
    input_ids, baseline_ids, offsets = _inputs(scorer, text)
    embed = model.get_input_embeddings()  # type: ignore[operator]  # a transformers model
    mask = torch.ones_like(input_ids)
    fast = bf16 and embed.weight.dtype == torch.float32 and embed.weight.device.type == "cpu"
    with torch.inference_mode(False), torch.enable_grad():
        embeds, base = embed(input_ids).detach(), embed(baseline_ids).detach()
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast)
        with torch.no_grad():  # f(note), and for IG f(baseline), in one pass in the model's own dtype
            both = torch.cat([embeds, base]) if method == "ig" else embeds
            values = [float(v) for v in forward(both, mask.expand(len(both), -1))]
        value = values[0]
        if method == "ig":
            from captum.attr import IntegratedGradients

            with autocast:
                attr = IntegratedGradients(forward).attribute(
                    embeds,
                    baselines=base,
                    additional_forward_args=(mask,),
                    n_steps=n_steps,
                    internal_batch_size=internal_batch_size or n_steps,
                )
            # completeness against f in the model's own dtype, not autocast's
            gap: float | None = abs(float(attr.float().sum()) - (value - values[1]))
        elif method == "grad_x_input":
            leaf = embeds.clone().requires_grad_(True)
            with autocast:
                (grad,) = torch.autograd.grad(forward(leaf, mask).sum(), leaf)
            attr, gap = grad * leaf.detach(), None
        else:
            raise ValueError(f"unknown gradient method '{method}'")
    scores = attr[0].float().sum(dim=-1).detach().cpu().numpy().astype(np.float64)
    scores[[i for i, (a, b) in enumerate(offsets) if b <= a]] = 0.0  # special tokens explain nothing
    return TokenAttributions(scores=scores, offsets=offsets, log_odds=value, completeness_gap=gap)
