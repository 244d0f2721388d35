"""Fake-engagement signals for one author: engagement rates against a reference, and copy-paste comments.

Each signal compares one author's *median* over their notes (likes per exposure, collects per like, ...)
with a threshold, and says where the threshold came from:

- from a `ReferenceDistribution` of every author's median in a dataset (`ReferenceDistribution.from_notes`,
  computed once per dataset and passed in). The default fence is Tukey's "far out" fence (k = 3) taken on
  log values, since engagement ratios are multiplicative: Q3 x (Q3/Q1)^3 above, Q1 / (Q3/Q1)^3 below
  (the duplicate-comment share, a proportion that is mostly 0, uses Q3 + 3 x IQR with a fixed floor).
  Not a percentile: bought accounts are a sizeable minority of a moderated population (12 of 90 authors
  in the bundled data), so the 95th or 99th percentile of authors' medians lands *inside* their cluster.
  Measured on the bundled data, likes per view: p95 0.458 and p99 0.496 catch 5 and 1 of the 12 bought
  accounts (their medians start at 0.400; every other author is at most 0.070), while the log-scale fence,
  0.390, catches all 12. Quartiles are unmoved by up to a quarter of outliers. `method="percentile"` gives
  the 99th (1st) percentile instead.
- without a reference, from `FIXED_DEFAULTS`: judgement-based limits with generous margins over what real
  audiences do on lifestyle-note platforms (likes a few percent of views, collects around as many as likes,
  comments about a tenth of likes). They are not fitted to the bundled data.

Per-follower rates are *weak* signals: small accounts with one viral note legitimately reach many times
their follower count, so on their own they only lower a grade to B, "worth a look" (see `model.kol_grade`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from notecheck.model.errors import ConfigError
from notecheck.model.kol.comments import comment_texts, duplicate_share
from notecheck.model.schema import Note

Side = Literal["high", "low"]
Severity = Literal["strong", "weak"]
#: A check's outcome in reports: flagged, within range, or not measured (no data to compute it from).
SignalStatus = Literal["flagged", "ok", "not_measured"]

MIN_NOTES_FOR_REFERENCE = 3  # an author's median enters the reference only with this many notes behind it
MIN_AUTHORS_FOR_REFERENCE = 8  # fewer authors than this give no usable quartiles: fixed defaults are used


@dataclass(frozen=True)
class Metric:
    """One engagement ratio: `numerator / denominator` per note, or a share computed over all comments."""

    name: str
    label: str  # plain English, for reports
    numerator: str
    denominator: str  # a note field, or "followers" (the author's profile)
    sides: tuple[Side, ...]
    severity: Severity
    default_high: float | None = None
    default_low: float | None = None
    min_high: float | None = None  # a dataset fence is never tighter than this (degenerate references)
    log_scale: bool = True  # ratios are multiplicative: fences are taken on log values


METRICS: tuple[Metric, ...] = (
    Metric("likes_per_exposure", "likes per view", "likes", "exposure", ("high",), "strong", 0.15),
    Metric("collects_per_exposure", "collects per view", "collects", "exposure", ("high",), "strong", 0.10),
    Metric("comments_per_exposure", "comments per view", "comments", "exposure", ("high",), "strong", 0.03),
    Metric("likes_per_follower", "likes per follower", "likes", "followers", ("high",), "weak", 2.0),
    Metric("collects_per_follower", "collects per follower", "collects", "followers", ("high",), "weak", 2.0),
    Metric("comments_per_follower", "comments per follower", "comments", "followers", ("high",), "weak", 0.5),
    Metric("collects_per_like", "collect-to-like ratio", "collects", "likes", ("low", "high"), "strong", 3.0, 0.1),
    Metric("comments_per_like", "comment-to-like ratio", "comments", "likes", ("high",), "strong", 0.35),
)
DUPLICATE_METRIC = Metric(
    "duplicate_comment_share",
    "share of duplicate comments",
    "",
    "",
    ("high",),
    "strong",
    0.5,
    min_high=0.5,
    log_scale=False,
)
ALL_METRICS: tuple[Metric, ...] = (*METRICS, DUPLICATE_METRIC)
#: Thresholds used when no reference distribution is given: {metric: (low, high)}.
FIXED_DEFAULTS: dict[str, tuple[float | None, float | None]] = {
    m.name: (m.default_low, m.default_high) for m in ALL_METRICS
}


def _number(note: Note, name: str) -> float | None:
    value = note.metadata.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def author_medians(notes: Sequence[Note], followers: float | None) -> dict[str, float | None]:
    """Each metric's median over the author's notes (notes missing a field or with a zero denominator are
    skipped), plus the duplicate-comment share over all their comments. None where nothing was measurable."""
    out: dict[str, float | None] = {}
    for metric in METRICS:
        ratios = []
        for note in notes:
            top = _number(note, metric.numerator)
            bottom = followers if metric.denominator == "followers" else _number(note, metric.denominator)
            if top is not None and bottom:
                ratios.append(top / bottom)
        out[metric.name] = statistics.median(ratios) if ratios else None
    out[DUPLICATE_METRIC.name] = duplicate_share(comment_texts(notes))
    return out


@dataclass(frozen=True)
class Quantiles:
    """Authors' medians of one metric: the quantiles thresholds are taken from."""

    n: int
    p01: float
    p25: float
    p50: float
    p75: float
    p99: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Quantiles:
        q = np.percentile(np.asarray(values, dtype=np.float64), [1, 25, 50, 75, 99])
        return cls(len(values), *(float(x) for x in q))


