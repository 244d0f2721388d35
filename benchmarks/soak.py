"""Server memory under a long mixed load: does `notecheck serve`'s resident memory level off?

It starts `notecheck serve` on loopback (a free port, no API keys), waits for `/readyz`, then sends
`--requests` POSTs to /v1/predict: 1 to 16 notes each (most requests small, a few large: P(n) ∝ 1/n^skew),
drawn from the bundled notes (data/notes/*.jsonl, Chinese and English, 17 to 1,500+ characters), so batch
shapes keep changing. Clients arrive in waves: `--concurrency` at a time, and every `--burst-every`-th
wave `--burst-concurrency` at once followed by a short lull. A thread samples the server process's
resident memory (RSS, psutil) throughout.

It reports RSS after warm-up (once the first `--warmup-share` of the requests are answered) and at the end,
the peak, the end / warm-up ratio (target ≤ 1.2x), RSS at checkpoints, notes/s, and non-200 answers by
status. Server settings to compare (`--set BATCH_MAX_NOTES=32`) and environment variables
(`--env MALLOC_ARENA_MAX=2`) are passed to the server and recorded with the result.

    python benchmarks/soak.py --model runs/default --requests 5000 --runtime bf16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    RESULTS_DIR,
    bench_notes,
    check_model,
    machine_info,
    machine_line,
    markdown_table,
    physical_cores,
    save_result,
    scratch_dir,
    setup_logging,
)
from benchmarks.offline_throughput import RECOMMENDED_RUNTIME  # noqa: E402
from benchmarks.serving_load import server_process  # noqa: E402
from notecheck.model.options import RUNTIMES  # noqa: E402
from notecheck.model.schema import Note  # noqa: E402

log = logging.getLogger("benchmarks.soak")
TARGET_RATIO = 1.2
CHECKPOINTS = (0.1, 0.25, 0.5, 0.75, 1.0)  # shares of the requests answered
MIB = 1024 * 1024


@dataclass
class SoakConfig:
    model: Path
    runtime: str = RECOMMENDED_RUNTIME
    requests: int = 5000
    max_notes: int = 16  # notes per request: 1..max_notes
    size_skew: float = 2.0  # P(n notes) ∝ 1/n^skew: mostly single notes, now and then a full 16
    concurrency: int = 32  # clients in a steady wave
    burst_concurrency: int = 96  # clients in a burst wave
    wave: int = 200  # requests per wave
    burst_every: int = 4  # every n-th wave is a burst, followed by a lull
    lull_s: float = 1.0
    warmup_share: float = 0.1  # RSS "after warm-up" is read once this share of the requests is answered
    sample_s: float = 0.25  # RSS sampling period
    seed: int = 0
    settings: dict[str, str] = field(default_factory=dict)  # NOTECHECK_<KEY> for the server
    env: dict[str, str] = field(default_factory=dict)  # other environment variables for the server
    request_timeout_s: float = 300.0
    label: str = ""  # what this run measures, in words (a code version, a setting under test)


def request_sizes(count: int, max_notes: int, skew: float, seed: int) -> list[int]:
    """Notes per request: `count` draws from 1..max_notes with P(n) ∝ 1/n^skew.

    >>> sorted(set(request_sizes(2000, 16, 2.0, 0)))[:3], max(request_sizes(2000, 16, 2.0, 0))
    ([1, 2, 3], 16)
    """
    sizes = list(range(1, max_notes + 1))
    weights = [1 / n**skew for n in sizes]
    return random.Random(seed).choices(sizes, weights, k=count)


def request_bodies(notes: Sequence[Note], sizes: Sequence[int]) -> tuple[list[bytes], list[int]]:
    """Pre-serialised bodies (the client's CPU goes to sending, not to JSON) taking notes in turn, and how
    many notes each holds."""
    bodies, counts, at = [], [], 0
    for size in sizes:
        chunk = [notes[(at + i) % len(notes)] for i in range(size)]
        at += size
        payload = {
            "notes": [{"id": n.id or str(at + i), "text": n.text, "title": n.title} for i, n in enumerate(chunk)]
        }
        bodies.append(json.dumps(payload, ensure_ascii=False).encode())
        counts.append(size)
    return bodies, counts


class RssSampler(threading.Thread):
    """Samples a process's RSS (with its children's) every `period_s`, with how many requests were answered."""

    def __init__(self, pid: int, period_s: float, answered: list[int]) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.period_s = period_s
        self.answered = answered  # one shared counter, bumped by the load generator
        self.samples: list[tuple[float, int, float]] = []  # (seconds, requests answered, RSS MiB)
        self._halt = threading.Event()
        self._t0 = time.perf_counter()

    def rss_mib(self) -> float:
        import psutil

        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):  # a child that just ended
                total += child.memory_info().rss
        return total / MIB

    def sample(self) -> float:
        rss = self.rss_mib()
        self.samples.append((time.perf_counter() - self._t0, self.answered[0], rss))
        return rss

    def run(self) -> None:
        while not self._halt.wait(self.period_s):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()


async def send_load(
    url: str, config: SoakConfig, bodies: list[bytes], counts: list[int], answered: list[int]
) -> dict[str, Any]:
    """Send every body once, wave by wave; count answers by status and the notes answered with 200."""
    import httpx

    statuses: dict[str, int] = {}
    ok_notes = [0]
    done_at: list[float] = []  # perf_counter when each request was answered, in answer order
    headers = {"content-type": "application/json"}
    top = max(config.concurrency, config.burst_concurrency)
    limits = httpx.Limits(max_connections=top, max_keepalive_connections=top)
    async with httpx.AsyncClient(base_url=url, timeout=config.request_timeout_s, limits=limits) as client:

        async def client_loop(order: Any) -> None:
            for i in order:  # one shared iterator per wave: each request is sent exactly once
                try:
                    reply = await client.post("/v1/predict", content=bodies[i], headers=headers)
                    status = str(reply.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                statuses[status] = statuses.get(status, 0) + 1
                if status == "200":
                    ok_notes[0] += counts[i]
                answered[0] += 1
                done_at.append(time.perf_counter())

        started = time.perf_counter()
        for wave, start in enumerate(range(0, len(bodies), config.wave)):
            burst = config.burst_every > 0 and wave % config.burst_every == config.burst_every - 1
            order = iter(range(start, min(start + config.wave, len(bodies))))
            clients = config.burst_concurrency if burst else config.concurrency
            await asyncio.gather(*(client_loop(order) for _ in range(clients)))
            if burst and config.lull_s > 0:
                await asyncio.sleep(config.lull_s)
        wall = time.perf_counter() - started
    return {"statuses": statuses, "ok_notes": ok_notes[0], "seconds": wall, "started": started, "done_at": done_at}


def at_share(samples: Sequence[tuple[float, int, float]], answered: int) -> float:
    """RSS at the first sample taken once `answered` requests were answered (the last sample if none)."""
    return next((rss for _, n, rss in samples if n >= answered), samples[-1][2])


def summarise(
    config: SoakConfig, samples: list[tuple[float, int, float]], load: dict[str, Any], counts: list[int]
) -> dict[str, Any]:
    """RSS after warm-up, at the end and at its peak, the ratio, checkpoints, rates and statuses."""
    total = config.requests
    warm_n = max(1, round(total * config.warmup_share))
    warm_rss = at_share(samples, warm_n)
    end_rss = next((rss for _, n, rss in samples if n >= total), samples[-1][2])
    done_at = load["done_at"]
    warm_t = done_at[warm_n - 1] if len(done_at) >= warm_n else load["started"]
    notes_after_warm = load["ok_notes"] * (1 - sum(counts[:warm_n]) / max(1, sum(counts)))
    after_s = max(1e-9, load["started"] + load["seconds"] - warm_t)
    non_200 = {k: v for k, v in load["statuses"].items() if k != "200"}
    return {
        "rss_start_mib": samples[0][2],
        "rss_after_warmup_mib": warm_rss,
        "rss_end_mib": end_rss,
        "rss_idle_after_mib": samples[-1][2],
        "rss_peak_mib": max(rss for _, _, rss in samples),
        "ratio_end_to_warmup": end_rss / warm_rss,
        "target_ratio": TARGET_RATIO,
        "target_met": end_rss / warm_rss <= TARGET_RATIO,
        "checkpoints": {f"{share:.0%}": at_share(samples, max(1, round(total * share))) for share in CHECKPOINTS},
        "requests": total,
        "notes": sum(counts),
        "ok_notes": load["ok_notes"],
        "seconds": load["seconds"],
        "notes_per_s": load["ok_notes"] / load["seconds"],
        "notes_per_s_after_warmup": notes_after_warm / after_s,
        "statuses": load["statuses"],
        "non_200": sum(non_200.values()),
        "non_200_by_status": non_200,
    }


def thin(samples: list[tuple[float, int, float]], keep: int = 200) -> list[list[float]]:
    """At most `keep` evenly spaced samples (the last one always kept), rounded for the results file."""
    step = max(1, len(samples) // keep)
    picked = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    return [[round(t, 2), n, round(rss, 1)] for t, n, rss in picked]


def run_soak(config: SoakConfig) -> dict[str, Any]:
    """Start the server, send the load while sampling RSS, stop the server; the summary and trajectory."""
    check_model(config.model)
    sizes = request_sizes(config.requests, config.max_notes, config.size_skew, config.seed)
    pool = bench_notes(sum(sizes), seed=config.seed)  # the bundled notes in a shuffled order, repeating
    bodies, counts = request_bodies(pool.notes, sizes)
    lengths = sorted(len(n.text) + len(n.title or "") for n in pool.notes[: pool.distinct])
    settings = {"RUNTIME": config.runtime, **config.settings}
    answered = [0]
    with (
        scratch_dir() as tmp,
        server_process(config.model, settings, Path(tmp) / "server.log", config.env) as (url, proc),
    ):
        sampler = RssSampler(proc.pid, config.sample_s, answered)
        log.info("server ready on %s (pid %d), RSS %.0f MiB", url, proc.pid, sampler.sample())
        sampler.start()
        try:
            load = asyncio.run(send_load(url, config, bodies, counts, answered))
            time.sleep(2.0)  # a short idle after the last answer: what the server keeps when nothing runs
            sampler.sample()
        finally:
            sampler.stop()
    summary = summarise(config, sampler.samples, load, counts)
    return {
        "benchmark": "soak",
        "machine": machine_info(physical_cores()),
        "config": {**asdict(config), "model": str(config.model)},
        "notes_source": pool.source,
        "distinct_notes": pool.distinct,
        "note_chars": {"min": lengths[0], "median": lengths[len(lengths) // 2], "max": lengths[-1]},
        **summary,
        "trajectory": thin(sampler.samples),  # [seconds, requests answered, RSS MiB]
    }


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    rows = [[share, rss] for share, rss in result["checkpoints"].items()]
    extra = ", ".join(f"{k}={v}" for k, v in {**cfg["settings"], **cfg["env"]}.items()) or "defaults"
    extra += f"; {cfg['label']}" if cfg.get("label") else ""
    verdict = "met" if result["target_met"] else "MISSED"
    statuses = ", ".join(f"{k}: {v}" for k, v in result["non_200_by_status"].items()) or "none"
    return "\n".join(
        [
            f"### Server memory under a long load (runtime {cfg['runtime']}, {result['requests']} requests, "
            f"{result['notes']} notes; {extra})",
            machine_line(result["machine"]),
            "",
            markdown_table(["requests answered", "RSS MiB"], rows),
            "",
            f"RSS after warm-up {result['rss_after_warmup_mib']:.0f} MiB, at the end {result['rss_end_mib']:.0f} MiB, "
            f"peak {result['rss_peak_mib']:.0f} MiB: **{result['ratio_end_to_warmup']:.2f}x** "
            f"(target ≤ {result['target_ratio']}: {verdict}). {result['notes_per_s']:.1f} notes/s "
            f"({result['notes_per_s_after_warmup']:.1f} after warm-up). Non-200 answers: {statuses}.",
        ]
    )


def pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"soak: {flag} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model directory (default runs/default)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 requests")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--runtime", default=RECOMMENDED_RUNTIME, choices=RUNTIMES)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--burst-concurrency", type=int, default=96)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="server NOTECHECK_<KEY>")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="server environment")
    parser.add_argument("--label", default="", help="what this run measures, saved with the result")
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/soak[_quick].json)")
    args = parser.parse_args(argv)
    setup_logging()
    config = SoakConfig(
        Path(args.model),
        args.runtime,
        300 if args.quick else args.requests,
        concurrency=args.concurrency,
        burst_concurrency=args.burst_concurrency,
        settings={k.upper(): v for k, v in pairs(args.set, "--set").items()},
        env=pairs(args.env, "--env"),
        label=args.label,
    )
    result = run_soak(config)
    out = args.out or RESULTS_DIR / f"soak{'_quick' if args.quick else ''}.json"
    path = save_result(out.stem, result, out.parent)
    print(render(result))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
