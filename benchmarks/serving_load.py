"""Serving under load: `notecheck serve` on loopback, dynamic batching on and off, concurrency 1, 8 and 32.

For each batching mode it starts the server (uvicorn, 127.0.0.1, a free port, no API keys: loopback
only), waits for `/readyz`, sends a warm-up, then for each concurrency a fixed number of requests from an
asyncio httpx client (1 note per request by default), and stops the server. It reports p50/p95/p99
latency, requests/s, notes/s and errors, and the ratio of concurrency-32 notes/s (batching on) to the
offline `predict` notes/s measured in the same run on the same notes with the same runtime.

The load generator shares the machine's cores with the server: that is part of what is measured.

    python benchmarks/serving_load.py --model runs/default [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    REPO_ROOT,
    BenchmarkError,
    bench_notes,
    check_model,
    machine_info,
    machine_line,
    markdown_table,
    physical_cores,
    run_worker,
    save_result,
    scratch_dir,
    setup_logging,
    write_notes,
)
from benchmarks.offline_throughput import RECOMMENDED_RUNTIME  # noqa: E402
from notecheck.model.options import RUNTIMES  # noqa: E402
from notecheck.model.schema import Note  # noqa: E402

log = logging.getLogger("benchmarks.serving")
HOST = "127.0.0.1"
READY_TIMEOUT_S = 300.0
TARGET_RATIO = 0.9


@dataclass
class LoadConfig:
    model: Path
    runtime: str = RECOMMENDED_RUNTIME
    concurrency: dict[int, int] = field(default_factory=lambda: {1: 100, 8: 400, 32: 960})  # -> requests
    notes_per_request: int = 1
    threads: int = field(default_factory=physical_cores)  # the offline reference's torch threads
    request_timeout_s: float = 120.0
    phase_timeout_s: float = 1800.0  # one concurrency level, all its requests


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(config: LoadConfig, batching: bool, log_path: Path) -> Iterator[str]:
    """`notecheck serve` in a subprocess on loopback; yields its base URL once ready, always stops it."""
    settings = {"RUNTIME": config.runtime, "BATCHING": "true" if batching else "false"}
    with server_process(config.model, settings, log_path) as (url, _proc):
        log.info("server ready on %s (batching %s)", url, "on" if batching else "off")
        yield url


@contextlib.contextmanager
def server_process(
    model: Path, settings: dict[str, str], log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`notecheck serve` in a subprocess on loopback and a free port, `settings` given as `NOTECHECK_<KEY>`
    and `extra_env` as is; yields (base URL, process) once `/readyz` says 200, and always stops it."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTECHECK_")}
    env.update(
        NOTECHECK_MODEL_DIR=str(model), NOTECHECK_HOST=HOST, NOTECHECK_PORT=str(port), TOKENIZERS_PARALLELISM="false"
    )
    env.update({f"NOTECHECK_{key.upper()}": value for key, value in settings.items()})
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "notecheck", "serve"]
    with log_path.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"server exited ({proc.returncode}): {log_path.read_text()[-1500:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchmarkError(f"server not ready after {READY_TIMEOUT_S:.0f}s: {log_path.read_text()[-1500:]}")
            time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def request_bodies(notes: list[Note], per_request: int) -> list[bytes]:
    """Pre-serialised request bodies, so the client spends its CPU on sending, not on JSON."""
    bodies = []
    for start in range(0, len(notes) - per_request + 1, per_request):
        chunk = notes[start : start + per_request]
        payload = {"notes": [{"id": n.id or str(i), "text": n.text, "title": n.title} for i, n in enumerate(chunk)]}
        bodies.append(json.dumps(payload, ensure_ascii=False).encode())
    return bodies


async def generate_load(
    url: str, bodies: list[bytes], concurrency: int, requests: int, per_request: int, timeout_s: float
) -> dict[str, Any]:
    """`requests` POSTs to /v1/predict from `concurrency` concurrent clients; latency percentiles and rates."""
    import httpx
    import numpy as np

    latencies: list[float] = []
    errors: dict[str, int] = {}
    order = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:

        async def client_loop() -> None:
            for i in order:  # one shared iterator: each request is sent exactly once
                started = time.perf_counter()
                try:
                    reply = await client.post("/v1/predict", content=bodies[i % len(bodies)], headers=headers)
                    outcome = "ok" if reply.status_code == 200 else f"http_{reply.status_code}"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                if outcome == "ok":
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[outcome] = errors.get(outcome, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": wall,
        "requests_per_s": len(latencies) / wall,
        "notes_per_s": len(latencies) * per_request / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def offline_reference(config: LoadConfig, notes: list[Note]) -> dict[str, Any]:
    """`predict` notes/s on the same notes and runtime, in its own process (offline_throughput's worker)."""
    with scratch_dir() as tmp:
        path = write_notes(notes, Path(tmp) / "notes.jsonl")
        args = ["--worker", "notecheck", "--notes-file", str(path), "--model", str(config.model)]
        args += ["--runtime", config.runtime, "--threads", str(config.threads)]
        return run_worker(REPO_ROOT / "benchmarks" / "offline_throughput.py", args, config.phase_timeout_s)


def run_load(config: LoadConfig) -> dict[str, Any]:
    """The whole benchmark: offline reference, then each batching mode at each concurrency."""
    check_model(config.model)
    most = max(config.concurrency.values()) * config.notes_per_request
    notes = bench_notes(most).notes
    bodies = request_bodies(notes, config.notes_per_request)
    offline = offline_reference(config, notes)
    log.info("offline reference: %.1f notes/s", offline["notes_per_s"])
    modes: dict[str, list[dict[str, Any]]] = {}
    with scratch_dir() as tmp:
        for batching in (True, False):
            mode = "batching_on" if batching else "batching_off"
            modes[mode] = []
            with running_server(config, batching, Path(tmp) / f"{mode}.log") as url:
                asyncio.run(generate_load(url, bodies, 4, 8, config.notes_per_request, config.request_timeout_s))
                for concurrency, requests in config.concurrency.items():
                    phase = generate_load(
                        url, bodies, concurrency, requests, config.notes_per_request, config.request_timeout_s
                    )
                    figures = asyncio.run(asyncio.wait_for(phase, config.phase_timeout_s))
                    figures["ratio_to_offline"] = figures["notes_per_s"] / offline["notes_per_s"]
                    modes[mode].append(figures)
                    log.info(
                        "%s c=%d: %.1f notes/s, p50 %.0f ms, p99 %.0f ms, %d errors",
                        mode,
                        concurrency,
                        figures["notes_per_s"],
                        figures["p50_ms"],
                        figures["p99_ms"],
                        figures["errors"],
                    )
    top = max(config.concurrency)
    at_top = next(f for f in modes["batching_on"] if f["concurrency"] == top)
    return {
        "benchmark": "serving_load",
        "machine": machine_info(config.threads),
        "config": {**asdict(config), "model": str(config.model)},
        "offline": offline,
        "modes": modes,
        "top_concurrency": top,
        "ratio_to_offline": at_top["ratio_to_offline"],
        "target_ratio": TARGET_RATIO,
        "target_met": at_top["ratio_to_offline"] >= TARGET_RATIO,
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            mode.replace("_", " "),
            f["concurrency"],
            f["requests"],
            f["p50_ms"],
            f["p95_ms"],
            f["p99_ms"],
            f["requests_per_s"],
            f["notes_per_s"],
            f["errors"],
            f"{f['ratio_to_offline']:.2f}",
        ]
        for mode, phases in result["modes"].items()
        for f in phases
    ]
    heads = ["batching", "concurrency", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s", "notes/s", "errors"]
    cfg = result["config"]
    verdict = "met" if result["target_met"] else "MISSED"
    return "\n".join(
        [
            f"### Serving under load (runtime {cfg['runtime']}, {cfg['notes_per_request']} note(s) per request)",
            machine_line(result["machine"]),
            "",
            markdown_table([*heads, "/ offline"], rows),
            "",
            f"Offline `predict` on the same notes: {result['offline']['notes_per_s']:.1f} notes/s. "
            f"Concurrency {result['top_concurrency']} with batching reaches **{result['ratio_to_offline']:.2f}x** "
            f"of it (target {result['target_ratio']}: {verdict}).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model directory (default runs/default)")
    parser.add_argument("--quick", action="store_true", help="smoke run: few requests per level")
    parser.add_argument("--runtime", default=RECOMMENDED_RUNTIME, choices=RUNTIMES)
    parser.add_argument("--notes-per-request", type=int, default=1)
    parser.add_argument("--requests-scale", type=float, default=1.0, help="multiply the request counts")
    args = parser.parse_args(argv)
    setup_logging()
    base = {1: 10, 8: 40, 32: 96} if args.quick else {1: 100, 8: 400, 32: 960}
    counts = {c: max(c, round(n * args.requests_scale)) for c, n in base.items()}
    config = LoadConfig(Path(args.model), args.runtime, counts, args.notes_per_request)
    result = run_load(config)
    path = save_result("serving_load" + ("_quick" if args.quick else ""), result)
    print(render(result))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
