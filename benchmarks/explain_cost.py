"""What an explanation costs: median seconds per explanation of one 128-token note, for each method, as a
ratio to one plain `predict` call on the same note, measured in the same run on this machine's cores: the fp32
model with fp32 gradients first (the baseline), then the default runtime (`openvino`, whose gradients run
through the torch model in bf16 where the CPU has native bf16) with the backward passes through PyTorch's
fused `sdpa` attention, then the same with eager attention (the default, `torch_runtime.gradient_twin`).
For Integrated Gradients also its completeness gap (|sum of attributions - (f(note) - f(baseline))|, in
log-odds), alone and as a share of the note's log-odds, on that note and, for the last variant, over the
first `--gap-notes` validation notes of the model's frozen split (median and 90th percentile).

    python benchmarks/explain_cost.py [--model runs/default] [--repeats 7] [--gap-notes 20]
        [--variants fp32:fp32,openvino:auto:sdpa,openvino:auto]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notecheck.model.classifier import Classifier  # noqa: E402
from notecheck.model.errors import NotecheckError  # noqa: E402
from notecheck.model.explain import METHODS, Explainer  # noqa: E402
from notecheck.model.schema import Note  # noqa: E402
from notecheck.model.scorer import bf16_is_fast  # noqa: E402

log = logging.getLogger("benchmarks.explain_cost")
RESULT = Path(__file__).resolve().parent / "results" / "explain_cost.json"
TARGET_TOKENS = 128
IG_STEPS = Explainer(None).n_steps  # type: ignore[arg-type]  # the default the explain paths use
#: a mixed zh/en note, repeated and trimmed to the target length
SOURCE = (
    "用了这瓶控油精华21天，毛孔肉眼可见变小了😭 原价399现在活动价199，链接在评论区，扣1私信发优惠券。"
    "Honestly the texture is light and it layers well under sunscreen; use my code ANNA15 for 15% off. "
    "周末带狗狗去公园，它追了一下午的鸽子，晚上回家早早就睡了。"
)


def note_of_tokens(classifier: Classifier, n_tokens: int) -> tuple[Note, int]:
    """A note whose model input is `n_tokens` tokens long (special tokens included), or as close as the text
    allows; returns it with its token count as `predict` sees it."""

    def count(text: str) -> int:
        return int(classifier.scores([Note(text=text)]).n_tokens[0])

    text = SOURCE
    while count(text) < n_tokens:
        text += " " + SOURCE
    low, high = 1, len(text)  # the shortest prefix with at least n_tokens tokens
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if count(text[:mid]) < n_tokens else (low, mid)
    return Note(text=text[:low], id="bench"), count(text[:low])


def median_seconds(work: Callable[[], Any], repeats: int) -> float:
    work()  # warm-up: lazy imports, jieba's dictionary, allocator growth
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_runtime(
    model_dir: str,
    runtime: str,
    repeats: int,
    methods: tuple[str, ...],
    grad_bf16: bool | None = None,
    attention: str = "eager",
    gap_notes: int = 0,
    ig_steps: int = IG_STEPS,
) -> dict[str, Any]:
    """Seconds per explanation of one 128-token note at one runtime, beside one `predict`; for IG also its
    completeness gap, alone and as a share of the note's calibrated log-odds (what the scores explain).
    `attention` `sdpa` runs the backward passes through the model's own fused attention (as before the
    gradient twin); `gap_notes` > 0 also measures IG's gap over that many validation notes."""
    classifier = Classifier.from_pretrained(model_dir, runtime=runtime)
    if attention == "sdpa":
        scorer: Any = classifier.scorer
        scorer.gradient_model = lambda: scorer.model  # the same model, fused attention in the backward too
    note, n_tokens = note_of_tokens(classifier, TARGET_TOKENS)
    seen = min(n_tokens, classifier.metadata.max_length)
    if seen < TARGET_TOKENS:
        log.warning("the model reads at most %d tokens: the note is truncated to them", seen)
    explainer = Explainer(classifier, n_steps=ig_steps, bf16=grad_bf16)
    predict_s = median_seconds(lambda: classifier.predict([note]), repeats)
    results: dict[str, Any] = {}
    for method in methods:
        try:
            seconds = median_seconds(lambda m=method: explainer.explain([note], method=m), repeats)  # type: ignore[misc]
        except NotecheckError as exc:  # e.g. gradient methods on the TF-IDF backend
            results[method] = {"median_s": None, "ratio_to_predict": None, "skipped": str(exc)}
            continue
        results[method] = {"median_s": round(seconds, 5), "ratio_to_predict": round(seconds / predict_s, 1)}
        if method == "ig":
            gap = explainer.explain([note], method="ig")[0].completeness_gap or 0.0
            log_odds = float(explainer.log_odds([note])[0])
            results[method].update(completeness_gap=round(gap, 5), log_odds=round(log_odds, 5))
            results[method]["gap_share_of_log_odds"] = round(gap / max(abs(log_odds), 1e-6), 5)
        log.info("%s %s: %.4f s (%.1fx predict)", runtime, method, seconds, seconds / predict_s)
    out = {
        "runtime": getattr(classifier.scorer, "runtime", runtime),
        "gradients_bf16": explainer.bf16 if explainer.bf16 is not None else bf16_is_fast(),
        "attention": attention,
        "n_tokens": n_tokens,
        "tokens_seen": seen,
        "predict_s": round(predict_s, 5),
        "methods": results,
    }
    if gap_notes > 0 and "ig" in methods:
        out["validation_gaps"] = validation_gaps(explainer, Path(model_dir), gap_notes)
    return out


