"""`notecheck retrain`: train a candidate on old + new data and promote it only if the gate passes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from notecheck.commands.params import DataFiles
from notecheck.model.options import RETRAIN_SLICE_TOLERANCE, RETRAIN_TOLERANCE, Backend


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


def retrain(
    registry: Annotated[Path, typer.Option(metavar="DIR", help="model registry directory (created if missing)")],
    data: DataFiles = None,
    config: Annotated[
        Path | None, typer.Option(metavar="FILE", help="run config YAML (default: the current model's own config)")
    ] = None,
    tolerance: Annotated[float, typer.Option(help="allowed macro-F1 drop")] = RETRAIN_TOLERANCE,
    slice_tolerance: Annotated[float, typer.Option(help="allowed drop per language")] = RETRAIN_SLICE_TOLERANCE,
    epochs: Annotated[int | None, typer.Option(min=1, help="training epochs (default: the config's)")] = None,
    base_model: Annotated[
        str | None, typer.Option(metavar="NAME", help="bundled alias, Hugging Face model id or local directory")
    ] = None,
    backend: Annotated[Backend | None, typer.Option(help="which model to train (default: the config's)")] = None,
    from_review: Annotated[
        str | None,
        typer.Option(
            "--from-review",
            metavar="DB_URL",
            help="also train on the review queue's decisions (sqlite:///notecheck.db, postgresql://...)",
        ),
    ] = None,
    start_from: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="an empty registry starts with this model as current (e.g. runs/default)"),
    ] = None,
) -> None:
    """Retrain on old + new notes; promote the candidate only if no worse.

    Without --data it retrains on the current data, or starts an empty registry from --config (or with the
    model --start-from names). With
    --from-review the moderators' decisions are snapshotted into the registry and added; a decision on a note
    the data already holds relabels it (listed in decision.json).
    """
    from notecheck.training.retrain import adopt, base_config, review_snapshot
    from notecheck.training.retrain import retrain as run_retrain

    new_data = list(data or [])
    if from_review is not None:  # first: a queue without decisions stops here, before the registry changes
        snapshot = review_snapshot(registry, from_review)
        print(f"review decisions: {snapshot}")
        new_data.append(str(snapshot))
    if start_from is not None:
        print(f"registry {registry}: holds {adopt(registry, start_from)} (from {start_from})")
    run_config = base_config(registry, config, epochs=epochs, base_model=base_model, model=backend)
    decision = run_retrain(registry, new_data, run_config, tolerance, slice_tolerance)
    print(table(decision))
    for reason in decision.reasons:
        print(f"- {reason}")
    applied = [r for r in decision.relabels if r["applied"]]
    if decision.relabels:
        held = len(decision.relabels) - len(applied)
        print(f"relabels: {len(applied)} applied, {held} held back (frozen test notes)")
    print(f"decision: {registry}/{decision.candidate_version}/decision.json")
    if decision.promote:
        print(f"promoted {decision.candidate_version}")
    else:
        print(f"kept {decision.current_version}: {decision.headline}")
