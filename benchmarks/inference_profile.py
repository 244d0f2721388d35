"""Where inference time goes, per runtime, and which batch shape suits this machine.

For each runtime (fp32, bf16, int8, openvino) it splits `Classifier.predict` into its stages on the same
notes: disclosure masking and rating, tokenization (`TransformerScorer.encode`), batching and padding
(`plan_batches` + `collate`) and the forward passes, and reports the padding overhead (padded tokens per
real token) of the planned batches against batches cut every 32 sorted notes and the arrival-order batches
`transformers.pipeline` makes. For the torch runtimes it splits the forward passes by operator kind
(`torch.profiler`: matrix products, attention, layer norm, GELU, residual adds, dtype conversions, ...).
Then it sweeps `batch_size` and `max_tokens` for one runtime.

    python benchmarks/inference_profile.py --model runs/default [--quick]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    BenchmarkError,
    bench_notes,
    check_model,
    machine_info,
    machine_line,
    markdown_table,
    physical_cores,
    save_result,
    set_threads,
    setup_logging,
)
from notecheck.model.schema import Note  # noqa: E402

if TYPE_CHECKING:
    from notecheck.model.classifier import Classifier
    from notecheck.model.scorer import TransformerScorer

log = logging.getLogger("benchmarks.profile")
#: (batch_size, max_tokens) shapes the sweep compares; (32, 8192) is the scorer's default
PIPELINE_BATCH = 32  # the pipeline's batch_size in offline_throughput.py
SERVING_GROUP = 32  # notes per batch the server's batcher forms at concurrency 32, one note per request
SHAPES = ((8, 8192), (16, 8192), (32, 8192), (64, 8192), (32, 4096))


def padding_overhead(lengths: list[int], batches: list[list[int]]) -> float:
    """Padded tokens per real token (1.0: no padding)."""
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return padded / max(1, sum(lengths))


def transformer_of(model: Path, runtime: str) -> tuple[Classifier, TransformerScorer]:
    """The classifier and its transformer scorer (the TF-IDF backend has no batches to profile)."""
    from notecheck.model.classifier import Classifier
    from notecheck.model.scorer import TransformerScorer

    classifier = Classifier.from_pretrained(model, runtime=runtime)
    if not isinstance(classifier.scorer, TransformerScorer):
        raise BenchmarkError(f"{model}: not a transformer model; nothing to profile")
    return classifier, classifier.scorer


def profile_runtime(model: Path, notes: list[Note], runtime: str) -> dict[str, Any]:
    """Seconds per stage of one `predict`-equivalent pass (after a warm-up pass on a few notes)."""
    import torch

    from notecheck.model import disclosure
    from notecheck.model.batch_plan import plan_batches
    from notecheck.model.classifier import model_input
    from notecheck.model.disclosure import rate
    from notecheck.model.scorer import length_batches

    classifier, scorer = transformer_of(model, runtime)
    classifier.predict(notes[:16])
    disclosure._remembered_markers.cache_clear()  # each runtime pays for reading the notes, as `predict` does
    t0 = time.perf_counter()
    texts = [model_input(n) for n in notes]
    for note in notes:
        rate(note.text, note.title)
    t1 = time.perf_counter()
    enc = scorer.encode(texts)
    t2 = time.perf_counter()
    lengths = [len(s) for s in enc.ids]
    batches = plan_batches(lengths, scorer.batch_size, scorer.max_tokens)
    collate_s = forward_s = 0.0
    with torch.inference_mode():
        for batch in batches:
            c0 = time.perf_counter()
            inputs = scorer.collate([enc.ids[i] for i in batch])
            c1 = time.perf_counter()
            scorer.forward(inputs)
            collate_s += c1 - c0
            forward_s += time.perf_counter() - c1
    ops = operator_shares(scorer, [scorer.collate([enc.ids[i] for i in b]) for b in batches])
    total = (t2 - t0) + collate_s + forward_s
    step = PIPELINE_BATCH
    arrival = [list(range(i, min(i + step, len(lengths)))) for i in range(0, len(lengths), step)]
    return {
        "runtime": runtime,
        "notes": len(notes),
        "tokens": sum(lengths),
        "mask_and_rate_s": t1 - t0,
        "tokenize_s": t2 - t1,
        "collate_s": collate_s,
        "forward_s": forward_s,
        "total_s": total,
        "notes_per_s": len(notes) / total,
        "batches": len(batches),
        "padding_bucketed": padding_overhead(lengths, batches),
        "padding_sorted_by_count": padding_overhead(lengths, list(length_batches(lengths, step, scorer.max_tokens))),
        "padding_arrival": padding_overhead(lengths, arrival),
        "operators": ops,
    }


#: torch operator names by kind (self CPU time is summed per kind; anything else is "other")
OPERATOR_KINDS = {
    "matrix products": ("linear", "addmm", "aten::mm", "aten::bmm", "matmul", "quantized"),
    "attention": ("scaled_dot_product", "softmax", "aten::where", "aten::masked_fill"),
    "layer norm": ("layer_norm",),
    "GELU": ("gelu",),
    "residual adds": ("aten::add",),
    "dtype conversions": ("aten::to", "_to_copy", "aten::copy_"),
    "embeddings": ("embedding", "index_select"),
}


def operator_shares(scorer: TransformerScorer, inputs: list[dict[str, Any]]) -> dict[str, float]:
    """Share of the forward passes' self CPU time per operator kind (`torch.profiler`); empty for the
    openvino runtime, whose forward passes are one compiled graph."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    if getattr(scorer, "runtime", "") == "openvino":
        return {}
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in inputs:
            scorer.forward(batch)
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        kind = next((k for k, names in OPERATOR_KINDS.items() if any(n in event.key for n in names)), "other")
        totals[kind] = totals.get(kind, 0.0) + event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {kind: value / whole for kind, value in sorted(totals.items(), key=lambda kv: -kv[1])}


