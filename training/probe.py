"""Linear probing on frozen embeddings, the probe as a classifier head, and WiSE-FT weight interpolation.

- LP: a logistic regression on the frozen encoder's mean-pooled embeddings (Kumar et al., ICLR 2022, show a
  probe keeps the pretrained features that fine-tuning distorts, and transfers better out of distribution).
- LP-FT: the probe becomes the head of a mean-pooled classifier (`model.pooling`) and fine-tuning starts
  from it, so the first steps do not tear the encoder apart to fit a random head.
- WiSE-FT (Wortsman et al., CVPR 2022): the final weights are `(1 - alpha) * start + alpha * fine-tuned`,
  interpolating between the probe-initialised and the fine-tuned model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from notecheck.model.classifier import model_input
from notecheck.model.loader import LabelledNote
from notecheck.model.scorer import TransformerScorer, length_batches

log = logging.getLogger(__name__)

#: inverse regularisation strengths tried for the probe, chosen by validation log-loss
PROBE_CS = (0.03, 0.1, 0.3, 1.0, 3.0)

#: frozen-encoder embeddings already computed in this process, by (encoder, max_length, text): the probe
#: always reads an untouched base encoder, so cross-validation folds can share them
_FROZEN: dict[tuple[str, int, bool, str], np.ndarray] = {}


def embed(scorer: TransformerScorer, texts: Sequence[str], bf16: bool = False, progress: bool = True) -> np.ndarray:
    """Mean-pooled embeddings of `texts` from the scorer's (mean-pooling) model, frozen, in input order."""
    model: Any = scorer.model  # a transformers model: its attributes are dynamic
    if not hasattr(model, "embed"):
        raise TypeError("linear probing needs a mean-pooled model (pooling: mean)")
    enc = scorer.encode(texts)
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    model.eval()
    device = next(model.parameters()).device
    batches = list(length_batches([len(s) for s in enc.ids], scorer.batch_size, scorer.max_tokens))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for batch in tqdm(batches, desc="embed", unit="batch", disable=not progress, dynamic_ncols=True):
            inputs = {k: v.to(device) for k, v in scorer.collate([enc.ids[i] for i in batch]).items()}
            out[batch] = model.embed(inputs["input_ids"], inputs["attention_mask"]).float().cpu().numpy()
    return out


def embed_notes(scorer: TransformerScorer, notes: Sequence[LabelledNote], bf16: bool = False) -> np.ndarray:
    """Frozen embeddings of notes (the scorer's model must be the untouched base encoder), cached per process."""
    source = str(getattr(scorer.model.config, "_name_or_path", ""))
    texts = [model_input(n.note) for n in notes]
    keys = [(source, scorer.max_length, bf16, t) for t in texts]
    todo = list(dict.fromkeys(k for k in keys if k not in _FROZEN))
    if todo:
        for key, vector in zip(todo, embed(scorer, [k[3] for k in todo], bf16=bf16), strict=True):
            _FROZEN[key] = vector
    return np.stack([_FROZEN[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)


def fit_probe(
    x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, c: float = 0.0
) -> tuple[np.ndarray, float, float]:
    """A class-balanced logistic regression on standardised embeddings, folded back to raw-embedding
    weights: returns (coef over raw embedding dims, intercept, C). `c=0` picks C by validation log-loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z, z_val = (x - mean) / std, (x_val - mean) / std
    best: tuple[float, LogisticRegression, float] | None = None
    for cand in [c] if c else PROBE_CS:
        lr = LogisticRegression(C=cand, max_iter=2000, class_weight="balanced").fit(z, y)
        loss = log_loss(y_val, lr.predict_proba(z_val)[:, 1], labels=[0, 1]) if len(np.unique(y_val)) > 1 else 0.0
        if best is None or loss < best[0]:
            best = (loss, lr, cand)
    assert best is not None
    _, lr, chosen = best
    coef = lr.coef_[0] / std
    intercept = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / std))
    log.info("probe: C %.2f, validation log-loss %.4f", chosen, best[0])
    return coef.astype(np.float32), intercept, chosen


def set_head(model: torch.nn.Module, coef: np.ndarray, intercept: float) -> None:
    """Write a probe into the 2-class head: logit(commercial) - logit(genuine) = coef . x + intercept."""
    head: Any = model.classifier
    with torch.no_grad():
        w = torch.as_tensor(coef, dtype=head.weight.dtype)
        head.weight.copy_(torch.stack([-w / 2, w / 2]))
        head.bias.copy_(torch.tensor([-intercept / 2, intercept / 2], dtype=head.bias.dtype))


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def interpolate(model: torch.nn.Module, start: dict[str, torch.Tensor], alpha: float) -> None:
    """WiSE-FT: set every floating-point weight to `(1 - alpha) * start + alpha * current`."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    state = model.state_dict()
    with torch.no_grad():
        for name, value in state.items():
            if value.is_floating_point() and name in start:
                value.copy_((1 - alpha) * start[name].to(value.dtype) + alpha * value)


def probe_into(
    scorer: TransformerScorer,
    train: Sequence[LabelledNote],
    validation: Sequence[LabelledNote],
    labels: np.ndarray,
    val_labels: np.ndarray,
    bf16: bool = False,
    c: float = 0.0,
) -> float:
    """Fit the probe on frozen embeddings of `train` and write it into the scorer's head; returns C."""
    x, x_val = embed_notes(scorer, train, bf16), embed_notes(scorer, validation, bf16)
    coef, intercept, chosen = fit_probe(x, labels, x_val, val_labels, c)
    set_head(scorer.model, coef, intercept)
    return chosen
