"""Measured statistics for a labelled note collection: the numbers in `data/README.md`.

`python -m training.datacard data/notes` prints Markdown tables: counts per language x label x category,
authors, lengths, the share of near-duplicate note pairs (character 5-gram Jaccard >= 0.5) and the most
repeated note openings.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from model.loader import LabelledNote, load_notes
from model.schema import VERDICTS


def char_ngrams(text: str, n: int = 5) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + n] for i in range(max(1, len(compact) - n + 1))}


def near_duplicate_pairs(texts: Sequence[str], n: int = 5, threshold: float = 0.5) -> tuple[int, int, list]:
    """(pairs at or above the Jaccard threshold, all pairs, the worst few pairs as (i, j, jaccard))."""
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
    hits, pairs, worst = near_duplicate_pairs(texts)
    out += [
        "",
        "### Diversity",
        "",
        f"Note pairs with character 5-gram Jaccard >= 0.5: {hits} of {pairs:,} ({hits / pairs:.4%}).",
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
    from training.pipeline import data_files

    notes, _ = load_notes(data_files(args.data))
    print(report(notes))  # this module is a script: its output is the report


if __name__ == "__main__":
    main()