def sweep(model: Path, notes: list[Note], runtime: str, rounds: int = 2) -> list[dict[str, Any]]:
    """Median notes/s of `predict` per (batch_size, max_tokens): over the whole set at once (offline
    scoring) and in arrival-order groups of `SERVING_GROUP` notes (what the server's batcher hands
    `predict` under load). Shapes are measured round-robin, so a machine whose load changes over time
    does not favour whichever shape ran when it was quiet."""
    from benchmarks.common import median

    classifier, scorer = transformer_of(model, runtime)
    classifier.predict(notes[:16])
    groups = [notes[i : i + SERVING_GROUP] for i in range(0, len(notes), SERVING_GROUP)]
    rates: dict[tuple[int, int, str], list[float]] = {}
    for _ in range(rounds):
        for batch_size, max_tokens in SHAPES:
            scorer.batch_size, scorer.max_tokens = batch_size, max_tokens
            for mode, chunks in (("whole set", [notes]), (f"groups of {SERVING_GROUP}", groups)):
                t0 = time.perf_counter()
                for chunk in chunks:
                    classifier.predict(chunk)
                rate = len(notes) / (time.perf_counter() - t0)
                rates.setdefault((batch_size, max_tokens, mode), []).append(rate)
    results = []
    for (batch_size, max_tokens, mode), seen in rates.items():
        shape = {"batch_size": batch_size, "max_tokens": max_tokens, "mode": mode}
        results.append({"runtime": runtime, **shape, "notes_per_s": median(seen)})
        log.info("%s %s batch_size %d max_tokens %d: %.1f notes/s", runtime, mode, batch_size, max_tokens, median(seen))
    return results


def render(result: dict[str, Any]) -> str:
    stages = ("mask_and_rate_s", "tokenize_s", "collate_s", "forward_s")
    rows = [
        [p["runtime"], p["notes_per_s"], *(f"{100 * p[s] / p['total_s']:.1f}%" for s in stages), p["padding_bucketed"]]
        for p in result["profiles"]
    ]
    heads = ["runtime", "notes/s", "mask+rate", "tokenize", "pad/collate", "forward", "padded/real tokens"]
    keys = ("runtime", "mode", "batch_size", "max_tokens", "notes_per_s")
    sweep_rows = [[r[k] for k in keys] for r in result["sweep"]]
    first = result["profiles"][0]
    kinds = list(OPERATOR_KINDS) + ["other"]
    op_rows = [
        [p["runtime"], *(f"{100 * p['operators'].get(k, 0.0):.1f}%" for k in kinds)]
        for p in result["profiles"]
        if p.get("operators")
    ]
    return "\n".join(
        [
            f"### Where inference time goes ({first['notes']} notes, {first['tokens']:,} tokens)",
            machine_line(result["machine"]),
            "",
            markdown_table(heads, rows),
            "",
            f"Padding: planned batches (`model.batch_plan`) carry {first['padding_bucketed']:.3f} padded tokens per "
            f"real token; sorted batches cut every {PIPELINE_BATCH} notes "
            f"{first.get('padding_sorted_by_count', float('nan')):.3f}; arrival-order batches of {PIPELINE_BATCH} "
            f"(what the pipeline does) {first['padding_arrival']:.3f}.",
            "",
            "#### Forward passes by operator kind (torch runtimes, share of self CPU time)",
            "",
            markdown_table(["runtime", *kinds], op_rows),
            "",
            "#### Batch shape sweep",
            "",
            markdown_table(["runtime", "predict on", "batch_size", "max_tokens", "notes/s"], sweep_rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model directory (default runs/default)")
    parser.add_argument("--quick", action="store_true", help="smoke run on 60 notes")
    parser.add_argument("--notes", type=int, help="notes per pass (default 300; quick 60)")
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--runtimes", nargs="+", default=["fp32", "bf16", "int8", "openvino"])
    parser.add_argument("--sweep-runtime", default="bf16", help="runtime whose batch shape is swept")
    args = parser.parse_args(argv)
    setup_logging()
    model = check_model(args.model)
    set_threads(args.threads)
    notes = bench_notes(args.notes or (60 if args.quick else 300)).notes
    profiles = []
    for runtime in args.runtimes:
        profiles.append(profile_runtime(model, notes, runtime))
        log.info("%s: %.1f notes/s", runtime, profiles[-1]["notes_per_s"])
    result = {
        "benchmark": "inference_profile",
        "machine": machine_info(args.threads),
        "model": str(model),
        "profiles": profiles,
        "sweep": sweep(model, notes, args.sweep_runtime, rounds=1 if args.quick else 2),
    }
    path = save_result("inference_profile" + ("_quick" if args.quick else ""), result)
    print(render(result))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
