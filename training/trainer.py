"""Fine-tuning loop: disclosure-masked text in, a calibrated model directory out, resumable at any step.

The same command run again after an interruption picks up from the last checkpoint in `<out>.partial/`
and, because the batch order and dropout seeds are derived from (seed, epoch, step), ends with the same
weights as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from notecheck.model.classifier import model_input
from notecheck.model.errors import ConfigError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import CLASSIFIER_LABELS, Note, is_commercial
from notecheck.model.scorer import TransformerScorer, bf16_is_fast
from notecheck.training.checkpoint import Progress, load_best, load_checkpoint, save_best, save_checkpoint
from notecheck.training.config import TrainConfig
from notecheck.training.metrics import binary_macro_f1

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    best_epoch: int
    best_f1: float
    steps: int
    seconds: float
    examples_per_second: float


def config_hash(config: TrainConfig) -> str:
    keys: tuple[str, ...] = (
        "base_model", "max_length", "epochs", "batch_size", "learning_rate", "head_learning_rate", "seed",
        "recipe", "pooling", "probe_c", "label_smoothing", "title_dropout",
    )  # fmt: skip
    if config.teacher:  # a distillation run: its soft targets are part of what the checkpoint was trained on
        keys += ("teacher", "distill_alpha", "distill_temperature")
    blob = json.dumps({k: getattr(config, k) for k in keys}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_scorer(base_path: str, config: TrainConfig) -> TransformerScorer:
    """A fresh classifier on top of the base encoder, its head untrained; mean-pooled where the recipe asks
    for it and the architecture allows (`model.pooling`)."""
    from transformers import AutoTokenizer

    from notecheck.model.pooling import load_sequence_classifier

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    id2label = dict(enumerate(CLASSIFIER_LABELS))
    torch.manual_seed(config.seed)
    model = load_sequence_classifier(
        base_path,
        pooling=config.pooling,
        num_labels=2,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return TransformerScorer(model, tokenizer, max_length=config.max_length)


def labels_of(notes: Sequence[LabelledNote]) -> np.ndarray:
    return np.array([int(is_commercial(n.label or "")) for n in notes], dtype=np.int64)


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled batches of similar-length notes: shuffle, then sort within windows of 50 batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)).tolist()
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def use_bf16(precision: str) -> bool:
    return precision == "bf16" or (precision == "auto" and bf16_is_fast())


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    head: list[torch.nn.Parameter] = []
    body: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (head if name.startswith(("classifier", "pre_classifier", "score")) else body).append(param)
    groups = [
        {"params": body, "lr": config.learning_rate, "base_lr": config.learning_rate},
        {"params": head, "lr": config.head_learning_rate, "base_lr": config.head_learning_rate},
    ]
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def lr_factor(step: int, total: int, warmup_ratio: float) -> float:
    """Linear warm-up, then linear decay to zero."""
    warmup = max(1, int(total * warmup_ratio))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def class_weighted_loss(labels: torch.Tensor, weighted: bool, label_smoothing: float = 0.0) -> torch.nn.Module:
    """Cross-entropy weighted by inverse class frequency, so the rarer class counts as much."""
    counts = torch.bincount(labels, minlength=2).float().clamp(min=1)
    weight = (counts.sum() / (2 * counts)) if weighted else torch.ones(2)
    return torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)


class DistillationLoss(torch.nn.Module):
    """Knowledge distillation (Hinton et al., 2015): `alpha` x the hard-label loss + (1 - alpha) x T^2 x
    KL(teacher || student) on both models' logits softened by temperature T. `teacher` holds the teacher's
    logits for the batch being trained (set by the loop before each step)."""

    def __init__(self, hard: torch.nn.Module, alpha: float, temperature: float) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0 or temperature <= 0:
            raise ConfigError(f"distillation needs 0 <= alpha <= 1 and temperature > 0, got {alpha}, {temperature}")
        self.hard, self.alpha, self.temperature = hard, alpha, temperature
        self.teacher: torch.Tensor | None = None

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.teacher is None or self.teacher.shape != logits.shape:
            raise RuntimeError("DistillationLoss: set .teacher to the batch's teacher logits before the step")
        t = self.temperature
        soft = torch.nn.functional.kl_div(
            torch.log_softmax(logits / t, dim=-1),
            torch.log_softmax(self.teacher.float() / t, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        loss: torch.Tensor = self.alpha * self.hard(logits, labels) + (1 - self.alpha) * t * t * soft
        return loss


def untitled_input(item: LabelledNote) -> str:
    """The model input of a note shown as a caption would be: the same body, no title."""
    return model_input(Note(text=item.note.text))


def pick_ids(
    ids: Sequence[list[int]], untitled: Sequence[list[int]] | None, batch: Sequence[int], share: float, key: list[int]
) -> list[list[int]]:
    """Token ids for one batch: each note shown without its title with probability `share` (seeded by `key`)."""
    if untitled is None or share <= 0:
        return [ids[i] for i in batch]
    drop = np.random.default_rng(key).random(len(batch)) < share
    return [untitled[i] if d else ids[i] for i, d in zip(batch, drop, strict=True)]


def train_step(
    scorer: TransformerScorer,
    optimizer: torch.optim.Optimizer,
    loss_fn: torch.nn.Module,
    ids: Sequence[Sequence[int]],
    labels: torch.Tensor,
    lr_scale: float,
    bf16: bool,
) -> torch.Tensor:
    """One optimizer step on one batch of token ids; returns the loss. Shared with the training benchmark."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * lr_scale
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = scorer.model(**scorer.collate(ids)).logits
    loss = loss_fn(logits.float(), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(scorer.model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def validation_f1(scorer: TransformerScorer, texts: list[str], labels: np.ndarray) -> float:
    scorer.model.eval()
    logits = scorer.score(texts).logits
    return binary_macro_f1(labels, logits.argmax(axis=1))


def fit(
    scorer: TransformerScorer,
    train: Sequence[LabelledNote],
    validation: Sequence[LabelledNote],
    config: TrainConfig,
    work_dir: Path,
    teacher_logits: np.ndarray | None = None,
) -> FitResult:
    """Train `scorer.model` in place; keeps the epoch with the best validation macro-F1.

    With `teacher_logits` ((len(train), 2), a teacher's logits for the training notes in order) the loss is
    `DistillationLoss` with `config.distill_alpha` and `config.distill_temperature`."""
    import time

    model = scorer.model
    enc = scorer.encode([model_input(n.note) for n in train])
    untitled = scorer.encode([untitled_input(n) for n in train]).ids if config.title_dropout > 0 else None
    y = torch.tensor(labels_of(train))
    val_texts, val_labels = [model_input(n.note) for n in validation], labels_of(validation)
    loss_fn = class_weighted_loss(y, config.class_weighting, config.label_smoothing)
    teacher = None
    if teacher_logits is not None:
        teacher = torch.as_tensor(np.asarray(teacher_logits, dtype=np.float32))
        if teacher.shape != (len(train), 2):
            raise ConfigError(f"teacher logits have shape {tuple(teacher.shape)}, need ({len(train)}, 2)")
        if untitled is not None:  # the teacher scored whole notes: an untitled note would get its titled score
            raise ConfigError("distillation needs title_dropout 0 (the teacher's logits are for whole notes)")
        loss_fn = DistillationLoss(loss_fn, config.distill_alpha, config.distill_temperature)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    ckpt_dir = work_dir / "checkpoint"
    progress = load_checkpoint(ckpt_dir, model, optimizer) or Progress(config_hash=config_hash(config))
    if progress.config_hash != config_hash(config):
        raise ConfigError(f"{ckpt_dir} belongs to a different run configuration; remove it to start over")
    if progress.global_step:
        log.info("resuming from step %d (epoch %d)", progress.global_step, progress.epoch + 1)
    bf16 = use_bf16(config.precision)
    started, seen = time.perf_counter(), 0
    bar = tqdm(total=total, initial=progress.global_step, desc="train", unit="step", dynamic_ncols=True)
    while not progress.done and progress.epoch < config.epochs:
        batches = epoch_batches([len(s) for s in enc.ids], config.batch_size, config.seed, progress.epoch)
        for batch in batches[progress.step_in_epoch :]:
            if config.max_steps and progress.global_step >= config.max_steps:
                break
            model.train()
            torch.manual_seed(config.seed * 1_000_003 + progress.global_step)  # dropout, resume-stable
            factor = lr_factor(progress.global_step, total, config.warmup_ratio)
            batch_ids = pick_ids(enc.ids, untitled, batch, config.title_dropout, [config.seed, progress.global_step])
            if isinstance(loss_fn, DistillationLoss) and teacher is not None:
                loss_fn.teacher = teacher[batch]
            loss = train_step(scorer, optimizer, loss_fn, batch_ids, y[batch], factor, bf16)
            progress.step_in_epoch += 1
            progress.global_step += 1
            seen += len(batch)
            bar.update(1)
            bar.set_postfix(epoch=progress.epoch + 1, loss=f"{loss.item():.3f}")
            if progress.global_step % config.checkpoint_every == 0:
                save_checkpoint(ckpt_dir, model, optimizer, progress)
        f1 = validation_f1(scorer, val_texts, val_labels)
        log.info("epoch %d: validation macro-F1 %.4f", progress.epoch + 1, f1)
        if f1 > progress.best_f1:
            progress.best_f1, progress.best_epoch, progress.bad_epochs = f1, progress.epoch, 0
            save_best(ckpt_dir, model)
        else:
            progress.bad_epochs += 1
        stop = progress.bad_epochs >= config.patience or (config.max_steps and progress.global_step >= config.max_steps)
        progress.epoch, progress.step_in_epoch, progress.done = progress.epoch + 1, 0, bool(stop)
        save_checkpoint(ckpt_dir, model, optimizer, progress)
        if stop:
            log.info("stopping after epoch %d", progress.epoch)
    bar.close()
    load_best(ckpt_dir, model)
    model.eval()
    seconds = time.perf_counter() - started
    return FitResult(
        progress.best_epoch + 1, progress.best_f1, progress.global_step, seconds, seen / max(seconds, 1e-9)
    )