@dataclass(frozen=True)
class ReferenceDistribution:
    """Every author's median of each metric in a dataset, summarised; thresholds are taken from it.

    `method`: "iqr" (Q3 + k x IQR above, Q1 - k x IQR below; k = `iqr_k`) or "percentile" (p99 / p1).
    """

    source: str  # what it was computed from, in words ("bundled data")
    n_authors: int
    quantiles: dict[str, Quantiles]
    method: Literal["iqr", "percentile"] = "iqr"
    iqr_k: float = 3.0

    @classmethod
    def from_notes(
        cls,
        notes: Iterable[Note],
        followers: Mapping[str, float | None] | None = None,
        source: str = "the given notes",
        method: Literal["iqr", "percentile"] = "iqr",
        iqr_k: float = 3.0,
    ) -> ReferenceDistribution:
        """Group notes by `author_id`, take each author's medians, summarise each metric over authors.

        Raises `ConfigError` when fewer than `MIN_AUTHORS_FOR_REFERENCE` authors are measurable
        (use no reference, i.e. the fixed defaults, instead).
        """
        if method not in ("iqr", "percentile"):
            raise ConfigError(f"reference method: must be 'iqr' or 'percentile', got {method!r}")
        by_author: dict[str, list[Note]] = {}
        for note in notes:
            if note.author_id:
                by_author.setdefault(note.author_id, []).append(note)
        values: dict[str, list[float]] = {m.name: [] for m in ALL_METRICS}
        counted = 0
        for author, own in sorted(by_author.items()):
            if len(own) < MIN_NOTES_FOR_REFERENCE:
                continue
            counted += 1
            medians = author_medians(own, (followers or {}).get(author))
            for name, value in medians.items():
                if value is not None:
                    values[name].append(value)
        if counted < MIN_AUTHORS_FOR_REFERENCE:
            raise ConfigError(
                f"reference distribution: {counted} authors with at least {MIN_NOTES_FOR_REFERENCE} notes, "
                f"need {MIN_AUTHORS_FOR_REFERENCE}"
            )
        quantiles = {k: Quantiles.of(v) for k, v in values.items() if len(v) >= MIN_AUTHORS_FOR_REFERENCE}
        return cls(source, counted, quantiles, method, iqr_k)

    def thresholds(self, metric: Metric) -> tuple[float | None, float | None, str] | None:
        """(low, high, where they come from) for a metric, or None when the reference does not cover it."""
        q = self.quantiles.get(metric.name)
        if q is None:
            return None
        if self.method == "percentile":
            low, high = q.p01, q.p99
            names = {"low": "1st percentile", "high": "99th percentile"}
        elif metric.log_scale and q.p25 > 0:  # the IQR fence on log values, written back in ratios
            spread = (q.p75 / q.p25) ** self.iqr_k
            low, high = q.p25 / spread, q.p75 * spread
            names = {"low": f"Q1 / (Q3/Q1)^{self.iqr_k:g}", "high": f"Q3 x (Q3/Q1)^{self.iqr_k:g}"}
        else:
            iqr = q.p75 - q.p25
            low, high = max(0.0, q.p25 - self.iqr_k * iqr), q.p75 + self.iqr_k * iqr
            names = {"low": f"Q1 - {self.iqr_k:g} x IQR", "high": f"Q3 + {self.iqr_k:g} x IQR"}
        how = " and ".join(names[side] for side in ("low", "high") if side in metric.sides)
        how = f"{how} of {q.n} authors' medians in {self.source}"
        if metric.min_high is not None and high < metric.min_high:
            high, how = metric.min_high, f"{metric.min_high:g} (fixed floor; {how} is {high:.3g})"
        return low, high, how

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_authors": self.n_authors,
            "method": self.method,
            "iqr_k": self.iqr_k,
            "quantiles": {k: vars(v) for k, v in sorted(self.quantiles.items())},
        }


