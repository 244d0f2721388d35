"""Check one writer's note file against the dataset guideline (`data/writers/README.md`).

`python -m notecheck.training.datacheck data/notes/zw03.jsonl` reports, line by line, what breaks the guideline (fields,
labels against disclosure ratings, pairs, near-duplicates of any other bundled note) and prints the file's
counts and its surface-feature table. Exit code 1 when anything is wrong, so a writer can run it after every
batch. Standard library only, plus the disclosure rules.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from notecheck.model.disclosure import rate
from notecheck.model.paths import bundled_path
from notecheck.training.shortcuts import SURFACE_FEATURES, auc

PLATFORMS = ("xiaohongshu", "instagram", "tiktok", "weibo", "douyin", "moments")
CATEGORIES = [
    "beauty",
    "education",
    "fashion",
    "finance",
    "fitness",
    "food",
    "health",
    "home",
    "parenting",
    "pets",
    "skincare",
    "tech",
    "travel",
]
COMMERCIAL_FORMS = [
    "gifted",
    "affiliate",
    "code",
    "giveaway",
    "ambassador",
    "hosted",
    "daigou",
    "group_buy",
    "private_order",
    "course",
    "mlm",
    "med_aesthetic",
    "supplement",
    "app_cashback",
    "employee",
    "brand_posing",
    "biased_compare",
    "paid_promo",
]
GENUINE_FORMS = [
    "brand_praise",
    "complaint",
    "sale_alert",
    "public_link",
    "friend_giveaway",
    "job_post",
    "secondhand",
    "ad_work",
    "ad_mention",
    "everyday",
]
LABELS = ("genuine", "disclosed_ad", "undisclosed_ad")
COUNTS = ("exposure", "likes", "collects", "comments")
SHORT = {"en": 200, "zh": 80}
NGRAM, JACCARD = 5, 0.5


def grams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + NGRAM] for i in range(max(1, len(compact) - NGRAM + 1))}


def row_problems(row: dict[str, Any], writer: str) -> list[str]:
    """Everything wrong with one row, as `field: reason` strings."""
    out = []
    for name in ("id", "writer", "author_id", "text", "title", "posted_at"):
        if not isinstance(row.get(name), str):
            out.append(f"{name}: missing or not a string")
    if out:
        return out
    if row["writer"] != writer:
        out.append(f"writer: '{row['writer']}' but the file is {writer}.jsonl")
    if not row["id"].startswith(writer + "-") or not row["author_id"].startswith(writer + "-a"):
        out.append(f"id/author_id: must start with '{writer}-' / '{writer}-a'")
    for name, allowed in (
        ("lang", ("zh", "en")),
        ("platform", PLATFORMS),
        ("category", CATEGORIES),
        ("label", LABELS),
        ("form", COMMERCIAL_FORMS + GENUINE_FORMS),
    ):
        if row.get(name) not in allowed:
            out.append(f"{name}: {row.get(name)!r} is not one of {', '.join(allowed)}")
    if not row["text"].strip():
        out.append("text: empty")
    try:
        day = dt.date.fromisoformat(row["posted_at"])
        if not dt.date(2026, 5, 1) <= day <= dt.date(2026, 11, 20):
            out.append("posted_at: outside 2026-05-01 .. 2026-11-20")
    except ValueError:
        out.append("posted_at: not an ISO date")
    for name in COUNTS:
        value = row.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            out.append(f"{name}: must be a non-negative integer")
    label, form = row.get("label"), row.get("form")
    if label == "genuine" and form in COMMERCIAL_FORMS or label != "genuine" and form in GENUINE_FORMS:
        out.append(f"form: '{form}' does not fit label '{label}'")
    rating = rate(row["text"], row["title"])
    if label == "disclosed_ad" and rating.rating != "clear":
        out.append(f"label: disclosed_ad but the rules rate '{rating.rating}' ({rating.reason})")
    if label == "undisclosed_ad" and rating.rating == "clear":
        out.append(f"label: undisclosed_ad but the rules rate 'clear' ({rating.reason})")
    if label == "genuine" and rating.rating == "clear":
        out.append(f"label: genuine note rated 'clear' ({rating.reason}); reword or list it in the wordings file")
    if ("pair_id" in row) != ("pair_role" in row) or row.get("pair_role") not in (None, "original", "edited"):
        out.append("pair_id/pair_role: both or neither; pair_role is 'original' or 'edited'")
    return out


def pair_problems(rows: Sequence[dict[str, Any]]) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("pair_id"):
            groups[row["pair_id"]].append(row)
    out = []
    for pair_id, members in groups.items():
        roles = sorted(str(m.get("pair_role")) for m in members)
        if roles != ["edited", "original"]:
            out.append(f"pair {pair_id}: needs one 'original' and one 'edited', has {roles}")
            continue
        for name in ("author_id", "category", "platform", "lang"):
            if len({m.get(name) for m in members}) > 1:
                out.append(f"pair {pair_id}: members differ in {name}")
        if members[0].get("label") == members[1].get("label"):
            out.append(f"pair {pair_id}: both members are '{members[0].get('label')}'")
    return out


def duplicates(rows: Sequence[dict[str, Any]], others: Sequence[tuple[str, str]]) -> list[str]:
    """Rows too close (5-gram Jaccard >= 0.5) to another note that is not their pair twin."""
    index: dict[str, list[int]] = defaultdict(list)
    pool = [(str(r["id"]), f"{r.get('title', '')}\n{r['text']}", r.get("pair_id")) for r in rows]
    pool += [(i, t, None) for i, t in others]
    sets = [grams(t) for _, t, _ in pool]
    for k, s in enumerate(sets):
        for g in s:
            index[g].append(k)
    out = []
    for k in range(len(rows)):
        shared: Counter[int] = Counter()
        for g in sets[k]:
            shared.update(j for j in index[g] if j != k)
        for j, inter in shared.items():
            if j < len(rows) and j < k:
                continue  # each pair inside the file once
            jac = inter / (len(sets[k]) + len(sets[j]) - inter)
            same_pair = pool[k][2] is not None and pool[k][2] == pool[j][2]
            if jac >= JACCARD and not same_pair:
                out.append(f"{pool[k][0]}: near-duplicate of {pool[j][0]} (Jaccard {jac:.2f})")
    return out


def summary(rows: Sequence[dict[str, Any]]) -> str:
    n = len(rows)
    labels = Counter(r.get("label") for r in rows)
    lines = [f"{n} notes, {len({r.get('author_id') for r in rows})} authors"]
    lines.append("labels: " + ", ".join(f"{lab} {labels[lab]} ({labels[lab] / n:.0%})" for lab in LABELS))
    no_title = sum(1 for r in rows if not str(r.get("title", "")).strip())
    short = sum(1 for r in rows if len(str(r.get("text", ""))) < SHORT.get(str(r.get("lang")), 0))
    pairs = len({r["pair_id"] for r in rows if r.get("pair_id")})
    lines.append(f"no title {no_title / n:.0%} (target >= 45%); short {short / n:.0%} (target >= 35%); pairs {pairs}")
    lines.append("platforms: " + ", ".join(f"{k} {v}" for k, v in Counter(r.get("platform") for r in rows).items()))
    lines.append("forms: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r.get("form") for r in rows).items())))
    y = [0 if r.get("label") == "genuine" else 1 for r in rows]
    if 0 < sum(y) < n:
        lines.append("surface features (ROC AUC for 'commercial', keep within 0.35-0.65):")
        for name, feature in SURFACE_FEATURES.items():
            value = auc([feature(str(r.get("title", "")), str(r.get("text", ""))) for r in rows], y)
            flag = "" if 0.35 <= value <= 0.65 else "   <-- gives the label away"
            lines.append(f"  {name:<14} {value:.2f}{flag}")
    return "\n".join(lines)


def check(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    writer = path.stem
    problems, rows = [], []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        problems += [f"line {number} ({row.get('id')}): {p}" for p in row_problems(row, writer)]
        if row.get("id") in seen:
            problems.append(f"line {number}: id {row.get('id')} repeated")
        seen.add(str(row.get("id")))
        if isinstance(row.get("text"), str):
            rows.append(row)
    problems += pair_problems(rows)
    others = []
    for other in sorted(path.parent.glob("*.jsonl")):
        if other.resolve() == path.resolve():
            continue
        for raw in other.read_text(encoding="utf-8").splitlines():
            try:
                obj = json.loads(raw)
                others.append((str(obj["id"]), f"{obj.get('title') or ''}\n{obj['text']}"))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    problems += duplicates(rows, others)
    return problems, rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = False
    for given in args.files:
        path = Path(bundled_path(given))
        problems, rows = check(path)
        print(f"== {path}")
        print("\n".join(problems) if problems else "no problems found")
        if rows:
            print(summary(rows))
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
