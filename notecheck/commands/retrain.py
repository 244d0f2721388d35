"""`notecheck retrain`: train a candidate on old + new data and promote it only if the gate passes."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "retrain on old + new labelled notes; promote the candidate only if it is no worse"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", required=True, help="model registry directory (created if missing)")
    parser.add_argument(
        "--data",
        nargs="*",
        default=[],
        help="new labelled note files, e.g. moderator decisions (none: retrain on the current data, or start "
        "an empty registry from --config)",
    )
    parser.add_argument("--config", help="run config YAML (default: the current model's own config)")
    parser.add_argument("--tolerance", type=float, default=0.01, help="allowed macro-F1 drop (default 0.01)")
    parser.add_argument(
        "--slice-tolerance", type=float, default=0.03, help="allowed macro-F1 drop per language (default 0.03)"
    )
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--base-model", help="bundled alias, Hugging Face model id or local directory")
    parser.add_argument("--model", choices=["transformer", "tfidf"], help="which backend to train")


def table(decision: Any) -> str:  # training.retrain.Decision, imported lazily
    """Current vs candidate macro-F1, overall and per language, as aligned text."""
    cur, cand, deltas = decision.current, decision.candidate, decision.deltas
    rows = [["", "current", "candidate", "delta"]]
    rows.append(["macro-F1", _fmt(cur.get("macro_f1")), _fmt(cand.get("macro_f1")), _signed(deltas.get("macro_f1"))])
    langs = list(dict.fromkeys([*cur.get("by_lang", {}), *cand.get("by_lang", {})]))
    for lang in langs:
        before, after = cur.get("by_lang", {}).get(lang, {}), cand.get("by_lang", {}).get(lang, {})
        n = after.get("n", before.get("n", 0))
        delta = deltas.get("by_lang", {}).get(lang)
        rows.append([f"{lang} ({n} notes)", _fmt(before.get("macro_f1")), _fmt(after.get("macro_f1")), _signed(delta)])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def run(args: argparse.Namespace) -> int:
    from notecheck.training.retrain import base_config, retrain

    config = base_config(args.registry, args.config, epochs=args.epochs, base_model=args.base_model, model=args.model)
    decision = retrain(args.registry, list(args.data), config, args.tolerance, args.slice_tolerance)
    print(table(decision))
    for reason in decision.reasons:
        print(f"- {reason}")
    print(f"decision: {args.registry}/{decision.candidate_version}/decision.json")
    if decision.promote:
        print(f"promoted {decision.candidate_version}")
    else:
        print(f"kept {decision.current_version}: {decision.headline}")
    return 0
