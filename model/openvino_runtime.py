"""The `openvino` runtime: the same transformer, converted once per model directory and run by OpenVINO.

PyTorch runs the encoder op by op: on a 2-core CPU with native bf16 its matrix products are fast, but the
attention, residual adds, layer norms and GELU around them take about 40% of the time. OpenVINO compiles
the whole graph, fuses those into its kernels and runs in bf16 where the CPU has native bf16 (AVX512-BF16
or AMX), else in fp32: about 1.3x torch bf16's notes/s at the same verdicts (README, "Speed on CPU";
`benchmarks/accuracy.py`).

Converting the torch model (`openvino.convert_model`, ~10 s for e5-small) happens once per model directory:
the result is cached under `cache_dir()` with fp16 weights, keyed by the model's weight and config files, so a
later load maps it in about a second without ever loading the torch weights. The torch model, and PyTorch itself
(~0.2 GB resident), are loaded only when something needs them (gradient explanations, saving, training code).

>>> OpenVinoEngine.precision_for(native_bf16=False)
'f32'
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from notecheck.model.errors import NotecheckError, first_line
from notecheck.model.model_dir import WEIGHT_FILES
from notecheck.model.scorer import TransformerScorer, bf16_is_fast, load_torch_model
from notecheck.model.tokenizer import FastTokenizer

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: Where converted models are cached (default `$XDG_CACHE_HOME/notecheck`, else `~/.cache/notecheck`).
CACHE_ENV = "NOTECHECK_CACHE_DIR"
#: Bump when the conversion changes: entries made by an older conversion are then never read.
CONVERSION_FORMAT = 2  # 2: weights cached in fp16
INPUTS = ("input_ids", "attention_mask")
#: A quantized copy's int8 model, beside its weights (`training.quantize`); loaded instead of converting.
INT8_FILE = "openvino_int8.xml"


class OpenVinoError(NotecheckError):
    """OpenVINO is not installed, or could not convert or compile this model."""


def openvino_available() -> bool:
    """Whether the `openvino` package is installed (it is a dependency; a trimmed install may lack it)."""
    return importlib.util.find_spec("openvino") is not None


def cache_dir() -> Path:
    """The folder converted models are cached in: `NOTECHECK_CACHE_DIR`, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "notecheck"


