"""What every benchmark shares: the machine description, the notes, worker subprocesses, results files.

Benchmarks run contenders in their own subprocesses (a fresh interpreter per measurement), so peak memory
is each contender's own and one contender's warm caches never help the other. A worker prints one JSON
line on stdout as its last line; `run_worker` parses it.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notecheck.model.errors import ModelLoadError, NotecheckError
from notecheck.model.schema import Note

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
DEFAULT_MODEL = "runs/default"
DATA_DIR = REPO_ROOT / "data" / "notes"
RESULT_MARK = "BENCH-RESULT "  # prefix of the worker's result line, so library chatter on stdout is ignored


class BenchmarkError(NotecheckError):
    """A benchmark cannot run (no model, a worker failed, a server never became ready)."""


@dataclass(frozen=True)
class NoteSet:
    """The notes a benchmark scores, with where they came from."""

    notes: list[Note]
    distinct: int  # how many different notes; the rest repeat them to reach the requested count
    source: str


def physical_cores() -> int:
    """Physical cores (torch's best thread count for matrix work); logical count where unknown."""
    import os

    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (falls back to `platform.processor()`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(threads: int) -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, torch threads and whether bf16 is native."""
    import os

    import torch

    from notecheck.model.scorer import bf16_is_fast

    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "torch_threads": threads,
        "native_bf16": bf16_is_fast(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        # other processes on the machine (1-minute load average): a busy machine makes every figure lower
        "load_average_1m": os.getloadavg()[0],
    }


def set_threads(threads: int) -> None:
    """Use `threads` intra-op threads: torch's setting where torch is loaded, `OMP_NUM_THREADS` for a torch
    loaded later and for OpenVINO (a contender that never needs torch must not import it: ~0.2 GB of RSS)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time this process has used (user + system, all threads). Notes per CPU-second move less than
    notes per wall-second when other processes share the cores, so both are reported."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def display_path(path: str | Path) -> str:
    """A path as results files record it: relative to the repository inside it, else only its name (a scratch
    or home folder says nothing to a reader and names the machine)."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return resolved.name


def check_model(model_dir: str | Path) -> Path:
    """The model directory, or `BenchmarkError` saying how to get one."""
    path = Path(model_dir)
    if not (path / "notecheck.json").is_file():
        raise BenchmarkError(
            f"{path}: no notecheck model here; train one (`notecheck train --out runs/bench-model --max-steps 30 "
            "--split-file runs/bench-split.json`) and pass --model runs/bench-model"
        )
    return path


def bench_notes(count: int, seed: int = 0, data_dir: Path = DATA_DIR) -> NoteSet:
    """`count` notes from the bundled data in a fixed shuffled order (Chinese and English, all lengths).

    When the data holds fewer notes than asked, they repeat (`distinct` says how many differ). Repeating
    does not flatter anyone: nothing here caches results by text.
    """
    from notecheck.model.loader import load_notes

    files = sorted(data_dir.glob("*.jsonl"))
    if not files:
        raise BenchmarkError(f"{data_dir}: no .jsonl note files to benchmark on")
    labelled, _ = load_notes(files, skip_invalid=True)
    notes = [item.note for item in labelled]
    if not notes:
        raise ModelLoadError(data_dir, "no valid notes")
    random.Random(seed).shuffle(notes)
    picked = [notes[i % len(notes)] for i in range(count)]
    return NoteSet(picked, min(count, len(notes)), f"{data_dir.relative_to(REPO_ROOT)}/*.jsonl")


def write_notes(notes: Sequence[Note], path: Path) -> Path:
    """Notes as JSONL (id, title, text) for a worker subprocess to read back with `read_notes`."""
    with path.open("w", encoding="utf-8") as out:
        for note in notes:
            out.write(json.dumps({"id": note.id, "title": note.title, "text": note.text}, ensure_ascii=False) + "\n")
    return path


def read_notes(path: Path) -> list[Note]:
    with path.open(encoding="utf-8") as lines:
        return [Note(**json.loads(line)) for line in lines if line.strip()]


def emit(result: dict[str, Any]) -> None:
    """A worker's answer: one marked JSON line on stdout."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def run_worker(script: Path, args: Sequence[str], timeout_s: float) -> dict[str, Any]:
    """Run `python script *args` in a fresh interpreter and return the JSON its worker emitted."""
    cmd = [sys.executable, str(script), *args]
    log.debug("worker: %s", " ".join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"worker {' '.join(args[:2])} ran past {timeout_s:.0f}s") from exc
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (done.stderr or done.stdout)[-2000:]
    raise BenchmarkError(f"worker {' '.join(args[:2])} failed (exit {done.returncode}): {tail}")


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="notecheck-bench-")


def save_result(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write `benchmarks/results/<name>.json`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats get up to 3 significant decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        return "–" if value is None else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"Machine: {machine['cpu']}, {machine['physical_cores']} physical / {machine['logical_cores']} logical "
        f"cores, torch {machine['torch']} with {machine['torch_threads']} threads, native bf16: "
        f"{'yes' if machine['native_bf16'] else 'no'}; 1-minute load average at the end: "
        f"{machine.get('load_average_1m', float('nan')):.1f}."
    )


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in ("httpx", "httpcore", "transformers", "datasets", "filelock", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def read_results(path: Path) -> Any:
    """A results file: JSON, gzip-compressed when its name ends in `.gz` (per-note rows make some large)."""
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def write_results(data: Any, path: Path) -> None:
    text = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text, mtime=0) if path.suffix == ".gz" else text)
