"""The dates and windows a KOL report accepts, declared once for the API, the CLI and file loading.

Reports count notes in windows ending at a reference date. Dates far from today are typing slips
(`0001-01-05`, `9999-12-31`), and near the ends of the calendar, window arithmetic overflows: so every date
(`posted_at`, `as_of`) must fall within `FIRST_DATE .. LAST_DATE`, and `window_days` within
`1 .. MAX_WINDOW_DAYS`. The range starts well before the platforms these notes come from existed and ends
long after any note can be posted; with the window bounded, no window can leave the calendar.

>>> date_problem(dt.date(1, 1, 5))
'must be between 2000-01-01 and 2099-12-31, got 0001-01-05'
"""

from __future__ import annotations

import datetime as dt

from notecheck.model.errors import ConfigError

FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2099, 12, 31)
MAX_WINDOW_DAYS = 3650  # ten years: longer windows measure nothing "recent"


def date_problem(day: dt.date) -> str | None:
    """Why `day` is refused (outside `FIRST_DATE .. LAST_DATE`), or None when it is accepted."""
    if FIRST_DATE <= day <= LAST_DATE:
        return None
    return f"must be between {FIRST_DATE} and {LAST_DATE}, got {day.isoformat()}"


def check_date(day: dt.date, where: str) -> dt.date:
    """`day` itself, or `ConfigError` naming `where` when it is out of range."""
    problem = date_problem(day)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    return day


def window_problem(days: int) -> str | None:
    """Why `days` is refused as a window length, or None when it is accepted."""
    if 1 <= days <= MAX_WINDOW_DAYS:
        return None
    return f"must be between 1 and {MAX_WINDOW_DAYS} days, got {days}"


def read_date(value: object) -> dt.date | None:
    """A date from a date, a datetime or an ISO string (`YYYY-MM-DD`, time part ignored); None when absent
    or unreadable. The range is not checked here (see `date_problem`)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None
