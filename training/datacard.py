"""Measured statistics for a labelled note collection: the numbers in `data/README.md`.

`python -m notecheck.training.datacard data/notes` prints Markdown tables: counts per language x label x category,
authors, lengths, the share of near-duplicate note pairs (character 5-gram Jaccard >= 0.5) and the most
repeated note openings.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from notecheck.model.loader import LabelledNote, load_notes
from notecheck.model.schema import VERDICTS, is_commercial
from notecheck.training.shortcuts import AUC_BOUNDS, audit


def char_ngrams(text: str, n: int = 5) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + n] for i in range(max(1, len(compact) - n + 1))}


def near_duplicate_pairs(
    texts: Sequence[str], n: int = 5, threshold: float = 0.5, twins: Sequence[str] | None = None
) -> tuple[int, int, list]:
    """(pairs at or above the Jaccard threshold, all pairs, the worst few pairs as (i, j, jaccard)).

    `twins` names each note's counterfactual pair (notes sharing a name are written to be near-duplicates,
    and are not counted)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for gram in char_ngrams(text, n):
            rows.append(i)
            cols.append(vocab.setdefault(gram, len(vocab)))
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocab)))
    inter = (m @ m.T).toarray()
    sizes = np.asarray(m.sum(axis=1)).ravel()
    union = sizes[:, None] + sizes[None, :] - inter
    jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    upper = np.triu_indices(len(texts), k=1)
    values = jac[upper]
    if twins is not None:
        names = np.asarray(twins)
        values = np.where(names[upper[0]] == names[upper[1]], 0.0, values)
    hits = values >= threshold
    worst = np.argsort(-values)[:5]
    return int(hits.sum()), len(values), [(int(upper[0][k]), int(upper[1][k]), float(values[k])) for k in worst]


def opening(text: str) -> str:
    """The first 8 non-space characters for Chinese, the first 3 words for English."""
    words = text.split()
    if any("\u4e00" <= ch <= "\u9fff" for ch in text[:20]):
        return "".join(words)[:8]
    return " ".join(w.lower().strip(".,!?") for w in words[:3])