def validation_gaps(explainer: Explainer, model_dir: Path, n: int) -> dict[str, Any]:
    """IG's completeness gap as a share of each note's calibrated log-odds, over the first `n` validation notes
    of the model's frozen split (writers the model never trained on): median and 90th percentile."""
    import numpy as np

    from benchmarks.accuracy import frozen_split

    notes = [n.note for n in frozen_split(model_dir)[0].validation[:n]]
    gaps, shares = [], []
    for explanation, odds in zip(explainer.explain(notes, method="ig"), explainer.log_odds(notes), strict=True):
        gaps.append(explanation.completeness_gap or 0.0)
        shares.append(gaps[-1] / max(abs(float(odds)), 1e-6))
    return {
        "notes": len(shares),
        "median_gap": round(float(np.median(gaps)), 5),
        "p90_gap": round(float(np.percentile(gaps, 90)), 5),
        "median_share": round(float(np.median(shares)), 5),
        "p90_share": round(float(np.percentile(shares, 90)), 5),
    }


def measure(
    model_dir: str,
    repeats: int,
    methods: tuple[str, ...],
    variants: tuple[str, ...],
    gap_notes: int = 0,
    ig_steps: int = IG_STEPS,
) -> dict[str, Any]:
    """Each variant (`RUNTIME:GRADIENTS[:ATTENTION]`, gradients `fp32` or `auto`: bf16 where the CPU has
    native bf16; attention `eager`, the default, or `sdpa`) measured in turn in this process, the first being
    the baseline; the top-level figures are the last variant's (the default), which alone gets the
    validation-note gaps."""
    import torch

    by_runtime = {}
    for i, variant in enumerate(variants):
        parts = variant.split(":")
        runtime, grads, attention = parts[0], *(parts[1:] + ["auto", "eager"][len(parts) - 1 :])[:2]
        if attention not in ("eager", "sdpa"):
            raise NotecheckError(f"--variants: attention must be eager or sdpa, got '{attention}' in '{variant}'")
        by_runtime[variant] = measure_runtime(
            model_dir,
            runtime,
            repeats,
            methods,
            False if grads == "fp32" else None,
            attention=attention,
            gap_notes=gap_notes if i == len(variants) - 1 else 0,
            ig_steps=ig_steps,
        )
    last = by_runtime[variants[-1]]
    from notecheck.model.metadata import ModelMetadata

    meta = ModelMetadata.load(model_dir)
    return {
        "model_dir": model_dir,
        "model_version": meta.version,
        "backend": meta.backend,
        "n_tokens": last["n_tokens"],
        "tokens_seen": last["tokens_seen"],
        "repeats": repeats,
        "ig_steps": ig_steps,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "logical_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "runtime": last["runtime"],
        "predict_s": last["predict_s"],
        "methods": last["methods"],
        "by_runtime": by_runtime,
        "validation_gaps": last.get("validation_gaps"),
    }


def table(result: dict[str, Any]) -> str:
    by_runtime = result.get("by_runtime") or {result.get("runtime", "fp32"): result}
    lines = [
        f"explanation cost, {result['tokens_seen']}-token note, {result['machine']['torch_threads']} torch threads, "
        f"median of {result['repeats']}, {result['ig_steps']} IG steps",
        f"{'runtime':26s} {'method':14s} {'seconds':>9s} {'x predict':>10s}  IG completeness gap",
    ]
    for name, r in by_runtime.items():
        label = r.get("runtime", name) + ("+bf16 grads" if r.get("gradients_bf16") else "")
        label += f" {r['attention']}" if "attention" in r else ""
        lines.append(f"{label:26s} {'predict':14s} {r['predict_s']:9.4f} {1.0:10.1f}")
        for method, m in r["methods"].items():
            if m["median_s"] is None:
                lines.append(f"{label:26s} {method:14s} {'skipped':>9s}  ({m['skipped']})")
                continue
            gap = ""
            if "completeness_gap" in m:
                share, odds = m["gap_share_of_log_odds"], m["log_odds"]
                gap = f"  {m['completeness_gap']:.4f} ({share:.1%} of log-odds {odds:+.2f})"
            lines.append(f"{label:26s} {method:14s} {m['median_s']:9.4f} {m['ratio_to_predict']:10.1f}{gap}")
    gaps = result.get("validation_gaps")
    if gaps:
        lines.append(
            f"IG completeness gap over {gaps['notes']} validation notes (last row's runtime): median "
            f"{gaps['median_gap']:.3f} log-odds ({gaps['median_share']:.1%} of the note's), 90th percentile "
            f"{gaps['p90_gap']:.3f} ({gaps['p90_share']:.1%}: a note near the boundary has small log-odds)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/default", help="a trained model directory")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--variants",
        default="fp32:fp32,openvino:auto:sdpa,openvino:auto",
        help="RUNTIME:GRADIENTS[:ATTENTION] measured in turn, the first the baseline; GRADIENTS fp32 or auto "
        "(bf16 where the CPU has native bf16), ATTENTION eager (the default) or sdpa (the backward passes "
        "through the model's fused attention)",
    )
    parser.add_argument("--gap-notes", type=int, default=20, help="validation notes for IG's gap (0: none)")
    parser.add_argument("--ig-steps", type=int, default=IG_STEPS, help="Integrated Gradients steps (the default's)")
    parser.add_argument("--out", default=str(RESULT))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        methods = tuple(m for m in args.methods.split(",") if m)
        variants = tuple(v for v in args.variants.split(",") if v)
        result = measure(args.model, args.repeats, methods, variants, gap_notes=args.gap_notes, ig_steps=args.ig_steps)
    except NotecheckError as exc:
        print(f"explain_cost: error: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
