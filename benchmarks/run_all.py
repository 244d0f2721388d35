"""Run every benchmark (`make bench`) and write `benchmarks/results/README_table.md` for the README.

Each benchmark runs as its own subprocess (so one's memory and threads never affect the next) and
writes its JSON under `benchmarks/results/`; this script then renders those files into one Markdown page.

    python benchmarks/run_all.py [--model runs/default] [--quick] [--only offline_throughput serving_load]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    REPO_ROOT,
    RESULTS_DIR,
    check_model,
    read_results,
    setup_logging,
)
from notecheck.model.errors import NotecheckError  # noqa: E402

log = logging.getLogger("benchmarks.run_all")
#: run order: quality on unseen writers first (the headline), then the profile (it informs the speed
#: benchmarks), the server's memory over a long load, training, explanations, and a trimmed model's memory last
BENCHMARKS = (
    "generalization",
    "inference_profile",
    "offline_throughput",
    "serving_load",
    "soak",
    "training_speed",
    "explain_cost",
    "vocab_trim",
)
#: a benchmark without `--quick` gets these arguments instead in a quick run
QUICK_ARGS = {
    "explain_cost": ["--repeats", "1", "--gap-notes", "0", "--out", str(RESULTS_DIR / "explain_cost_quick.json")],
    "generalization": [
        *("--train-notes", "200", "--steps", "4", "--recipes", "tfidf", "lp"),
        *("--out", str(RESULTS_DIR / "generalization_quick.json")),
    ],
}
TABLE_FILE = "README_table.md"


def run_one(name: str, model: str, quick: bool) -> bool:
    """Run `benchmarks/<name>.py`, streaming its output; True when it succeeded."""
    cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / f"{name}.py"), "--model", model]
    if quick:
        cmd += QUICK_ARGS.get(name, ["--quick"])
    log.info("running %s", " ".join(cmd[1:]))
    done = subprocess.run(cmd, cwd=REPO_ROOT)
    if done.returncode != 0:
        log.error("%s failed with exit code %d", name, done.returncode)
    return done.returncode == 0


def render_all(names: tuple[str, ...] | list[str], quick: bool, results_dir: Path = RESULTS_DIR) -> str:
    """One Markdown page from the saved results of `names` (missing ones are said to be missing)."""
    suffix = "_quick" if quick else ""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"## Benchmarks{' (quick smoke run: not representative)' if quick else ''}",
        "",
        f"Generated {stamp}{model_line(results_dir / f'offline_throughput{suffix}.json')}.",
    ]
    for name in names:
        path = results_dir / f"{name}{suffix}.json"
        if not path.is_file() and path.with_name(path.name + ".gz").is_file():
            path = path.with_name(path.name + ".gz")
        parts.append("")
        if not path.is_file():
            parts.append(f"### {name}\n\n(no results: the benchmark failed or was skipped)")
            continue
        result = read_results(path)
        module = importlib.import_module(f"benchmarks.{name}")
        if name == "offline_throughput":
            parts.append(module.render(result, result.get("accuracy")))
        elif hasattr(module, "render"):
            parts.append(module.render(result))
        else:  # a plain-text table (explain_cost)
            parts.append(f"### {name}\n\n```\n{module.table(result)}\n```")
    return "\n".join(parts) + "\n"


def model_line(offline_result: Path) -> str:
    """`, model <dir> (version v)` from the offline result, which records the model it measured."""
    if not offline_result.is_file():
        return ""
    model = json.loads(offline_result.read_text(encoding="utf-8"))["config"]["model"]
    try:
        from notecheck.model.metadata import ModelMetadata

        return f" with model `{model}` (version {ModelMetadata.load(model).version})"
    except (OSError, ValueError, NotecheckError):
        return f" with model `{model}`"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model directory (default runs/default)")
    parser.add_argument("--quick", action="store_true", help="smoke runs of every benchmark")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--render-only", action="store_true", help="only rebuild the table from saved results")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        check_model(args.model)
    except NotecheckError as exc:
        print(f"run_all: error: {exc}", file=sys.stderr)
        return 2
    names = list(args.only or BENCHMARKS)
    failed = [] if args.render_only else [n for n in names if not run_one(n, args.model, args.quick)]
    page = render_all(BENCHMARKS, args.quick)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / (TABLE_FILE if not args.quick else TABLE_FILE.replace(".md", "_quick.md"))
    path.write_text(page, encoding="utf-8")
    print(page)
    print(f"(written to {path})")
    if failed:
        log.error("failed: %s", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
