"""All accounts at once: a ranking table of KOL reports (CSV or Parquet) and a chart of the whole population.

The ranking puts the riskiest accounts first: by grade (F, D, C, B, A), then by the lower bound of the
undisclosed-ad share's 95% interval, then by the number of strong engagement flags, then by the share
itself, then by author id, so the order never depends on input order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from notecheck.model.errors import ConfigError
from notecheck.model.kol.check import KolReport
from notecheck.model.kol.grade import ORDER
from notecheck.model.options import TABLE_FORMATS, describe_formats
from notecheck.model.outputs import writing

log = logging.getLogger(__name__)

GRADE_COLOURS = {"A": "#1a9850", "B": "#91cf60", "C": "#fdae61", "D": "#f46d43", "F": "#d73027"}
FLAGGED_GRADES = ("F",)  # accounts labelled on the chart and marked `flagged` in the table
COLUMNS = [
    "author_id", "grade", "risk", "flagged", "account_type", "followers", "notes_scored", "commercial_share",
    "undisclosed_count", "undisclosed_share", "undisclosed_ci_low", "undisclosed_ci_high",
    "disclosure_compliance", "credit_score", "eligible", "mean_exposure", "avg_exposure_window",
    "strong_engagement_flags", "engagement_flags", "duplicate_comment_share", "reasons", "model_version", "as_of",
]  # fmt: skip


def _row(report: KolReport) -> dict[str, Any]:
    low, high = report.undisclosed_interval
    window = next((c for c in report.eligibility if c.name == "min_avg_exposure"), None)
    profile = report.profile
    duplicate = next((s.value for s in report.signals if s.name == "duplicate_comment_share"), None)
    return {
        "author_id": report.author_id,
        "grade": report.grade.letter,
        "risk": report.grade.risk,
        "flagged": report.grade.letter in FLAGGED_GRADES,
        "account_type": profile.account_type if profile else None,
        "followers": profile.followers if profile else None,
        "notes_scored": report.notes_scored,
        "commercial_share": report.commercial_share,
        "undisclosed_count": report.undisclosed,
        "undisclosed_share": report.undisclosed_share,
        "undisclosed_ci_low": low,
        "undisclosed_ci_high": high,
        "disclosure_compliance": report.compliance,
        "credit_score": report.credit.score,
        "eligible": report.eligible,
        "mean_exposure": report.mean_exposure,
        "avg_exposure_window": window.value if window else None,
        "strong_engagement_flags": sum(1 for s in report.signals if s.flagged and s.severity == "strong"),
        "engagement_flags": ";".join(report.engagement_flags),
        "duplicate_comment_share": duplicate,
        "reasons": " | ".join(report.grade.reasons),
        "model_version": report.model_version,
        "as_of": report.as_of.isoformat() if report.as_of else None,
    }


def rank_authors(reports: Sequence[KolReport]) -> pd.DataFrame:
    """One row per author, riskiest first (see the module docstring), with a 1-based `rank` column."""
    rows = [_row(r) for r in reports]
    rows.sort(
        key=lambda r: (
            -ORDER.index(r["grade"]),
            -r["undisclosed_ci_low"],
            -r["strong_engagement_flags"],
            -(r["undisclosed_share"] or 0.0),
            r["author_id"],
        )
    )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.insert(0, "rank", range(1, len(table) + 1))
    table["followers"] = table["followers"].astype("Int64")  # stays whole numbers with gaps
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the ranking as CSV or Parquet, chosen by the file suffix."""
    path = Path(path)
    kind = TABLE_FORMATS.get(path.suffix.lower())
    if kind is None:
        use = describe_formats(TABLE_FORMATS)
        raise ConfigError(f"--ranking {path}: unknown table format '{path.suffix}' (use {use})")
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "csv":
            table.to_csv(path, index=False)
        else:
            table.to_parquet(path, index=False)
    log.debug("wrote the ranking of %d authors to %s", len(table), path)
    return path


def _sizes(followers: pd.Series) -> list[float]:
    """Marker areas growing with the square root of followers (unknown: the smallest size)."""
    return [20.0 if pd.isna(f) else 20.0 + 3.0 * math.sqrt(float(f)) / 2 for f in followers]


