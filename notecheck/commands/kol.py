"""`notecheck kol`: KOL authenticity reports for one account, or a ranking of every account in the files.

    notecheck kol data/notes --author zh112
    notecheck kol data/notes --all --ranking runs/kol.csv      # and the chart runs/kol.png

Follower counts come from `--profiles FILE`, else from a `profiles.jsonl` beside the notes: in the folder of the
first note file or the folder above it (the bundled layout is `data/notes/*.jsonl` with `data/profiles.jsonl`).
Without them the per-follower checks are reported as not measured, and the command says so once on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from notecheck.commands.params import DEFAULT_MODEL, JsonOutput, ModelDir
from notecheck.model.options import TABLE_FORMATS, describe_formats

PROFILES_FILE = "profiles.jsonl"
REFERENCE_SOURCE = "the notes given"
PREDICT_BATCH = 64  # notes per `predict` call: the progress bar advances per batch
TOP = 15  # ranking rows printed with --all
#: how each check's status reads in the text report
MARKS = {"pass": "pass", "fail": "FAIL", "flagged": "FLAG", "ok": " ok ", "not_measured": "not measured"}


def parse_date(value: str, what: str = "--as-of") -> dt.date:
    """`value` as a date within the range KOL reports accept (`model.kol.dates`); `ConfigError` otherwise."""
    from notecheck.model.errors import ConfigError
    from notecheck.model.kol.dates import check_date

    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: '{value}' is not a date (YYYY-MM-DD)") from exc
    return check_date(day, what)


def load_rules(path: Path | None) -> Any:  # PlatformRules, imported lazily
    import yaml

    from notecheck.model.errors import ConfigError
    from notecheck.model.kol.check import PlatformRules

    if path is None:
        return PlatformRules()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"--rules {path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"--rules {path}: not valid YAML ({exc})") from exc
    return PlatformRules.from_dict(raw or {}, where=str(path))


def find_profiles(files: Sequence[Path]) -> Path | None:
    """`profiles.jsonl` in the folder of the first note file, else in the folder above it; None when neither."""
    if not files:
        return None
    folder = files[0].parent
    for candidate in (folder / PROFILES_FILE, folder.parent / PROFILES_FILE):
        if candidate.is_file():
            return candidate
    return None


def followers_warning(authors: Sequence[str], profiles: dict[str, Any], source: Path | None) -> str | None:
    """One line saying whose follower counts are unknown (so per-follower checks are not measured), or None."""
    unknown = [a for a in authors if getattr(profiles.get(a), "followers", None) is None]
    if not unknown:
        return None
    if source is None:
        where = f"no {PROFILES_FILE} beside the notes and no --profiles FILE"
    else:
        where = f"{len(unknown)} of {len(authors)} authors have no follower count in {source}"
    return f"notecheck kol: warning: followers unknown ({where}): per-follower checks are not measured"


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


def check_flags(author: str | None, rank_all: bool, ranking: Path | None, chart: Path | None, as_json: bool) -> None:
    """Refuse flag combinations that cannot work, before minutes of scoring."""
    from notecheck.model.errors import ConfigError

    if (author is None) == (not rank_all):
        raise ConfigError("give --author ID for one account's report or --all for the ranking, not both")
    if rank_all and ranking is None:
        raise ConfigError(f"--all: needs --ranking FILE ({describe_formats(TABLE_FORMATS)}) for the ranking")
    if author is not None and (ranking is not None or chart is not None):
        raise ConfigError("--author: --ranking and --chart only go with --all")
    if rank_all and as_json:
        raise ConfigError("--json: only with --author (--all writes a table)")
    if ranking is not None and ranking.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError(
            f"--ranking {ranking}: unknown table format '{ranking.suffix}' (use {describe_formats(TABLE_FORMATS)})"
        )
    if ranking is not None:
        from notecheck.model.outputs import check_output

        check_output(ranking)
        check_output(chart or ranking.with_suffix(".png"))


def kol(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="note files (.jsonl, .csv, .parquet) or directories")
    ],
    author: Annotated[str | None, typer.Option(metavar="ID", help="report on this author")] = None,
    rank_all: Annotated[bool, typer.Option("--all", help="rank every author (needs --ranking)")] = False,
    ranking: Annotated[
        Path | None, typer.Option(metavar="FILE", help="with --all: the ranking table to write (.csv or .parquet)")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(metavar="FILE", help="with --all: the chart PNG (default: the ranking's path, .png)")
    ] = None,
    model: ModelDir = DEFAULT_MODEL,
    profiles: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help=f"author profiles JSONL (default: the {PROFILES_FILE} beside the notes)"),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(metavar="FILE", help="platform rules YAML overriding PlatformRules fields by name")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="reference date (default: the newest posted_at in the files)"),
    ] = None,
    as_json: JsonOutput = False,
    no_reference: Annotated[
        bool, typer.Option("--no-reference", help="fixed engagement thresholds instead of ones from the notes")
    ] = False,
) -> None:
    """KOL reports: one account (--author) or a ranking of all (--all)."""
    from notecheck.model.classifier import Classifier
    from notecheck.model.errors import ConfigError
    from notecheck.model.kol.check import build_reports
    from notecheck.model.kol.data import load_profiles, reference_from_notes
    from notecheck.model.kol.rules import reference_date
    from notecheck.model.loader import data_files, load_notes

    check_flags(author, rank_all, ranking, chart, as_json)
    platform_rules = load_rules(rules)
    paths = data_files(files)
    profile_file = profiles or find_profiles(paths)
    known = load_profiles(profile_file) if profile_file is not None else {}
    loaded, summary = load_notes(paths, require_label=False)
    notes = [item.note for item in loaded]
    date, date_source = reference_date(notes, parse_date(as_of) if as_of else None)
    reference = None if no_reference else reference_from_notes(notes, known, REFERENCE_SOURCE)
    chosen = [n for n in notes if n.author_id and (rank_all or n.author_id == author)]
    if not chosen:
        authors = sorted({n.author_id for n in notes if n.author_id})
        what = f"--author: no notes by '{author}'" if author else "--all: no notes with an author_id"
        raise ConfigError(f"{what} in the files (authors: {', '.join(authors[:8]) or 'none'})")
    warning = followers_warning(sorted({n.author_id for n in chosen if n.author_id}), known, profile_file)
    if warning:
        print(warning, file=sys.stderr)
    classifier = Classifier.from_pretrained(model)
    predictions = predict_all(classifier, chosen)
    reports = build_reports(
        chosen,
        predictions,
        known,
        rules=platform_rules,
        reference=reference,
        as_of=date,
        as_of_source=date_source,
        model_version=classifier.version,
    )
    if ranking is None:
        report = reports[0].to_dict()
        print(json.dumps(report, ensure_ascii=False, indent=2) if as_json else render(report))
        return
    write_ranking(reports, ranking, chart, summary.describe())


def write_ranking(reports: list[Any], ranking: Path, chart: Path | None, loaded: str) -> None:
    import pandas as pd

    from notecheck.serving.batch.kol import draw_chart, rank_authors, write_table

    table = rank_authors(reports)
    out = write_table(table, ranking)
    drawn = draw_chart(table, chart or ranking.with_suffix(".png"))
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
    print(f"ranking: {out}\nchart: {drawn}")


def render(d: dict[str, Any]) -> str:
    """A readable report from `KolReport.to_dict()`; checks without data read "not measured", never "ok"."""
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
        *(f"  [{MARKS[r['status']]}] {r['rule']}: {r['detail']}" for r in d["eligibility"]["rules"]),
        f"engagement (thresholds from {d['engagement']['reference']['source']}):",
        *(_signal_line(s) for s in d["engagement"]["signals"]),
    ]
    if d["evidence"]["notes"]:
        shown = f"{len(d['evidence']['notes'])} of {u['count']}"
        lines.append(f"undisclosed ads, most confident first ({shown}; signals from {d['evidence']['signals_from']}):")
        for e in d["evidence"]["notes"]:
            found = ", ".join(f"{s['kind']} '{s['text']}'" for s in e["signals"]) or "none"
            lines.append(f"  {e['note_id']}: p={e['p_commercial']:.2f}, {e['disclosure']}; signals: {found}")
    return "\n".join(lines)


def _signal_line(s: dict[str, Any]) -> str:
    if s["status"] == "not_measured":  # the detail says why ("not measured: followers unknown")
        return f"  [{MARKS['not_measured']}] {s['label']}: {s['detail'].split(': ', 1)[-1]}"
    return f"  [{MARKS[s['status']]}] {s['detail']}  ({s['severity']}; {s['threshold_source']})"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"
