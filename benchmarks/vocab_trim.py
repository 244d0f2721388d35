"""What trimming the vocabulary costs and saves: on the frozen writer-held-out test split, the share of tokens a
trimmed model lacks (split into kept pieces by its trimmed tokenizer, or read as `<unk>` with
`--keep-tokenizer`) and its macro-F1 beside the whole model's; and the peak RSS of `notecheck score`
(the `score_files` path) with the whole and the trimmed model beside `transformers.pipeline` (fp32), each in a
fresh process on the same notes, alternated.

    python benchmarks/vocab_trim.py --model runs/default [--notes 300] [--rounds 2]

The trimmed model is written with `notecheck trim-vocab`'s defaults into a scratch folder.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy import TOLERANCE, frozen_split  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    REPO_ROOT,
    BenchmarkError,
    bench_notes,
    check_model,
    display_path,
    machine_info,
    machine_line,
    markdown_table,
    run_worker,
    save_result,
    scratch_dir,
    set_threads,
    setup_logging,
    write_notes,
)

log = logging.getLogger("benchmarks.vocab_trim")
OFFLINE = Path(__file__).resolve().parent / "offline_throughput.py"


def unknown_shares(model: Path, trimmed: Path) -> dict[str, Any]:
    """On the validation and test notes (model inputs, held-out writers): the share of the whole tokenizer's
    tokens whose piece the trimmed model lacks, how many inputs its (trimmed) tokenizer splits differently from
    the whole one, and the `<unk>` share of each tokenizer."""
    import numpy as np

    from notecheck.model.tokenizer import FastTokenizer
    from notecheck.model.vocab import VocabRemap
    from notecheck.training.vocab_trim import changed_inputs, inputs_of

    split, split_file = frozen_split(model)
    whole, small = FastTokenizer.from_pretrained(model), FastTokenizer.from_pretrained(trimmed)
    trimmed_tokenizer = len(small) < len(whole)
    if trimmed_tokenizer:  # the kept pieces, by their ids in the whole tokenizer
        pieces = small.convert_ids_to_tokens(list(range(len(small))))
        kept = np.asarray([whole.backend_tokenizer.token_to_id(p) for p in pieces], dtype=np.int64)
    else:
        kept = VocabRemap.load(trimmed).kept
    remap = VocabRemap.from_kept(kept, len(whole), int(whole.unk_token_id or 0))
    out: dict[str, Any] = {"split_file": split_file, "tokenizer_trimmed": trimmed_tokenizer}
    for part in ("validation", "test"):
        texts = inputs_of(getattr(split, part))
        seqs, small_seqs = whole(texts)["input_ids"], small(texts)["input_ids"]
        ids, small_ids = [i for seq in seqs for i in seq], [i for seq in small_seqs for i in seq]
        out[part] = {
            "notes": len(getattr(split, part)),
            "inputs": len(texts),
            "tokens": len(ids),
            "lacking_share": remap.unknown_share(ids),
            "changed_inputs": changed_inputs(seqs, small_seqs, remap) if trimmed_tokenizer else 0,
            "unknown_share_trimmed": (
                sum(i == small.unk_token_id for i in small_ids) / max(len(small_ids), 1)
                if trimmed_tokenizer
                else remap.unknown_share(ids) + sum(i == whole.unk_token_id for i in ids) / max(len(ids), 1)
            ),
            "unknown_share_tokenizer": sum(i == whole.unk_token_id for i in ids) / max(len(ids), 1),
        }
    return out


def test_f1(model: Path, trimmed: Path, runtimes: list[str], threads: int) -> dict[str, Any]:
    """Macro-F1 of the whole and the trimmed model at each runtime on the test writers (`runtimes`) and on the
    validation writers (`validation`, first runtime), both held out of training, and how far their P differ."""
    import numpy as np

    from notecheck.model.classifier import Classifier
    from notecheck.training.evaluate import evaluate

    set_threads(threads)
    split = frozen_split(model)[0]

    def compare(runtime: str, notes: list[Any]) -> dict[str, Any]:
        reports = {name: evaluate(Classifier.from_pretrained(path, runtime=runtime), notes) for name, path in
                   (("whole", model), ("trimmed", trimmed))}  # fmt: skip
        p = {k: np.asarray(r["curves"]["p_commercial"]) for k, r in reports.items()}
        f1 = {k: r["summary"]["macro_f1"] for k, r in reports.items()}
        log.info("%s: macro-F1 whole %.4f, trimmed %.4f (%d notes)", runtime, f1["whole"], f1["trimmed"], len(notes))
        return {
            "macro_f1_whole": f1["whole"],
            "macro_f1_trimmed": f1["trimmed"],
            "delta": f1["trimmed"] - f1["whole"],
            "within_tolerance": abs(f1["trimmed"] - f1["whole"]) <= TOLERANCE,
            "max_abs_dp": float(np.max(np.abs(p["trimmed"] - p["whole"]))),
        }

    out = {runtime: compare(runtime, split.test) for runtime in runtimes}
    validation = {**compare(runtimes[0], split.validation), "runtime": runtimes[0]}
    return {"n_test": len(split.test), "runtimes": out, "validation": validation, "n_validation": len(split.validation)}


def peak_memory(model: Path, trimmed: Path, notes: int, rounds: int, threads: int, runtime: str) -> dict[str, Any]:
    """Peak RSS (MiB) of `score_files` on the whole and trimmed model and of the fp32 pipeline, in fresh
    processes, alternated; the largest of each contender's rounds."""
    note_set = bench_notes(notes)
    runs: dict[str, list[dict[str, Any]]] = {"whole": [], "trimmed": [], "pipeline": []}
    with scratch_dir() as tmp:
        notes_file = write_notes(note_set.notes, Path(tmp) / "notes.jsonl")
        paths = {"whole": model, "trimmed": trimmed, "pipeline": model}

        def measure(name: str) -> dict[str, Any]:
            kind = "pipeline" if name == "pipeline" else "notecheck"
            args = ["--worker", kind, "--model", str(paths[name]), "--notes-file", str(notes_file)]
            args += ["--runtime", runtime, "--threads", str(threads), "--batch-size", "32", "--via", "score_files"]
            return run_worker(OFFLINE, args, timeout_s=3600)

        # the first load of a model converts it for OpenVINO (torch loaded, once per model directory): that
        # one-off peak is reported apart, the rounds measure what every later run costs
        first_run = {name: measure(name)["peak_rss_mb"] for name in ("whole", "trimmed")}
        for _ in range(rounds):
            for name in runs:
                result = measure(name)
                log.info("%s: peak RSS %.0f MiB, %.1f notes/s", name, result["peak_rss_mb"], result["notes_per_s"])
                runs[name].append(result)
    peak = {name: max(r["peak_rss_mb"] for r in results) for name, results in runs.items()}
    return {
        "notes": len(note_set.notes),
        "rounds": rounds,
        "runtime": runtime,
        "peak_rss_mb": peak,
        "first_run_peak_rss_mb": first_run,
        "trimmed_vs_pipeline": peak["trimmed"] / peak["pipeline"],
        "whole_vs_pipeline": peak["whole"] / peak["pipeline"],
        "runs": runs,
    }


