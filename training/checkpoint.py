"""Resumable training state without pickles: trainable weights and AdamW moments in safetensors,
counters in JSON, written atomically so a kill at any moment leaves the previous checkpoint intact."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


@dataclass
class Progress:
    epoch: int = 0  # epoch in progress (0-based)
    step_in_epoch: int = 0  # optimizer steps done in that epoch
    global_step: int = 0
    best_f1: float = -1.0
    best_epoch: int = -1
    bad_epochs: int = 0
    done: bool = False
    config_hash: str = ""


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters that training changes (frozen embeddings are reloaded from the base instead)."""
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, slots in state["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, slot = key.split(".", 1)
        state.setdefault(int(idx), {})[slot] = value
    for key, value in meta["scalars"].items():
        idx, slot = key.split(".", 1)
        state.setdefault(int(idx), {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: Progress
) -> None:
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
    tensors, meta = optimizer_tensors(optimizer)
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(meta))
    (tmp / "progress.json").write_text(json.dumps(asdict(progress), indent=1))
    best = directory / "best.safetensors"
    if best.exists():
        os.link(best, tmp / "best.safetensors")
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def save_best(directory: Path, model: torch.nn.Module) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / "best.safetensors.tmp"
    save_file(trainable_state(model), str(tmp))
    os.replace(tmp, directory / "best.safetensors")


def load_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Progress | None:
    """Restore model and optimizer from `directory`; None when there is no complete checkpoint."""
    old = directory.with_name(directory.name + ".old")
    if not directory.exists() and (old / "progress.json").is_file():
        old.rename(directory)  # killed between the two renames of save_checkpoint
    if not (directory / "progress.json").is_file():
        return None
    model.load_state_dict(load_file(str(directory / "trainable.safetensors")), strict=False)
    meta = json.loads((directory / "optimizer.json").read_text())
    restore_optimizer(optimizer, load_file(str(directory / "optimizer.safetensors")), meta)
    return Progress(**json.loads((directory / "progress.json").read_text()))


def load_best(directory: Path, model: torch.nn.Module) -> bool:
    path = directory / "best.safetensors"
    if not path.is_file():
        return False
    model.load_state_dict(load_file(str(path)), strict=False)
    return True
