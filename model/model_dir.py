"""What a model directory must hold, checked cheaply (no weights, no tokenizer built) before anything loads.

`Classifier.from_pretrained` runs these checks first, so a wrong directory is named by the file at fault
(not by whichever library happened to trip over it), and `notecheck serve` runs them before it starts the
server, so a wrong directory ends the command at once instead of a server answering 503 forever.

>>> inspect_model_dir("runs/default").version  # doctest: +SKIP
'1.2.0'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from notecheck.model.errors import ModelLoadError
from notecheck.model.metadata import FIX, METADATA_FILE, ModelMetadata
from notecheck.model.schema import CLASSIFIER_LABELS

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
#: Weights are read from safetensors only, never from pickles.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def inspect_model_dir(path: str | Path) -> ModelMetadata:
    """The directory's metadata, once every file its backend needs is there and its small JSON files
    read: `ModelLoadError` naming the file at fault, what is wrong and what to do otherwise."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(path, "model directory not found")
    if not path.is_dir():
        raise ModelLoadError(path, f"not a directory: {FIX}")
    metadata = ModelMetadata.load(path)
    if metadata.backend == "transformer":
        check_transformer_files(path)
        if metadata.vocab.get("file"):  # a trimmed tokenizer needs none: its ids are the rows
            from notecheck.model.vocab import REMAP_FILE

            _require(path / REMAP_FILE, "the trimmed vocabulary's remap, which notecheck.json names")
    elif metadata.backend == "tfidf":
        from notecheck.model.tfidf import PARAMS_FILE, VOCAB_FILE, WEIGHTS_FILE

        for name in (PARAMS_FILE, VOCAB_FILE, WEIGHTS_FILE):
            _require(path / name, "the TF-IDF model's")
    else:
        raise ModelLoadError(path / METADATA_FILE, f"unknown backend '{metadata.backend}': {FIX}")
    return metadata


def check_transformer_files(path: Path) -> None:
    """`config.json` readable and labelled as our classifier, the tokenizer and safetensors weights there."""
    config = _read_object(path / CONFIG_FILE)
    check_labels(path / CONFIG_FILE, config.get("id2label"))
    _require(path / TOKENIZER_FILE, "the tokenizer the model was trained with")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise ModelLoadError(path / WEIGHT_FILES[0], f"missing (only safetensors weights are loaded): {FIX}")


def check_labels(where: Path, id2label: Any) -> None:
    """`id2label` must name exactly our classes, in order: a head with other classes would be read wrongly."""
    expected = ", ".join(CLASSIFIER_LABELS)
    if not isinstance(id2label, dict) or not id2label:
        raise ModelLoadError(where, f"no id2label: a notecheck classifier has the labels {expected}; {FIX}")
    named = {str(k): v for k, v in id2label.items()}  # JSON keys are strings, transformers' are ints
    if [named.get(str(i)) for i in range(len(named))] != list(CLASSIFIER_LABELS):
        found = ", ".join(str(v) for v in named.values())
        raise ModelLoadError(
            where,
            f"id2label has {len(named)} labels ({found}); a notecheck classifier has "
            f"{len(CLASSIFIER_LABELS)} ({expected}, in this order): {FIX}",
        )


def _require(path: Path, what: str) -> None:
    if not path.is_file():
        raise ModelLoadError(path, f"missing ({what}): {FIX}")


def _read_object(path: Path) -> dict[str, Any]:
    _require(path, "the model's configuration")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(path, f"unreadable ({exc}): {FIX}") from exc
    except json.JSONDecodeError as exc:
        raise ModelLoadError(path, f"not valid JSON ({exc.msg} at line {exc.lineno}): {FIX}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(path, f"not a JSON object: {FIX}")
    return data
