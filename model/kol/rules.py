"""Platform rules for brand-partner accounts: eligibility, the credit score, and the statistics they use.

Pure functions of what is passed in. `PlatformRules` is the one place the numbers live; a deployment or a
`--rules rules.yaml` file overrides them by name (`PlatformRules.from_dict`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from notecheck.model.errors import ConfigError
from notecheck.model.kol.dates import MAX_WINDOW_DAYS, check_date, date_problem, read_date, window_problem
from notecheck.model.schema import Note

log = logging.getLogger(__name__)


_SHARES = ("private_order_min_p", "high_risk_undisclosed")  # rules that are probabilities or shares
#: A rule's outcome in reports. An unknown value fails its rule (eligibility needs it known) but is reported
#: as `not_measured`, so "no profile" never reads like a measured shortfall.
RuleStatus = Literal["pass", "fail", "not_measured"]


@dataclass(frozen=True)
class PlatformRules:
    """What a platform asks of brand-partner accounts, and how reports grade them."""

    min_followers: int = 5000  # followers needed to take brand deals
    min_avg_exposure: float = 10000  # average views per note over the last `window_days`
    window_days: int = 30  # the exposure window, ending at the reference date (inclusive)
    credit_start: int = 12  # every account's credit score before deductions
    private_order_penalty: int = 12  # points each undisclosed ad (a private order) costs; the floor is 0
    private_order_min_p: float = 0.0  # an undisclosed ad costs credit only at P(commercial) >= this (0: all)
    min_credit: int = 1  # credit needed to stay eligible (0 means the account has lost it all)
    high_risk_undisclosed: float = 0.25  # undisclosed-ad share whose 95% lower bound at or above it is high risk
    high_risk_engagement_flags: int = 2  # strong engagement flags that together mean bought engagement
    min_notes_for_grade: int = 5  # fewer scored notes give at best grade B ("too few notes to be sure")
    z: float = 1.96  # normal quantile of the Wilson interval (1.96: 95%)

    @classmethod
    def from_dict(cls, overrides: Mapping[str, Any] | None, where: str = "rules") -> PlatformRules:
        """Defaults with `overrides` applied; `ConfigError` naming the key for unknown keys or bad values.

        >>> PlatformRules.from_dict({"min_followers": 10000}).min_followers
        10000
        """
        if overrides is None:
            return cls()
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"{where}: must be a mapping of rule names to numbers")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in overrides.items():
            spec = known.get(key)
            if spec is None:
                raise ConfigError(f"{where}.{key}: unknown rule (known: {', '.join(known)})")
            integral = spec.type in ("int", int)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"{where}.{key}: must be a number, got {value!r}")
            if integral and not float(value).is_integer():
                raise ConfigError(f"{where}.{key}: must be a whole number, got {value!r}")
            if value < 0:
                raise ConfigError(f"{where}.{key}: must not be negative, got {value!r}")
            values[key] = int(value) if integral else float(value)
        for key in _SHARES:
            if values.get(key, 0.0) > 1:
                raise ConfigError(f"{where}.{key}: must be between 0 and 1, got {values[key]!r}")
        problem = window_problem(values.get("window_days", cls.window_days))
        if problem is not None:
            raise ConfigError(f"{where}.window_days: {problem}")
        return cls(**values)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The overrides `from_dict` accepts, as JSON Schema (the HTTP API's `rules`): known rules only, each a
        number not below 0 (whole for counts), shares at most 1, windows of 1 to `MAX_WINDOW_DAYS` days."""
        properties: dict[str, dict[str, Any]] = {}
        for f in fields(cls):
            properties[f.name] = {"type": "integer" if f.type in ("int", int) else "number", "minimum": 0}
            if f.name in _SHARES:
                properties[f.name]["maximum"] = 1
        properties["window_days"].update(minimum=1, maximum=MAX_WINDOW_DAYS)
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n; (0, 1) when n is 0 (nothing is known).

    Better than the normal approximation for small n and shares near 0 or 1: it never leaves [0, 1]
    and is not zero-width at k = 0.

    >>> tuple(round(x, 4) for x in wilson_interval(5, 10))
    (0.2366, 0.7634)
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"k must be within 0..n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def note_date(note: Note) -> dt.date | None:
    """A note's `posted_at` as a date (a date, a datetime or an ISO string), None when absent or unreadable;
    `ConfigError` naming the note when it is outside the accepted range (`model.kol.dates`)."""
    value = note.metadata.get("posted_at")
    day = read_date(value)
    if day is None:
        if value is not None:
            log.warning("note %s: posted_at %r is not a YYYY-MM-DD date; treated as undated", note.id, value)
        return None
    problem = date_problem(day)
    if problem is not None:
        raise ConfigError(f"note {note.id}: posted_at {problem}")
    return day


