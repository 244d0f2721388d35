"""The stats plots take any category name: math-looking text is drawn as written, Chinese stays text."""

from __future__ import annotations

import base64

from notecheck.model.review.export import ReviewStats
from notecheck.serving.review.plots import stats_plots


def test_category_names_are_drawn_as_written() -> None:
    stats = ReviewStats(
        per_day={"2026-12-01": 3},
        agreement_by_category={"$\\foo{$": (1, 2), "美妆": (2, 2)},
        agreement_by_lang={"zh": (3, 4)},
        overturned_p=[0.4],
    )
    plots = stats_plots(stats)
    assert len(plots) == 3
    svg = base64.b64decode(plots[1].uri.split(",", 1)[1]).decode("utf-8")
    assert "美妆" in svg and "$\\foo{$" in svg
