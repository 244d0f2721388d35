"""A shallower copy of a BERT-style model directory: only some of its transformer layers, renumbered.

The start of a distilled student (`training.distill`) and of the shallow encoders the cross-writer benchmark
compares (`benchmarks/generalization.py --keep-layers`). Works on a base encoder and on a trained classifier
(keys under `bert.encoder.layer.N`) alike; every other file of the directory is copied as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from notecheck.model.errors import ConfigError

WEIGHTS = "model.safetensors"
#: an encoder's layer key, or a classifier's (`bert.encoder.layer.N.…`)
LAYER_KEY = re.compile(r"(^|\.)encoder\.layer\.(\d+)\.")


def parse_layers(value: str, option: str = "layers") -> list[int]:
    """`"0,2,4"` -> [0, 2, 4]; ConfigError naming `option` and the value when it is not a comma-separated list
    of integers."""
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option}: comma-separated layer numbers such as 0,2,4,6,8,10, not '{value}'") from None


def every_other_layer(source: Path) -> list[int]:
    """Layers 0, 2, 4, ... of the model in `source`: half its depth, spread over all of it (DistilBERT's
    choice)."""
    return list(range(0, layer_count(source), 2))


def layer_count(source: Path) -> int:
    """The number of transformer layers of the model in `source` (ConfigError when it cannot be read)."""
    try:
        count = json.loads((source / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{source / 'config.json'}: no readable num_hidden_layers ({exc})") from exc
    return int(count)


def check_layers(source: Path, layers: Sequence[int], option: str = "layers") -> None:
    """ConfigError unless `source` is a local directory with one safetensors file and `layers` are distinct
    layers of it; the message names `option`, where the layers came from."""
    if not (source / "config.json").is_file() or not (source / WEIGHTS).is_file():
        raise ConfigError(f"{source}: keeping layers needs a local model directory with one {WEIGHTS}")
    count = layer_count(source)
    if not layers or len(set(layers)) != len(layers) or any(not 0 <= i < count for i in layers):
        raise ConfigError(f"{option}: distinct layers of 0..{count - 1}, got {list(layers)}")


def keep_layers(source: Path, layers: Sequence[int], target: Path) -> Path:
    """Write to `target` a copy of the model in `source` with only `layers` (in that order, renumbered from 0):
    weights, `num_hidden_layers` and every other file. Built aside and renamed into place, so `target` is
    complete or absent; an existing `target` is replaced. Returns `target`."""
    from safetensors.numpy import load_file, save_file

    check_layers(source, layers)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    renumber = {old: new for new, old in enumerate(layers)}
    weights = {}
    for key, value in load_file(str(source / WEIGHTS)).items():
        found = LAYER_KEY.search(key)
        if found:
            if int(found.group(2)) not in renumber:
                continue
            key = f"{key[: found.start(2)]}{renumber[int(found.group(2))]}{key[found.end(2) :]}"
        weights[key] = value
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for name in os.listdir(source):
            if name not in (WEIGHTS, "config.json") and (source / name).is_file():
                shutil.copyfile(source / name, staging / name)
        (staging / "config.json").write_text(json.dumps({**config, "num_hidden_layers": len(layers)}, indent=2))
        save_file(weights, str(staging / WEIGHTS), metadata={"format": "pt"})
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
