"""The one metadata file of ours that sits beside `save_pretrained` output in a model directory."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from notecheck.model.errors import ModelLoadError

METADATA_FILE = "notecheck.json"
FORMAT_VERSION = 1
#: What to do about a directory that is not a whole notecheck model, said in every such error.
FIX = "retrain it (notecheck train) or point at a notecheck model directory"


@dataclass
class Thresholds:
    """Cut-offs on calibrated P(commercial). `review` <= `flag`; below `review` a note is allowed."""

    commercial: float = 0.5  # verdict boundary: at or above it a note is called commercial
    review: float = 0.5  # chosen on validation for recall >= target
    flag: float = 0.9  # chosen on validation for precision >= target


@dataclass
class ModelMetadata:
    """What defines a trained model beyond its weights. Saved as `notecheck.json`."""

    version: str = "0.0.0-untrained"
    backend: str = "transformer"  # "transformer" or "tfidf"
    base_model: str = ""  # the encoder it was fine-tuned from (id or path)
    max_length: int = 256  # tokens, including special tokens
    temperature: float = 1.0  # calibration: logits are divided by this
    thresholds: Thresholds = field(default_factory=Thresholds)
    training_data_hash: str = ""  # sha256 over the training notes
    test_split_hash: str = ""  # sha256 of the frozen test split it was evaluated on
    metrics: dict[str, Any] = field(default_factory=dict)
    # the signal combiner's weights (`model.combiner.Combiner.to_dict`); empty: P comes from the model alone
    combiner: dict[str, Any] = field(default_factory=dict)
    # a trimmed vocabulary: with `file`, the whole tokenizer read through a remap (`model.vocab.VocabRemap.record`);
    # without, a trimmed tokenizer whose ids are the rows (`training.vocab_trim`); empty: not trimmed
    vocab: dict[str, Any] = field(default_factory=dict)
    # an int8 copy for OpenVINO (`openvino_int8.xml`, written by `training.quantize`): how it was calibrated
    # and what it scored on the validation writers; empty: not quantized
    quantized: dict[str, Any] = field(default_factory=dict)
    # a student distilled from a deeper model (`training.distill`): its teacher, the layers it kept and both
    # models' validation and test macro-F1; empty: not distilled
    distilled: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the run config that produced it
    git_revision: str = ""
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["thresholds"] = Thresholds(**data.get("thresholds", {}))
        return cls(**kwargs)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / METADATA_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ModelMetadata:
        path = Path(directory) / METADATA_FILE
        if not path.is_file():
            raise ModelLoadError(path, f"missing: not a notecheck model directory (no metadata file); {FIX}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
            return cls.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(path, f"corrupt metadata ({exc}): {FIX}") from exc