def cache_key(model_dir: Path) -> str:
    """A key that changes whenever the converted model would: the weights (size and modification time),
    `config.json`, the OpenVINO version and `CONVERSION_FORMAT`."""
    import openvino

    digest = hashlib.sha256(f"{CONVERSION_FORMAT}|{openvino.__version__}".encode())
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            stat = (model_dir / name).stat()
            digest.update(f"|{name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update((model_dir / "config.json").read_bytes())
    return digest.hexdigest()[:24]


def convert(model: torch.nn.Module) -> Any:
    """An `openvino.Model` of an fp32 sequence classifier, batch size and length left dynamic."""
    import openvino as ov
    import torch

    class _Logits(torch.nn.Module):
        """(input_ids, attention_mask) -> logits: the graph OpenVINO converts."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            logits: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            return logits

    ids = torch.tensor([[2, 5, 6, 3], [2, 5, 3, 0]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
    dynamic = [(name, ov.PartialShape([-1, -1]), ov.Type.i64) for name in INPUTS]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape checks that are constant for an encoder
        example = {"input_ids": ids, "attention_mask": mask}
        return ov.convert_model(_Logits(model.eval()), example_input=example, input=dynamic)


def save_atomic(ov_model: Any, target: Path) -> None:
    """Save an `openvino.Model` as `target` (.xml and .bin), written aside and renamed into place, so a
    reader never sees half a model and two processes converting at once do not corrupt each other."""
    import openvino as ov

    target.parent.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent.parent))
    try:
        # fp16 weights: half the file, and OpenVINO maps it rather than reading it, so only the embedding rows
        # notes use are ever resident (~0.2 GB less than fp32 weights; README, "Speed on CPU"). The forward
        # passes still run in bf16 or f32; fp16 keeps 11 significant bits to bf16's 8.
        ov.save_model(ov_model, staging / target.name, compress_to_fp16=True)
        with contextlib.suppress(OSError):  # another process got there first: theirs is the same model
            staging.rename(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class OpenVinoEngine:
    """A compiled model: numpy ids and mask in, (n, 2) float32 logits out. Safe to call from any thread
    (one inference at a time: each already uses every core)."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    @staticmethod
    def precision_for(native_bf16: bool) -> str:
        return "bf16" if native_bf16 else "f32"

    @classmethod
    def compile(cls, ov_model: Any, threads: int | None = None, precision: str | None = None) -> OpenVinoEngine:
        """Compile for this CPU: `precision` bf16 or f32 (default bf16 where native), `threads` as torch's."""
        import openvino as ov

        config = {
            "INFERENCE_NUM_THREADS": threads or intra_op_threads(),
            "INFERENCE_PRECISION_HINT": precision or cls.precision_for(bf16_is_fast()),
            "PERFORMANCE_HINT": "LATENCY",  # one stream: a batch uses all the threads
        }
        return cls(ov.Core().compile_model(ov_model, "CPU", config))

    @property
    def precision(self) -> str:
        return str(self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string())  # "bf16" or "f32"

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with self._lock:
            out = self._request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
            # a copy: the request reuses its output buffer on the next call
            return np.array(out[self.compiled.output(0)], dtype=np.float32)


def intra_op_threads() -> int:
    """Threads for one inference, as torch would use them: torch's setting where torch is loaded, else
    `OMP_NUM_THREADS`, else 0 (OpenVINO's default: one per core)."""
    if "torch" in sys.modules:
        return int(sys.modules["torch"].get_num_threads())
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0


def load_engine(path: Path, cache: Path | None = None) -> tuple[OpenVinoEngine, str]:
    """The compiled model of a directory; (engine, how it was found: "quantized int8" for a directory
    `notecheck quantize` wrote, else "cached", "converted" or "converted, not cached")."""
    if not openvino_available():
        raise OpenVinoError("the openvino package is not installed (pip install openvino)")
    import openvino as ov

    if (path / INT8_FILE).is_file():
        try:
            return _compiled(ov.Core().read_model(path / INT8_FILE), path), "quantized int8"
        except RuntimeError as exc:
            raise OpenVinoError(
                f"{path / INT8_FILE} does not load ({first_line(exc)}): quantize the model again"
            ) from exc
    ov_model, how = converted_model(path, cache)
    return _compiled(ov_model, path), how


def converted_model(path: Path, cache: Path | None = None) -> tuple[Any, str]:
    """The directory's `openvino.Model` with fp16 weights: from the cache, else converted now and cached;
    (model, "cached", "converted" or "converted, not cached")."""
    import openvino as ov

    target = (cache or cache_dir()) / "openvino" / cache_key(path) / "model.xml"
    try:
        if target.is_file():
            return ov.Core().read_model(target), "cached"
    except RuntimeError as exc:  # a damaged entry: convert again
        log.warning("openvino: cached model %s unreadable (%s): converting again", target, first_line(exc))
        shutil.rmtree(target.parent, ignore_errors=True)
    log.info("openvino: converting %s (once per model directory)", path)
    torch_model = load_torch_model(path, "fp32")
    try:
        ov_model = convert(torch_model)
    except Exception as exc:  # noqa: BLE001 - the converter raises many kinds
        raise OpenVinoError(f"openvino cannot convert {path}: {first_line(exc)}") from exc
    del torch_model  # the converted model holds its own copy of the weights
    try:
        save_atomic(ov_model, target)
        return ov.Core().read_model(target), "converted"
    except (OSError, RuntimeError) as exc:  # a read-only or broken cache: still serve, convert again next time
        log.warning("openvino: cannot cache the converted model in %s: %s", target.parent, first_line(exc))
    with tempfile.TemporaryDirectory(prefix="notecheck-openvino-") as scratch:
        # read back what was saved even so: the first run scores with the fp16 weights every later one reads
        # (into memory, not mapped: the scratch folder goes away)
        ov.save_model(ov_model, Path(scratch) / "model.xml", compress_to_fp16=True)
        core = ov.Core()
        core.set_property({"ENABLE_MMAP": False})
        return core.read_model(Path(scratch) / "model.xml"), "converted, not cached"


def _compiled(ov_model: Any, path: Path) -> OpenVinoEngine:
    try:
        return OpenVinoEngine.compile(ov_model)
    except RuntimeError as exc:
        raise OpenVinoError(f"openvino cannot compile {path} for this CPU: {first_line(exc)}") from exc


class OpenVinoScorer(TransformerScorer):
    """A `TransformerScorer` whose forward passes run in OpenVINO. Tokenization, batching and padding are
    the parent's; `model` (the torch classifier, for gradients and saving) loads on first access, in the
    precision the torch runtime would use here (bf16 where native, else fp32)."""

    def __init__(
        self,
        engine: Callable[[np.ndarray, np.ndarray], np.ndarray],
        tokenizer: Any,
        max_length: int,
        load_model: Callable[[], torch.nn.Module],
        **kwargs: Any,
    ) -> None:
        self._torch: torch.nn.Module | None = None
        self._load_model = load_model
        self._torch_lock = threading.Lock()  # explanations on several server threads load it once
        super().__init__(None, tokenizer, max_length=max_length, **kwargs)
        self.engine = engine
        self.runtime = "openvino"
        self.source: Path | None = None  # the model directory it was loaded from

    @property
    def model(self) -> torch.nn.Module:
        with self._torch_lock:
            if self._torch is None:
                log.info("openvino runtime: loading the torch model (gradients or saving need it)")
                self._torch = self._load_model()
            return self._torch

    @model.setter
    def model(self, value: torch.nn.Module | None) -> None:
        self._torch = value
        self.source = None  # `save` then writes this model, not the directory's files

    @property
    def model_loaded(self) -> bool:
        """Whether the torch model has been loaded (scoring never needs it)."""
        return self._torch is not None

    def forward(self, inputs: dict[str, Any]) -> np.ndarray:
        return self.engine(np.asarray(inputs["input_ids"]), np.asarray(inputs["attention_mask"]))

    def save(self, path: str | Path) -> None:
        """The source directory's weights as they are (this scorer cannot change them; the torch model it
        loads for gradients is in bf16 where the CPU has native bf16, and saving that would lose precision),
        with its config, the int8 model `notecheck quantize` wrote, the tokenizer and any vocabulary remap."""
        if self.source is None:  # made in memory: only its torch model has the weights
            super().save(path)
            return
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        names = [f.name for f in self.source.glob("model*.safetensors*")]  # shards and their index too
        for name in (*names, "config.json", INT8_FILE, Path(INT8_FILE).with_suffix(".bin").name):
            source = self.source / name
            if source.is_file() and source.resolve() != (target / name).resolve():
                shutil.copyfile(source, target / name)
        self.tokenizer.save_pretrained(target)
        if self.vocab is not None:
            self.vocab.save(target)

    @classmethod
    def load(cls, path: str | Path, max_length: int, runtime: str = "openvino", **kwargs: Any) -> OpenVinoScorer:
        """Load a model directory for the `openvino` runtime: the cached conversion, or convert it now.
        Raises `OpenVinoError` when OpenVINO is missing or cannot run the model, `ModelLoadError` for a
        directory whose files are at fault."""
        from notecheck.model.scorer import torch_runtime

        path = Path(path)
        engine, how = load_engine(path)
        log.info("openvino runtime: %s model, %s precision", how, engine.precision)
        tokenizer = FastTokenizer.from_pretrained(path)
        fallback = torch_runtime()
        scorer = cls(engine, tokenizer, max_length, lambda: load_torch_model(path, fallback), **kwargs)
        scorer.source = path
        return scorer
