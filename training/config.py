"""What defines a training run: one dataclass, loaded from YAML with command-line overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from notecheck.model.errors import ConfigError
from notecheck.model.options import BACKENDS, PRECISIONS
from notecheck.model.paths import bundled_path
from notecheck.training.encoder.build import DEFAULT_BASE_MODEL

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.yaml"


RECIPES = ("ft", "lp", "lp_ft")


@dataclass
class TrainConfig:
    model: str = "transformer"  # "transformer" or "tfidf"
    # how the transformer is trained: "ft" fine-tunes from a fresh head; "lp" fits a linear probe on frozen
    # mean-pooled embeddings and stops; "lp_ft" fine-tunes from that probe (see training/probe.py)
    recipe: str = "ft"
    pooling: str = "cls"  # "cls" (transformers' head) or "mean" (model/pooling.py; lp and lp_ft need it)
    wise_alpha: float = 1.0  # WiSE-FT: final = (1 - a) * probe-initialised + a * fine-tuned (lp_ft only)
    probe_c: float = 0.0  # the probe's inverse regularisation; 0 picks it by validation log-loss
    label_smoothing: float = 0.0  # cross-entropy label smoothing while fine-tuning
    title_dropout: float = 0.0  # share of training notes shown without their title each epoch (captions have none)
    teacher: str = ""  # distillation (`notecheck distill`): the teacher model directory whose logits are learnt
    distill_alpha: float = 0.5  # weight of the hard-label loss; 1 - alpha goes to matching the teacher
    distill_temperature: float = 2.0  # softening of both models' logits in the distillation loss
    data: list[str] = field(default_factory=lambda: ["data/notes"])  # files or directories
    split_file: str = "data/splits.json"  # frozen split record; written on first use
    base_model: str = DEFAULT_BASE_MODEL  # alias of the bundled encoder, a HF id or a local directory
    out: str = "runs/default"  # the model directory written at the end
    text_column: str = "text"
    label_column: str = "label"
    id_column: str = "id"
    label_map: str = ""  # extra RAW=LABEL pairs, comma separated
    skip_invalid: bool = False
    max_length: int = 256  # tokens per note; longer notes are truncated (and reported)
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 5e-5  # encoder
    head_learning_rate: float = 5e-4  # the freshly initialised classifier head learns faster
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    freeze_embeddings: bool = True  # 96M of e5-small's 118M parameters are word embeddings
    class_weighting: bool = True  # weight the loss by inverse class frequency
    patience: int = 2  # epochs without validation macro-F1 gain before stopping
    precision: str = "auto"  # auto | fp32 | bf16
    seed: int = 13
    checkpoint_every: int = 40  # optimizer steps between resumable checkpoints
    max_steps: int = 0  # stop after this many steps (0: no limit); for smoke runs
    combiner: bool = True  # join the model's logit with the note's rule signals (fitted on validation)
    flag_precision: float = 0.95  # target precision of the `flag` action on validation
    review_recall: float = 0.90  # target recall of the `review` action on validation
    version: str = ""  # model version; derived from time and data hash when empty

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
        values = dict(data)
        if isinstance(values.get("data"), str):
            values["data"] = [values["data"]]
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> TrainConfig:
        """Read a YAML config (the default one when `path` is None) and apply non-None overrides."""
        path = Path(path) if path else DEFAULT_CONFIG
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from exc
        if path == DEFAULT_CONFIG:
            data["data"] = [
                bundled_path(d) for d in ([data["data"]] if isinstance(data["data"], str) else data["data"])
            ]
            data["split_file"] = bundled_path(data["split_file"])
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)

    def validate(self) -> None:
        if self.model not in BACKENDS:
            raise ConfigError(f"model: must be one of {', '.join(BACKENDS)}, got '{self.model}'")
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe: must be one of {', '.join(RECIPES)}, got '{self.recipe}'")
        if self.pooling not in ("cls", "mean"):
            raise ConfigError(f"pooling: must be 'cls' or 'mean', got '{self.pooling}'")
        if self.recipe != "ft" and self.pooling != "mean":
            raise ConfigError(f"recipe '{self.recipe}' needs pooling: mean (the probe reads mean-pooled embeddings)")
        for name in ("wise_alpha", "title_dropout"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name}: must be between 0 and 1")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError("label_smoothing: must be in [0, 0.5)")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision: must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")
        if not 8 <= self.max_length <= 512:
            raise ConfigError(f"max_length: must be between 8 and 512, got {self.max_length}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1")
        for name in ("flag_precision", "review_recall"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be between 0 and 1")
