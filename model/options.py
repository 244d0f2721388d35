"""The choices and defaults that several layers offer, each declared once.

The CLI's flags, `serving.settings.Settings`, the training config and the model code all name these. They live
here, free of heavy imports (no numpy, no torch), so `notecheck --help` and `Settings` can use them without
loading a model.

>>> "bf16" in RUNTIMES
True
"""

from __future__ import annotations

from typing import Literal, get_args

#: Inference runtimes (`model.torch_runtime.apply_runtime`): torch fp32 is exact; bf16 and int8 trade a little accuracy
#: for speed on CPUs with the matching instructions; `openvino` runs the same model compiled by OpenVINO, in bf16
#: where the CPU has native bf16 (AVX512-BF16 or AMX), else fp32 (`model.openvino_runtime`). `auto` is openvino
#: where installed, else bf16 where native, else fp32 (`model.scorer.resolve_runtime`).
Runtime = Literal["auto", "fp32", "bf16", "int8", "openvino"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
DEFAULT_RUNTIME: Runtime = "auto"

#: Training precisions: `auto` trains under bf16 autocast where the CPU has native bf16, else in fp32.
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

#: Model backends: the fine-tuned transformer, or the character n-gram TF-IDF baseline.
Backend = Literal["transformer", "tfidf"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)

#: Word-attribution methods (`model.explain`).
ExplainMethod = Literal["ig", "grad_x_input", "occlusion"]
EXPLAIN_METHODS: tuple[ExplainMethod, ...] = get_args(ExplainMethod)

#: Users' note files: suffix -> format, for every reader and writer of them.
NOTE_FORMATS: dict[str, str] = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Tables (the KOL ranking): the note formats with columns.
TABLE_FORMATS: dict[str, str] = {suffix: kind for suffix, kind in NOTE_FORMATS.items() if kind != "jsonl"}

#: Notes per `predict` call in offline scoring: it bounds memory and is the unit a resumed run restarts from.
CHUNK_SIZE = 512

#: The retrain gate: the largest macro-F1 drop a candidate may show overall, and in any language slice.
RETRAIN_TOLERANCE = 0.01
RETRAIN_SLICE_TOLERANCE = 0.03


def describe_formats(formats: dict[str, str]) -> str:
    """The suffixes to suggest in an error message, one per format (aliases such as `.pq` left out).

    >>> describe_formats(TABLE_FORMATS)
    '.csv or .parquet'
    """
    first: dict[str, str] = {}
    for suffix, kind in formats.items():
        first.setdefault(kind, suffix)
    *others, last = first.values()
    return f"{', '.join(others)} or {last}" if others else last
