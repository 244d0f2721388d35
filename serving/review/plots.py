"""The stats page's plots as self-contained SVG data URIs (no files, nothing for the page to fetch)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any, cast

from notecheck.model.review.export import ReviewStats


@dataclass(frozen=True)
class Plot:
    uri: str
    alt: str


#: Labels are data (categories from the API and files): never parsed as math text, and drawn with a CJK font
#: where one is installed (Debian's fonts-noto-cjk), falling back to matplotlib's own.
STYLE = {
    "text.parse_math": False,
    "svg.fonttype": "none",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"],
}


def _figure(**kwargs: Any) -> Any:
    """A figure not registered with pyplot (whose global state is not safe across the server's threads)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def stats_plots(stats: ReviewStats) -> list[Plot]:
    """Decisions per day; agreement with the model per category and per language; P of overturned verdicts."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # a missing fallback font is fine
    with matplotlib.rc_context(cast(Any, STYLE)):
        return _plots(stats)


def _plots(stats: ReviewStats) -> list[Plot]:
    from matplotlib.ticker import MaxNLocator

    plots = []
    fig = _figure(figsize=(7.5, 2.6))
    ax = fig.subplots()
    days = list(stats.per_day)
    ax.bar(days, [stats.per_day[d] for d in days], color="#475569")
    ax.set_title("decisions per day (UTC)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    if not days:
        ax.text(0.5, 0.5, "no decisions yet", ha="center", va="center", transform=ax.transAxes)
    plots.append(Plot(_uri(fig), "decisions per day"))

    fig = _figure(figsize=(7.5, 2.8))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    for ax, (name, table) in zip(
        axes, (("category", stats.agreement_by_category), ("language", stats.agreement_by_lang)), strict=True
    ):
        keys = list(table)
        shares = [table[k][0] / table[k][1] if table[k][1] else 0.0 for k in keys]
        ax.barh(keys, shares, color="#2563eb")
        for y, key in enumerate(keys):
            ax.text(1.01, y, f"{table[key][0]}/{table[key][1]}", va="center", fontsize=7)
        ax.set_xlim(0, 1.2)
        ax.set_title(f"agreement with the model by {name}", fontsize=9)
        ax.tick_params(labelsize=8)
    plots.append(Plot(_uri(fig), "agreement with the model by category and language"))

    fig = _figure(figsize=(7.5, 2.6))
    ax = fig.subplots()
    ax.hist(stats.overturned_p, bins=[i / 20 for i in range(21)], color="#b91c1c")
    ax.set_xlim(0, 1)
    ax.set_xlabel("the model's P(ad) on notes whose verdict a moderator overturned")
    ax.set_title(f"overturned verdicts: {len(stats.overturned_p)}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    plots.append(Plot(_uri(fig), "P histogram of overturned verdicts"))
    return plots