def validation_line(f1: dict[str, Any]) -> list[str]:
    """The validation writers' comparison, for results that have it."""
    v = f1.get("validation")
    if not v:
        return []
    return [
        "",
        f"Validation writers ({f1['n_validation']} notes, {v['runtime']}): macro-F1 whole {v['macro_f1_whole']:.3f}, "
        f"trimmed {v['macro_f1_trimmed']:.3f} (Δ {v['delta']:+.4f}; largest ΔP {v['max_abs_dp']:.3f}).",
    ]


def render(result: dict[str, Any]) -> str:
    unk, f1, mem = result["unknown"], result["accuracy"], result["memory"]
    first = mem.get("first_run_peak_rss_mb", {"whole": float("nan"), "trimmed": float("nan")})
    printed = result["trim"]["printed"]
    lines = [
        f"### Vocabulary trimming ({printed['embedding_rows']} embedding rows, {printed['parameters']} parameters)",
        machine_line(result["machine"]),
        "",
        markdown_table(
            [
                "notes",
                "tokens",
                "pieces the trimmed model lacks",
                "inputs split differently",
                "<unk>, trimmed",
                "<unk>, whole",
            ],
            [
                [
                    f"{part} ({unk[part]['notes']}, held-out writers)",
                    unk[part]["tokens"],
                    f"{unk[part].get('lacking_share', unk[part]['unknown_share_trimmed']):.4%}",
                    f"{unk[part].get('changed_inputs', '-')} of {unk[part].get('inputs', '-')}",
                    f"{unk[part]['unknown_share_trimmed']:.4%}",
                    f"{unk[part]['unknown_share_tokenizer']:.4%}",
                ]
                for part in ("validation", "test")
            ],
        ),
        "",
        markdown_table(
            ["runtime", "test macro-F1 whole", "trimmed", "Δ", f"within {TOLERANCE}", "max abs Δp"],
            [
                [
                    rt,
                    r["macro_f1_whole"],
                    r["macro_f1_trimmed"],
                    f"{r['delta']:+.4f}",
                    "yes" if r["within_tolerance"] else "NO",
                    r["max_abs_dp"],
                ]
                for rt, r in f1["runtimes"].items()
            ],
        ),
        *validation_line(f1),
        "",
        markdown_table(
            ["contender", "peak RSS MiB", "/ pipeline"],
            [
                [
                    f"notecheck score ({mem['runtime']}), whole model",
                    mem["peak_rss_mb"]["whole"],
                    mem["whole_vs_pipeline"],
                ],
                [
                    f"notecheck score ({mem['runtime']}), trimmed model",
                    mem["peak_rss_mb"]["trimmed"],
                    mem["trimmed_vs_pipeline"],
                ],
                ["transformers.pipeline (fp32, batch 32)", mem["peak_rss_mb"]["pipeline"], 1.0],
            ],
        ),
        "",
        f"Peak RSS over {mem['notes']} notes, the largest of {mem['rounds']} alternating rounds, each a fresh process"
        f" (the first run of each model, which converts it for OpenVINO unless the cache already holds it, peaked at"
        f" {first['whole']:.0f} MiB whole and {first['trimmed']:.0f} MiB trimmed).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the whole model directory")
    parser.add_argument("--notes", type=int, default=300, help="notes scored per peak-memory measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runtime", default="auto", help="notecheck's runtime for the memory figures (default: auto)")
    parser.add_argument("--f1-runtimes", default="fp32,openvino")
    parser.add_argument(
        "--keep-tokenizer", action="store_true", help="trim with the whole tokenizer kept (dropped tokens as <unk>)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 notes, 1 round, fp32 F1 only")
    args = parser.parse_args(argv)
    if args.quick:
        args.notes, args.rounds, args.f1_runtimes = 20, 1, "fp32"
    setup_logging()
    model = check_model(args.model)
    with scratch_dir() as tmp:
        # this process stays small until the peak-memory workers have run: Linux carries a parent's peak RSS
        # into the children it starts, so the trimming (which loads the fp32 model) runs in its own process
        trimmed = Path(tmp) / "trimmed"
        cmd = [sys.executable, "-m", "notecheck", "trim-vocab", "--model", str(model), "--out", str(trimmed)]
        cmd += ["--keep-tokenizer"] if args.keep_tokenizer else []
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=1800)
        if done.returncode:
            raise BenchmarkError(f"trim-vocab failed: {done.stderr.strip()[-500:]}")
        memory = peak_memory(model, trimmed, args.notes, args.rounds, args.threads, args.runtime)
        from notecheck.model.metadata import ModelMetadata

        meta, whole = ModelMetadata.load(trimmed), ModelMetadata.load(model)
        trim_facts = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
        trim_facts["out"] = display_path(trim_facts.get("out", trimmed))
        result: dict[str, Any] = {
            "benchmark": "vocab_trim",
            "model": str(model),
            "model_version": whole.version,
            "trimmed_version": meta.version,
            "trim": {"vocab": meta.vocab, "printed": trim_facts},
            "unknown": unknown_shares(model, trimmed),
            "accuracy": test_f1(model, trimmed, args.f1_runtimes.split(","), args.threads),
            "memory": memory,
            "machine": machine_info(args.threads),
        }
    path = save_result("vocab_trim_quick" if args.quick else "vocab_trim", result)
    print(render(result))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