def reference_date(notes: Sequence[Note], as_of: dt.date | None = None) -> tuple[dt.date | None, str]:
    """The date windows end on: `as_of` when given, else the newest `posted_at` among `notes`."""
    if as_of is not None:
        return check_date(as_of, "as_of"), "given"
    dates = [d for d in (note_date(n) for n in notes) if d is not None]
    return (max(dates), "newest posted_at in the data") if dates else (None, "no dated notes")


@dataclass(frozen=True)
class RuleCheck:
    """One eligibility rule: the account's value, what the rule requires, and whether it passes."""

    name: str
    value: float | None
    required: float
    passed: bool
    detail: str

    @property
    def status(self) -> RuleStatus:
        if self.value is None:
            return "not_measured"
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        value = None if self.value is None else round(self.value, 6)
        return {
            "rule": self.name,
            "status": self.status,
            "value": value,
            "required": self.required,
            "passed": self.passed,
            "detail": self.detail,
        }


def window_exposure(notes: Sequence[Note], as_of: dt.date | None, days: int) -> tuple[float | None, int]:
    """Average exposure of the notes posted in the `days` days ending at `as_of` (inclusive), and their count."""
    if as_of is None:
        return None, 0
    problem = window_problem(days)
    if problem is not None:
        raise ConfigError(f"window_days: {problem}")
    start = check_date(as_of, "as_of") - dt.timedelta(days=days - 1)
    values = []
    for note in notes:
        posted = note_date(note)
        exposure = note.metadata.get("exposure")
        in_window = posted is not None and start <= posted <= as_of
        if in_window and isinstance(exposure, int | float) and not isinstance(exposure, bool):
            values.append(float(exposure))
    return (sum(values) / len(values) if values else None), len(values)


def eligibility_checks(
    notes: Sequence[Note], followers: int | None, credit: int, as_of: dt.date | None, rules: PlatformRules
) -> list[RuleCheck]:
    """Followers, recent average exposure and credit against `rules`; an unknown value fails its rule."""
    checks = []
    if followers is None:
        checks.append(RuleCheck("min_followers", None, rules.min_followers, False, "followers unknown (no profile)"))
    else:
        ok = followers >= rules.min_followers
        checks.append(
            RuleCheck(
                "min_followers",
                followers,
                rules.min_followers,
                ok,
                f"{followers:,} followers {'>=' if ok else '<'} {rules.min_followers:,}",
            )
        )
    average, counted = window_exposure(notes, as_of, rules.window_days)
    if average is None:
        why = (
            "no reference date"
            if as_of is None
            else f"no notes with exposure in the {rules.window_days} days to {as_of}"
        )
        checks.append(RuleCheck("min_avg_exposure", None, rules.min_avg_exposure, False, why))
    else:
        ok = average >= rules.min_avg_exposure
        checks.append(
            RuleCheck(
                "min_avg_exposure",
                average,
                rules.min_avg_exposure,
                ok,
                f"average exposure {average:,.0f} over {counted} notes in the {rules.window_days} days to {as_of} "
                f"{'>=' if ok else '<'} {rules.min_avg_exposure:,.0f}",
            )
        )
    ok = credit >= rules.min_credit
    checks.append(
        RuleCheck(
            "min_credit", credit, rules.min_credit, ok, f"credit {credit} {'>=' if ok else '<'} {rules.min_credit}"
        )
    )
    return checks


@dataclass(frozen=True)
class Credit:
    """The credit score: `start` minus `penalty` per private order, never below 0, with each deduction."""

    start: int
    penalty: int
    score: int
    deductions: tuple[tuple[str, int], ...]  # (note id, points actually deducted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "penalty_per_private_order": self.penalty,
            "score": self.score,
            "private_orders": len(self.deductions),
            "deductions": [{"note_id": i, "points": p} for i, p in self.deductions],
        }


def credit_score(private_orders: Sequence[str], rules: PlatformRules) -> Credit:
    """Each undisclosed ad is a private order costing `private_order_penalty`; the score stops at 0.

    >>> credit_score(["n1"], PlatformRules(private_order_penalty=6)).score
    6
    """
    score, deductions = rules.credit_start, []
    for note_id in private_orders:
        points = min(score, rules.private_order_penalty)
        score -= points
        deductions.append((note_id, points))
    return Credit(rules.credit_start, rules.private_order_penalty, score, tuple(deductions))