def table(notes: Sequence[LabelledNote]) -> str:
    cats = sorted({str(n.extra.get("category", "?")) for n in notes})
    lines = ["| lang | category | " + " | ".join(VERDICTS) + " | total |", "|---|---|" + "---|" * (len(VERDICTS) + 1)]
    counts = Counter((n.note.lang, str(n.extra.get("category", "?")), n.label) for n in notes)
    for lang in sorted({n.note.lang or "?" for n in notes}):
        for cat in cats:
            row = [counts[(lang, cat, v)] for v in VERDICTS]
            lines.append(f"| {lang} | {cat} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
        row = [sum(counts[(lang, c, v)] for c in cats) for v in VERDICTS]
        lines.append(f"| **{lang}** | **all** | " + " | ".join(f"**{x}**" for x in row) + f" | **{sum(row)}** |")
    total = [sum(1 for n in notes if n.label == v) for v in VERDICTS]
    shares = " | ".join(f"**{x} ({x / len(notes):.0%})**" for x in total)
    lines.append(f"| **all** | **all** | {shares} | **{len(notes)}** |")
    return "\n".join(lines)


def field_of(item: LabelledNote, name: str) -> str:
    value = item.extra.get(name)
    return str(value) if value not in (None, "") else "-"


def shortcut_table(notes: Sequence[LabelledNote]) -> tuple[str, list[str]]:
    """Each surface feature's ROC AUC for commercial vs genuine, overall and per language; and the features
    outside the audit's bounds."""
    langs = sorted({n.note.lang or "?" for n in notes})
    scopes = {"all": list(notes), **{lang: [n for n in notes if n.note.lang == lang] for lang in langs}}
    results = {
        scope: audit(
            [n.note.title for n in items],
            [n.note.text for n in items],
            [int(is_commercial(str(n.label))) for n in items],
        )
        for scope, items in scopes.items()
    }
    low, high = AUC_BOUNDS
    lines = ["| feature | " + " | ".join(scopes) + " |", "|---|" + "---|" * len(scopes)]
    failing = []
    for feature in results["all"]:
        cells = []
        for scope in scopes:
            value = results[scope][feature]
            ok = low <= value <= high
            cells.append(f"{value:.2f}" if ok else f"**{value:.2f}**")
            if not ok:
                failing.append(f"{feature} ({scope}: {value:.2f})")
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return "\n".join(lines), failing


def breakdown(notes: Sequence[LabelledNote], keys: Sequence[str]) -> str:
    """Counts by the given fields x label, one row per combination that occurs."""
    counts = Counter((*(field_of(n, k) if k != "lang" else str(n.note.lang) for k in keys), n.label) for n in notes)
    combos = sorted({c[:-1] for c in counts})
    lines = ["| " + " | ".join(keys) + " | " + " | ".join(VERDICTS) + " | total |"]
    lines.append("|" + "---|" * (len(keys) + len(VERDICTS) + 1))
    for combo in combos:
        row = [counts[(*combo, v)] for v in VERDICTS]
        lines.append("| " + " | ".join(str(c) for c in combo) + " | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    return "\n".join(lines)


def v2_sections(notes: Sequence[LabelledNote]) -> list[str]:
    """Dataset v2 figures: writers, platform forms, titles and lengths, pairs, forms and the shortcut audit."""
    n = len(notes)
    writers = Counter(field_of(x, "writer") for x in notes)
    no_title = sum(1 for x in notes if not x.note.title.strip())
    short = {
        lang: np.mean([len(x.note.text) < limit for x in notes if x.note.lang == lang])
        for lang, limit in (("en", 200), ("zh", 80))
        if any(x.note.lang == lang for x in notes)
    }
    pairs = Counter(field_of(x, "pair_id") for x in notes if x.extra.get("pair_id"))
    table_, failing = shortcut_table(notes)
    out = [
        "### Writers, forms and pairs",
        "",
        f"Writers: {len(writers)}; notes per writer: min {min(writers.values())}, max {max(writers.values())}.",
        f"Notes without a title: {no_title} ({no_title / n:.0%}). Short notes: "
        + ", ".join(f"{lang} {share:.0%}" for lang, share in short.items())
        + " (English under 200 characters, Chinese under 80).",
        f"Counterfactual pairs: {sum(1 for c in pairs.values() if c == 2)} complete"
        + (f", {sum(1 for c in pairs.values() if c != 2)} incomplete" if any(c != 2 for c in pairs.values()) else "")
        + ".",
        "",
        "#### By platform form",
        "",
        breakdown(notes, ["lang", "platform"]),
        "",
        "#### By commercial or genuine form",
        "",
        breakdown(notes, ["form"]),
        "",
        "#### By writer",
        "",
        breakdown(notes, ["writer", "lang"]),
        "",
        "<details><summary>By writer x language x form</summary>",
        "",
        breakdown(notes, ["writer", "lang", "form"]),
        "",
        "</details>",
        "",
        "### Shortcut audit",
        "",
        "ROC AUC of each surface feature alone for commercial vs genuine (0.5: no signal). The audit asks for "
        f"{AUC_BOUNDS[0]:.2f}-{AUC_BOUNDS[1]:.2f}; values outside are in bold.",
        "",
        table_,
        "",
        "All features within bounds." if not failing else "Outside bounds: " + ", ".join(failing) + ".",
        "",
    ]
    return out


def report(notes: Sequence[LabelledNote]) -> str:
    texts = [f"{n.note.title}\n{n.note.text}" for n in notes]
    out = ["### Counts (language x category x label)", "", table(notes), ""]
    authors = Counter(n.note.author_id for n in notes)
    out.append(
        f"Authors: {len(authors)}; notes per author: min {min(authors.values())}, "
        f"median {int(np.median(list(authors.values())))}, max {max(authors.values())}."
    )
    for lang in sorted({n.note.lang or "?" for n in notes}):
        lengths = np.array([len(n.note.text) for n in notes if n.note.lang == lang])
        unit = "characters"
        out.append(
            f"Body length ({lang}, {unit}): min {lengths.min()}, median {int(np.median(lengths))}, "
            f"p90 {int(np.percentile(lengths, 90))}, max {lengths.max()}."
        )
    with_comments = sum(1 for n in notes if n.extra.get("comment_texts"))
    out.append(f"Notes with comment texts: {with_comments}.")
    out.append("")
    out += v2_sections(notes)
    twins = [str(n.extra.get("pair_id") or f"solo:{n.note.id}") for n in notes]
    hits, pairs, worst = near_duplicate_pairs(texts, twins=twins)
    out += [
        "",
        "### Diversity",
        "",
        f"Note pairs with character 5-gram Jaccard >= 0.5 (counterfactual twins excepted): {hits} of {pairs:,} "
        f"({hits / pairs:.4%}).",
        f"Most similar pair: {notes[worst[0][0]].note.id} / {notes[worst[0][1]].note.id} (Jaccard {worst[0][2]:.3f}).",
        "",
    ]
    openings = Counter(opening(n.note.text) for n in notes).most_common(8)
    out.append("Most repeated openings (first 8 characters / 3 words) and how many notes use each:")
    out.append("")
    out += [f"- `{o}`: {c} ({c / len(notes):.2%})" for o, c in openings]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    args = parser.parse_args(argv)
    from notecheck.training.pipeline import data_files

    notes, _ = load_notes(data_files(args.data))
    print(report(notes))  # this module is a script: its output is the report


if __name__ == "__main__":
    main()