#: label offsets tried in turn (points from the marker): right, then below, above, further out, left
_OFFSETS = [(6, 4), (6, -10), (6, 14), (6, -20), (6, 24), (6, -30), (-6, 4), (-6, -10), (-6, 14), (-6, -20)]


def _place_labels(ax: Any, rows: pd.DataFrame, fontsize: float = 6.5) -> None:
    """Label each row's point with its author id at the first offset whose box overlaps no earlier label."""
    dpi_scale = ax.figure.dpi / 72.0
    taken: list[tuple[float, float, float, float]] = []
    for row in rows.sort_values(["mean_exposure", "undisclosed_share"]).itertuples():
        x, y = ax.transData.transform((row.mean_exposure, row.undisclosed_share))
        width, height = 0.62 * fontsize * len(str(row.author_id)) * dpi_scale, fontsize * 1.2 * dpi_scale
        for dx, dy in _OFFSETS:
            left = x + dx * dpi_scale - (width if dx < 0 else 0.0)
            bottom = y + dy * dpi_scale
            box = (left, bottom, left + width, bottom + height)
            if not any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
                break
        taken.append(box)
        ax.annotate(
            row.author_id,
            (row.mean_exposure, row.undisclosed_share),
            xytext=(dx, dy),
            textcoords="offset points",
            ha="right" if dx < 0 else "left",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "lw": 0.3, "color": "0.4"} if abs(dy) > 10 else None,
        )


def draw_chart(table: pd.DataFrame, path: str | Path, title: str = "KOL authenticity") -> Path:
    """A PNG of every author: undisclosed-ad share (y) against mean exposure (x, log scale), point size by
    followers, colour by grade, triangles where engagement looks bought; flagged accounts labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    path = Path(path)
    shown = table[table["mean_exposure"].notna() & (table["mean_exposure"] > 0)] if len(table) else table
    fig, ax = plt.subplots(figsize=(11, 7), dpi=150)
    bought = shown["strong_engagement_flags"] >= 2 if len(shown) else pd.Series(dtype=bool)
    for letter, colour in GRADE_COLOURS.items():
        for marker, mask in (("o", ~bought), ("^", bought)):
            part = shown[(shown["grade"] == letter) & mask] if len(shown) else shown
            if len(part):
                ax.scatter(
                    part["mean_exposure"],
                    part["undisclosed_share"],
                    s=_sizes(part["followers"]),
                    c=colour,
                    marker=marker,
                    alpha=0.75,
                    edgecolors="black",
                    linewidths=0.4,
                )
    ax.set_xscale("log")
    if len(shown):
        ax.set_xlim(shown["mean_exposure"].min() / 1.6, shown["mean_exposure"].max() * 1.6)
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("mean exposure per note (views, log scale)")
    ax.set_ylabel("undisclosed-ad share of scored notes")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(True, which="major", alpha=0.3)
    left_out = len(table) - len(shown)
    subtitle = f"{len(shown)} authors" + (f" ({left_out} without exposure not shown)" if left_out else "")
    if len(table) and table["as_of"].notna().any():
        subtitle += f", as of {table['as_of'].dropna().iloc[0]}; grade F accounts labelled"
    ax.set_title(f"{title}: undisclosed ads against reach\n{subtitle}", fontsize=11)
    handles = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor=c, markeredgecolor="black", markersize=8, label=g)
        for g, c in GRADE_COLOURS.items()
    ]
    handles.append(
        Line2D([], [], marker="^", linestyle="", markerfacecolor="white", markeredgecolor="black", markersize=8,
               label="engagement looks bought")
    )  # fmt: skip
    first = ax.legend(handles=handles, title="grade", loc="upper left", fontsize=8, title_fontsize=8)
    ax.add_artist(first)
    sizes = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="black",
               markersize=math.sqrt(_sizes(pd.Series([f]))[0]), label=f"{f:,}")
        for f in (1_000, 10_000, 100_000)
    ]  # fmt: skip
    ax.legend(handles=sizes, title="followers", loc="upper right", fontsize=8, title_fontsize=8, labelspacing=1.4)
    fig.tight_layout()
    if len(shown):  # after the layout, so label boxes are measured where they will be drawn
        _place_labels(ax, shown[shown["flagged"]])
    try:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path)
    finally:
        plt.close(fig)
    log.debug("wrote the chart to %s", path)
    return path
