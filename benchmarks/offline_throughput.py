"""Offline throughput: notecheck's `Classifier.predict` against `transformers.pipeline` on the same notes.

Every contender loads the same fine-tuned model directory, scores the same notes (realistic mixed
Chinese/English lengths from `data/notes`) with the same thread count, each in a fresh subprocess, all
measured alternately within one run (notecheck, pipeline batch 1, pipeline batch 32, notecheck, ...). Each
reports notes/s over the whole set (after a short warm-up, model load excluded) and its process's peak
RSS. The pipeline reads the same disclosure-masked strings the model was trained on, prepared before its
clock starts. notecheck is compared with the *best* pipeline setting of the same run (batch 1 avoids
padding, batch 32 amortises calls: which wins depends on the notes and the machine).

    python benchmarks/offline_throughput.py --model runs/default            # 2,000 notes, 2 rounds
    python benchmarks/offline_throughput.py --model runs/default --notes 600 --rounds 3 --via score_files
    python benchmarks/offline_throughput.py --model runs/default --runtimes openvino bf16   # several of ours
    python benchmarks/offline_throughput.py --model runs/default --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    BenchmarkError,
    bench_notes,
    check_model,
    cpu_seconds,
    display_path,
    emit,
    machine_info,
    machine_line,
    markdown_table,
    median,
    peak_rss_mb,
    physical_cores,
    read_notes,
    run_worker,
    save_result,
    scratch_dir,
    set_threads,
    setup_logging,
    write_notes,
)
from notecheck.model.schema import Note  # noqa: E402

log = logging.getLogger("benchmarks.offline")
WARM_UP_NOTES = 16
INT8 = "openvino-int8"  # a `notecheck quantize` copy of the model, run by the openvino runtime
DISTILLED = "openvino-distilled"  # a `notecheck distill` student of the model, run by the openvino runtime
COPIES = {INT8: ("quantized", "notecheck quantize"), DISTILLED: ("distilled", "notecheck distill")}
RECOMMENDED_RUNTIME = "openvino"  # chosen from the measurements: see benchmarks/results/README_table.md
PIPELINE_BATCH_SIZES = (1, 32)  # the pipeline's default and a batched setting


@dataclass
class OfflineConfig:
    """One offline comparison. `isolate=False` runs the contenders in this process (tests only: peak RSS
    then covers both and the figures are not independent)."""

    model: Path
    notes: int = 2000  # notes scored per measurement
    rounds: int = 2  # measurements per contender, alternating
    threads: int = field(default_factory=physical_cores)  # torch intra-op threads, every contender
    runtimes: tuple[str, ...] = (RECOMMENDED_RUNTIME,)  # notecheck's runtimes; the first is compared
    pipeline_batch_sizes: tuple[int, ...] = PIPELINE_BATCH_SIZES  # each is a contender; the best is compared
    via: str = "predict"  # or "score_files": the whole `notecheck score` path, file reading and writing included
    isolate: bool = True
    timeout_s: float = 3600.0  # per measurement
    quantized: Path | None = None  # a `notecheck quantize` copy of `model`: the runtime `openvino-int8` runs it
    distilled: Path | None = None  # a `notecheck distill` student of `model`: the runtime `openvino-distilled`

    def model_for(self, setting: str) -> Path:
        """The model directory a notecheck contender loads."""
        if setting in COPIES:
            field_name, command = COPIES[setting]
            copy: Path | None = getattr(self, field_name)
            if copy is None:
                raise BenchmarkError(f"runtime {setting} needs --{field_name} DIR (a `{command}` copy)")
            return copy
        return self.model


def time_notecheck(
    model: Path, notes: list[Note], runtime: str, threads: int, via: str = "predict", notes_file: Path | None = None
) -> dict[str, Any]:
    """notes/s of notecheck over `notes`: `Classifier.predict` on the whole list (`via="predict"`), or
    `serving.offline.score_files` reading `notes_file` and writing JSONL (`via="score_files"`: what
    `notecheck score` runs, file reading, validation and writing included)."""
    set_threads(threads)
    from notecheck.model.classifier import Classifier

    started = time.perf_counter()
    classifier = Classifier.from_pretrained(model, runtime="openvino" if runtime in COPIES else runtime)
    loaded = time.perf_counter()
    classifier.predict(notes[:WARM_UP_NOTES])
    t0, c0 = time.perf_counter(), cpu_seconds()
    if via == "score_files":
        scored, commercial = _score_files(classifier, notes_file)
    else:
        predictions = classifier.predict(notes)
        scored, commercial = len(predictions), sum(p.p_commercial >= 0.5 for p in predictions)
    seconds, cpu_s = time.perf_counter() - t0, cpu_seconds() - c0
    return {
        "contender": f"notecheck-{runtime}" + ("-score_files" if via == "score_files" else ""),
        "resolved_runtime": getattr(classifier.scorer, "runtime", runtime),  # what `auto` became
        "notes": scored,
        "seconds": seconds,
        "notes_per_s": scored / seconds,
        "notes_per_cpu_s": scored / cpu_s,
        "load_s": loaded - started,
        "peak_rss_mb": peak_rss_mb(),
        "commercial": commercial,
    }


def _score_files(classifier: Any, notes_file: Path | None) -> tuple[int, int]:
    """Run `score_files` on `notes_file` into a scratch JSONL; (rows scored, rows with p >= 0.5)."""
    import json

    from notecheck.model.readers import ColumnMap
    from notecheck.serving.batch.offline import score_files

    if notes_file is None:
        raise BenchmarkError("score_files needs the notes as a file")
    with scratch_dir() as tmp:
        out = Path(tmp) / "scores.jsonl"
        summary = score_files([notes_file], out, classifier, ColumnMap(), progress=False)
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return summary.scored, sum((r.get("p_commercial") or 0) >= 0.5 for r in rows)


def time_pipeline(model: Path, notes: list[Note], threads: int, batch_size: int) -> dict[str, Any]:
    """notes/s of `transformers.pipeline("text-classification")` over the same model and notes."""
    set_threads(threads)
    from transformers import pipeline

    from notecheck.model.classifier import model_input
    from notecheck.model.metadata import ModelMetadata

    max_length = ModelMetadata.load(model).max_length
    texts = [model_input(n) for n in notes]  # the strings the model reads, prepared off the clock
    started = time.perf_counter()
    pipe = pipeline("text-classification", model=str(model), tokenizer=str(model), device=-1, batch_size=batch_size)
    loaded = time.perf_counter()
    pipe(texts[:WARM_UP_NOTES], truncation=True, max_length=max_length)
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = pipe(texts, truncation=True, max_length=max_length)
    seconds, cpu_s = time.perf_counter() - t0, cpu_seconds() - c0
    return {
        "contender": f"pipeline-fp32-bs{batch_size}",
        "notes": len(out),
        "seconds": seconds,
        "notes_per_s": len(out) / seconds,
        "notes_per_cpu_s": len(out) / cpu_s,
        "load_s": loaded - started,
        "peak_rss_mb": peak_rss_mb(),
        "commercial": sum(r["label"] == "commercial" for r in out),
    }


@dataclass(frozen=True)
class Contender:
    """One measured setting: notecheck in a runtime, or the pipeline at a batch size."""

    kind: str  # "notecheck" or "pipeline"
    setting: str  # the runtime, or the batch size

    @property
    def name(self) -> str:
        return f"notecheck-{self.setting}" if self.kind == "notecheck" else f"pipeline-fp32-bs{self.setting}"


def contenders(config: OfflineConfig) -> list[Contender]:
    """notecheck's runtimes, then the pipeline's batch sizes: the order of every round."""
    ours = [Contender("notecheck", runtime) for runtime in config.runtimes]
    return ours + [Contender("pipeline", str(size)) for size in config.pipeline_batch_sizes]


def _measure(who: Contender, config: OfflineConfig, notes_file: Path, notes: list[Note]) -> dict[str, Any]:
    if not config.isolate:
        if who.kind == "notecheck":
            model = config.model_for(who.setting)
            return time_notecheck(model, notes, who.setting, config.threads, config.via, notes_file)
        return time_pipeline(config.model, notes, config.threads, int(who.setting))
    model = config.model_for(who.setting) if who.kind == "notecheck" else config.model
    args = ["--worker", who.kind, "--notes-file", str(notes_file), "--model", str(model)]
    args += ["--threads", str(config.threads), "--via", config.via]
    args += ["--runtime", who.setting] if who.kind == "notecheck" else ["--batch-size", who.setting]
    return run_worker(Path(__file__), args, config.timeout_s)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread of one contender's rounds; peak RSS is the largest seen."""
    rates = [r["notes_per_s"] for r in runs]
    return {
        "contender": runs[0]["contender"],
        "rounds": len(runs),
        "notes_per_s": median(rates),
        "notes_per_s_min": min(rates),
        "notes_per_s_max": max(rates),
        "notes_per_cpu_s": median([r["notes_per_cpu_s"] for r in runs]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "load_s": median([r["load_s"] for r in runs]),
        "commercial": runs[-1]["commercial"],
    }


def compare(config: OfflineConfig) -> dict[str, Any]:
    """Measure every contender alternately; per-round figures, medians, and notecheck (its first runtime)
    against the best pipeline setting of this run.

    >>> compare(OfflineConfig(Path("runs/default"), notes=600, rounds=3))["ratio"]  # doctest: +SKIP
    4.1
    """
    check_model(config.model)
    note_set = bench_notes(config.notes)
    order = contenders(config)
    rounds: dict[str, list[dict[str, Any]]] = {who.name: [] for who in order}
    with scratch_dir() as tmp:
        notes_file = write_notes(note_set.notes, Path(tmp) / "notes.jsonl")
        for i in range(config.rounds):
            for who in order:
                result = _measure(who, config, notes_file, note_set.notes)
                log.info(
                    "round %d %s: %.1f notes/s, peak RSS %.0f MiB",
                    i + 1,
                    result["contender"],
                    result["notes_per_s"],
                    result["peak_rss_mb"],
                )
                rounds[who.name].append(result)
    summaries = {name: summarise(runs) for name, runs in rounds.items()}
    pipelines = [who.name for who in order if who.kind == "pipeline"]
    best = max(pipelines, key=lambda name: summaries[name]["notes_per_s"])
    ours, theirs = summaries[order[0].name], summaries[best]
    result = {
        "benchmark": "offline_throughput",
        "machine": machine_info(config.threads),
        "config": {
            **asdict(config),
            "model": display_path(config.model),
            "quantized": config.quantized and display_path(config.quantized),
            "distilled": config.distilled and display_path(config.distilled),
        },
        "notes": {"count": len(note_set.notes), "distinct": note_set.distinct, "source": note_set.source},
        "order": [runs[i]["contender"] for i in range(config.rounds) for runs in rounds.values()],
        "rounds": rounds,
        "summaries": summaries,
        "ours": order[0].name,
        "best_pipeline": best,
        "notecheck": ours,
        "pipeline": theirs,
        "ratio": ours["notes_per_s"] / theirs["notes_per_s"],
        "cpu_ratio": ours["notes_per_cpu_s"] / theirs["notes_per_cpu_s"],
        "memory_ratio": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
    }
    result["paired_ratio"] = median(paired_ratios(result))
    result["paired_cpu_ratio"] = median(paired_ratios(result, "notes_per_cpu_s"))
    return result


def paired_ratios(result: dict[str, Any], key: str = "notes_per_s", ours: str | None = None) -> list[float]:
    """notecheck (`ours`, default the compared runtime) / the best pipeline setting *of the same round*: they
    ran close together, so each ratio saw similar load from other processes (the medians of each side may
    come from differently loaded moments, and load hurts the pipeline's batch 1 far more than batch 32)."""
    mine = result["rounds"][ours or result["ours"]]
    pipelines = [runs for name, runs in result["rounds"].items() if name.startswith("pipeline-")]
    return [a[key] / max(runs[i][key] for runs in pipelines) for i, a in enumerate(mine)]


def render(result: dict[str, Any], accuracy: dict[str, Any] | None = None) -> str:
    """The Markdown the script prints (and `run_all.py` collects)."""
    best = result["best_pipeline"]
    rows = []
    for name, s in result["summaries"].items():
        paired = median(paired_ratios(result, ours=name))
        rows.append(
            [
                name + (" (best pipeline)" if name == best else ""),
                s["notes_per_s"],
                f"{s['notes_per_s_min']:.1f}–{s['notes_per_s_max']:.1f}",
                s["notes_per_cpu_s"],
                s["peak_rss_mb"],
                s["load_s"],
                f"{paired:.2f}x",
            ]
        )
    notes, cfg = result["notes"], result["config"]
    paired, paired_cpu = paired_ratios(result), paired_ratios(result, "notes_per_cpu_s")
    path = "`notecheck score` (file in, JSONL out)" if cfg["via"] == "score_files" else "`Classifier.predict`"
    heads = ["contender", "notes/s (median)", "range", "notes per CPU-s", "peak RSS MiB", "load s", "/ best pipeline"]
    parts = [
        f"### Offline throughput ({notes['count']} notes, {notes['distinct']} distinct, "
        f"{cfg['rounds']} alternating rounds of every contender; notecheck through {path})",
        machine_line(result["machine"]),
        "",
        markdown_table(heads, rows),
        "",
        f"{result['ours']} / the best pipeline setting of each round: **{median(paired):.2f}x** notes/s (median; "
        f"rounds {', '.join(f'{r:.2f}' for r in paired)}), {median(paired_cpu):.2f}x notes per CPU-second "
        f"(rounds {', '.join(f'{r:.2f}' for r in paired_cpu)}); ratio of the medians {result['ratio']:.2f}x; "
        f"{result['memory_ratio']:.2f}x peak memory against {best} (the best pipeline by median). "
        "`/ best pipeline` is the median of each round's ratio to that round's best pipeline setting.",
    ]
    if accuracy:
        from benchmarks.accuracy import render_accuracy

        parts += ["", render_accuracy(accuracy)]
    return "\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from notecheck.model.options import RUNTIMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model directory (default runs/default)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 notes, accuracy on 60 test notes")
    parser.add_argument("--notes", type=int, help="notes per measurement (default 2000; quick 300)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating measurements per contender")
    parser.add_argument("--threads", type=int, default=physical_cores(), help="torch threads (default: cores)")
    parser.add_argument(
        "--runtimes",
        nargs="+",
        default=[RECOMMENDED_RUNTIME],
        choices=[*RUNTIMES, *COPIES],
        help=f"notecheck's; first compared ({INT8} / {DISTILLED}: the --quantized / --distilled copy under openvino)",
    )
    parser.add_argument("--quantized", type=Path, help="a `notecheck quantize` copy of --model, for the runtime "
                        f"{INT8}")  # fmt: skip
    parser.add_argument("--distilled", type=Path, help="a `notecheck distill` student of --model, for the runtime "
                        f"{DISTILLED}")  # fmt: skip
    parser.add_argument(
        "--batch-sizes", nargs="+", type=int, default=list(PIPELINE_BATCH_SIZES), help="the pipeline's batch_size"
    )
    parser.add_argument(
        "--via", choices=["predict", "score_files"], default="predict", help="notecheck's path (default predict)"
    )
    parser.add_argument("--no-accuracy", action="store_true", help="skip the per-runtime test-split macro-F1")
    parser.add_argument("--worker", choices=["notecheck", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--notes-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default=RECOMMENDED_RUNTIME, help=argparse.SUPPRESS)  # a worker's
    parser.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)  # a worker's
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    model = Path(args.model)
    if args.worker:  # inside a measurement subprocess
        notes = read_notes(args.notes_file)
        if args.worker == "notecheck":
            emit(time_notecheck(model, notes, args.runtime, args.threads, args.via, args.notes_file))
        else:
            emit(time_pipeline(model, notes, args.threads, args.batch_size))
        return 0
    config = OfflineConfig(
        model,
        args.notes or (300 if args.quick else 2000),
        args.rounds,
        args.threads,
        tuple(args.runtimes),
        tuple(args.batch_sizes),
        args.via,
        quantized=args.quantized,
        distilled=args.distilled,
    )
    for copy in set(COPIES) & set(config.runtimes):
        config.model_for(copy)  # fails before any measurement without the copy it runs
    result = compare(config)
    accuracy = None
    if not args.no_accuracy:
        from benchmarks.accuracy import RUNTIMES, runtime_accuracy

        runtimes = list(dict.fromkeys([*RUNTIMES, *args.runtimes]))
        limit = 60 if args.quick else None
        copies = {INT8: args.quantized, DISTILLED: args.distilled}
        accuracy = runtime_accuracy(model, runtimes, threads=args.threads, limit=limit, copies=copies)
        result["accuracy"] = accuracy
    path = save_result("offline_throughput" + ("_quick" if args.quick else ""), result)
    print(render(result, accuracy))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
