"""Which note a moderator sees next: the ones that teach the model most and protect the most readers first,
with a small random share kept for an unbiased audit.

    uncertainty = 1 - |P - boundary| / max(boundary, 1 - boundary)        # 1 on the boundary, 0 at its far end
    reach       = min(1, log(1 + exposure) / log(1 + full_reach_exposure)) # `unknown_reach` when exposure is unknown
    priority    = uncertainty_weight * uncertainty + reach_weight * reach

Uncertainty is active learning's uncertainty sampling: a decision near the boundary is the one the model
learns most from. Reach puts a note seen by 100,000 people before one seen by 50. `audit_share` of the claims
ignore the order and take a uniformly random open note (`picked_by = "audit"`), so the decisions also give an
unbiased estimate of how the model does on everything it queues, not only on its hardest cases.
Every number is a `NOTECHECK_REVIEW_<FIELD>` environment variable, read by the server's settings and by
`notecheck score --queue` alike (`from_env`), so notes queued either way are ranked on one scale. A note's
priority is computed when it is queued.

>>> round(ReviewPriority().score(0.5, 100_000, boundary=0.5), 3)
1.0
>>> round(ReviewPriority().score(0.99, None, boundary=0.5), 3)
0.212
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from notecheck.model.errors import ConfigError


@dataclass(frozen=True)
class ReviewPriority:
    uncertainty_weight: float = 0.6  # how much closeness to the verdict boundary counts
    reach_weight: float = 0.4  # how much the note's exposure counts
    full_reach_exposure: int = 100_000  # exposure at which reach counts fully (log scale below it)
    unknown_reach: float = 0.5  # reach of a note whose exposure is not known
    audit_share: float = 0.05  # share of claims that take a uniformly random open note instead

    def __post_init__(self) -> None:
        for name in ("uncertainty_weight", "reach_weight", "unknown_reach", "audit_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"review priority {name}: must be between 0 and 1, got {value}")
        if self.uncertainty_weight + self.reach_weight <= 0:
            raise ConfigError("review priority: uncertainty_weight and reach_weight cannot both be 0")
        if self.full_reach_exposure < 1:
            raise ConfigError(
                f"review priority full_reach_exposure: must be at least 1, got {self.full_reach_exposure}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReviewPriority:
        """The weights set by `NOTECHECK_REVIEW_UNCERTAINTY_WEIGHT`, `..._REACH_WEIGHT`, `..._FULL_REACH_EXPOSURE`,
        `..._UNKNOWN_REACH` and `..._AUDIT_SHARE`; the defaults for those unset."""
        env = os.environ if environ is None else environ
        values: dict[str, float | int] = {}
        for f in fields(cls):
            raw = env.get(f"NOTECHECK_REVIEW_{f.name.upper()}")
            if raw is None or not raw.strip():
                continue
            try:
                values[f.name] = int(raw) if f.name == "full_reach_exposure" else float(raw)
            except ValueError as exc:
                raise ConfigError(f"NOTECHECK_REVIEW_{f.name.upper()}: not a number: {raw!r}") from exc
        return cls(**values)  # type: ignore[arg-type]

    def uncertainty(self, p: float, boundary: float) -> float:
        widest = max(boundary, 1 - boundary) or 1.0
        return max(0.0, 1 - abs(p - boundary) / widest)

    def reach(self, exposure: int | None) -> float:
        if exposure is None or exposure < 0:
            return self.unknown_reach
        return min(1.0, math.log1p(exposure) / math.log1p(self.full_reach_exposure))

    def score(self, p: float, exposure: int | None, boundary: float) -> float:
        """The note's priority, between 0 and 1 when the weights sum to 1 (they need not)."""
        return self.uncertainty_weight * self.uncertainty(p, boundary) + self.reach_weight * self.reach(exposure)