@dataclass(frozen=True)
class EngagementSignal:
    """One engagement signal: the author's value, the threshold(s), where they come from, and the outcome."""

    name: str
    label: str
    value: float | None
    low: float | None
    high: float | None
    threshold_source: str
    severity: Severity
    flagged: bool
    detail: str
    sides: tuple[Side, ...] = field(default=("high",))

    @property
    def status(self) -> SignalStatus:
        """`not_measured` when there was nothing to compute the value from: never shown as `ok`."""
        if self.value is None:
            return "not_measured"
        return "flagged" if self.flagged else "ok"

    def to_dict(self) -> dict[str, Any]:
        r = _round
        return {
            "name": self.name,
            "label": self.label,
            "status": self.status,
            "value": r(self.value),
            "threshold_low": r(self.low) if "low" in self.sides else None,
            "threshold_high": r(self.high) if "high" in self.sides else None,
            "threshold_source": self.threshold_source,
            "severity": self.severity,
            "flagged": self.flagged,
            "detail": self.detail,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def engagement_signals(
    notes: Sequence[Note], followers: float | None, reference: ReferenceDistribution | None
) -> list[EngagementSignal]:
    """Every engagement signal of one author's notes, in `ALL_METRICS` order."""
    medians = author_medians(notes, followers)
    out = []
    for metric in ALL_METRICS:
        found = reference.thresholds(metric) if reference is not None else None
        if found is None:
            low, high = FIXED_DEFAULTS[metric.name]
            how = "fixed default (no reference distribution)"
        else:
            low, high, how = found
        out.append(_judge(metric, medians[metric.name], low, high, how, followers))
    return out


def _judge(
    metric: Metric, value: float | None, low: float | None, high: float | None, how: str, followers: float | None
) -> EngagementSignal:
    if value is None:
        why = "followers unknown" if metric.denominator == "followers" and not followers else "no data"
        return EngagementSignal(
            metric.name,
            metric.label,
            None,
            low,
            high,
            how,
            metric.severity,
            False,
            f"not measured: {why}",
            metric.sides,
        )
    above = "high" in metric.sides and high is not None and value > high
    below = "low" in metric.sides and low is not None and value < low
    if above:
        detail = f"{metric.label} {value:.3g} is above {high:.3g}"
    elif below:
        detail = f"{metric.label} {value:.3g} is below {low:.3g}"
    else:
        detail = f"{metric.label} {value:.3g} is within range"
    return EngagementSignal(
        metric.name, metric.label, value, low, high, how, metric.severity, above or below, detail, metric.sides
    )
