"""`notecheck kol`: KOL authenticity reports for one account, or a ranking of every account in the files."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

HELP = "KOL authenticity: one account's report (--author) or a ranking of all accounts (--all)"
DEFAULT_MODEL = "runs/default"
DEFAULT_PROFILES = Path("data/profiles.jsonl")
REFERENCE_SOURCE = "the notes given"
PREDICT_BATCH = 64  # notes per `predict` call: the progress bar advances per batch
TOP = 15  # ranking rows printed with --all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="note files or directories (.jsonl, .csv, .parquet)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--author", metavar="ID", help="report on this author")
    who.add_argument("--all", action="store_true", help="rank every author (needs -o)")
    parser.add_argument("-o", "--out", help="ranking table to write with --all (.csv or .parquet)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model directory (default {DEFAULT_MODEL})")
    parser.add_argument("--profiles", help=f"author profiles JSONL (default {DEFAULT_PROFILES} when it exists)")
    parser.add_argument("--rules", help="platform rules YAML overriding PlatformRules fields by name")
    parser.add_argument("--as-of", help="reference date YYYY-MM-DD (default: the newest posted_at in the files)")
    parser.add_argument("--chart", help="chart PNG with --all (default: the table's path with .png)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (with --author)")
    parser.add_argument("--no-reference", action="store_true", help="fixed engagement thresholds, no reference")


def parse_date(value: str, what: str = "--as-of") -> dt.date:
    from notecheck.model.errors import ConfigError

    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: '{value}' is not a date (YYYY-MM-DD)") from exc


def load_rules(path: str | None) -> Any:  # PlatformRules, imported lazily
    import yaml

    from notecheck.model.errors import ConfigError
    from notecheck.model.kol.check import PlatformRules

    if path is None:
        return PlatformRules()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"--rules {path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"--rules {path}: not valid YAML ({exc})") from exc
    return PlatformRules.from_dict(raw or {}, where=path)


def load_profiles_arg(path: str | None) -> dict[str, Any]:
    from notecheck.model.kol.data import load_profiles

    if path is not None:
        return load_profiles(path)
    return load_profiles(DEFAULT_PROFILES) if DEFAULT_PROFILES.is_file() else {}


def predict_all(classifier: Any, notes: list[Any]) -> list[Any]:
    """`classifier.predict` over all notes in batches, with a progress bar on stderr."""
    from tqdm import tqdm

    predictions: list[Any] = []
    with tqdm(total=len(notes), desc="scoring notes", unit="note", disable=len(notes) <= PREDICT_BATCH) as bar:
        for start in range(0, len(notes), PREDICT_BATCH):
            chunk = notes[start : start + PREDICT_BATCH]
            predictions += classifier.predict(chunk)
            bar.update(len(chunk))
    return predictions


def run(args: argparse.Namespace) -> int:
    from notecheck.model.classifier import Classifier
    from notecheck.model.errors import ConfigError
    from notecheck.model.kol.check import build_reports
    from notecheck.model.kol.data import reference_from_notes
    from notecheck.model.kol.rules import reference_date
    from notecheck.model.loader import load_notes
    from notecheck.training.pipeline import data_files

    if args.all and not args.out:
        raise ConfigError("--all: needs -o OUT (.csv or .parquet) for the ranking")
    if args.author and (args.out or args.chart):
        raise ConfigError("--author: -o and --chart only go with --all")
    if args.all and args.json:
        raise ConfigError("--json: only with --author (--all writes a table)")
    if args.all:
        from notecheck.serving.batch.kol import TABLE_SUFFIXES

        if Path(args.out).suffix.lower() not in TABLE_SUFFIXES:  # say so before minutes of scoring
            raise ConfigError(
                f"--out {args.out}: unknown table format '{Path(args.out).suffix}' (use .csv or .parquet)"
            )
    rules = load_rules(args.rules)
    profiles = load_profiles_arg(args.profiles)
    loaded, summary = load_notes(data_files(args.files), require_label=False)
    notes = [item.note for item in loaded]
    as_of, as_of_source = reference_date(notes, parse_date(args.as_of) if args.as_of else None)
    reference = None if args.no_reference else reference_from_notes(notes, profiles, REFERENCE_SOURCE)
    chosen = [n for n in notes if n.author_id and (args.all or n.author_id == args.author)]
    if not chosen:
        authors = sorted({n.author_id for n in notes if n.author_id})
        what = f"--author: no notes by '{args.author}'" if args.author else "--all: no notes with an author_id"
        raise ConfigError(f"{what} in the files (authors: {', '.join(authors[:8]) or 'none'})")
    classifier = Classifier.from_pretrained(args.model)
    predictions = predict_all(classifier, chosen)
    reports = build_reports(
        chosen,
        predictions,
        profiles,
        rules=rules,
        reference=reference,
        as_of=as_of,
        as_of_source=as_of_source,
        model_version=classifier.version,
    )
    if args.author:
        report = reports[0]
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else render(report.to_dict()))
        return 0
    return write_ranking(reports, args, summary.describe())


def write_ranking(reports: list[Any], args: argparse.Namespace, loaded: str) -> int:
    import pandas as pd

    from notecheck.serving.batch.kol import draw_chart, rank_authors, write_table

    table = rank_authors(reports)
    out = write_table(table, args.out)
    chart = draw_chart(table, args.chart or Path(args.out).with_suffix(".png"))
    print(loaded)
    top = table.head(TOP)
    view = pd.DataFrame(
        {
            "rank": top["rank"],
            "author": top["author_id"],
            "grade": top["grade"] + " (" + top["risk"] + ")",
            "followers": top["followers"].map(lambda f: "?" if pd.isna(f) else f"{f:,}"),
            "notes": top["notes_scored"],
            "undisclosed": [
                f"{s:.0%} [{lo:.0%}-{hi:.0%}]"
                for s, lo, hi in zip(
                    top["undisclosed_share"], top["undisclosed_ci_low"], top["undisclosed_ci_high"], strict=True
                )
            ],
            "credit": top["credit_score"],
            "eligible": top["eligible"].map({True: "yes", False: "no"}),
            "engagement flags": top["strong_engagement_flags"],
        }
    )
    print(view.to_string(index=False))
    counts = table["grade"].value_counts().reindex(list("ABCDF"), fill_value=0)
    print("grades: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
    print(f"ranking: {out}\nchart: {chart}")
    return 0


def render(d: dict[str, Any]) -> str:
    """A readable report from `KolReport.to_dict()`."""
    u, c, credit = d["undisclosed"], d["disclosure_compliance"], d["credit"]
    followers = (d["profile"] or {}).get("followers")
    lines = [
        f"KOL report: {d['author_id']}  (model {d['model_version']}, as of {d['as_of']} [{d['as_of_source']}])",
        f"grade {d['grade']} ({d['risk']})",
        *(f"  - {reason}" for reason in d["reasons"]),
        f"followers: {'unknown' if followers is None else f'{followers:,}'}; notes scored: {d['notes_scored']}",
        f"commercial: {_pct(d['commercial_share'])}; undisclosed ads: {u['count']} ({_pct(u['share'])}, "
        f"95% interval {_pct(u['ci_low'])}-{_pct(u['ci_high'])})",
        f"disclosure compliance: {_pct(c['share'])} of {c['commercial']} commercial notes clearly disclosed",
        f"credit score: {credit['score']} of {credit['start']} ({credit['private_orders']} private orders)",
        f"brand-partner eligible: {'yes' if d['eligibility']['eligible'] else 'no'}",
        *(f"  [{'pass' if r['passed'] else 'FAIL'}] {r['rule']}: {r['detail']}" for r in d["eligibility"]["rules"]),
        f"engagement (thresholds from {d['engagement']['reference']['source']}):",
        *(
            f"  [{'FLAG' if s['flagged'] else ' ok '}] {s['detail']}  ({s['severity']}; {s['threshold_source']})"
            for s in d["engagement"]["signals"]
        ),
    ]
    if d["evidence"]["notes"]:
        shown = f"{len(d['evidence']['notes'])} of {u['count']}"
        lines.append(f"undisclosed ads, most confident first ({shown}; signals from {d['evidence']['signals_from']}):")
        for e in d["evidence"]["notes"]:
            found = ", ".join(f"{s['kind']} '{s['text']}'" for s in e["signals"]) or "none"
            lines.append(f"  {e['note_id']}: p={e['p_commercial']:.2f}, {e['disclosure']}; signals: {found}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"
