"""The dates and windows KOL reports accept: one range, refused by name in rules, reports and note files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from kol_fakes import LabelClassifier

from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.kol.check import PlatformRules, build_report
from notecheck.model.kol.dates import FIRST_DATE, LAST_DATE, MAX_WINDOW_DAYS, check_date, date_problem, read_date
from notecheck.model.kol.rules import reference_date, window_exposure
from notecheck.model.loader import load_notes
from notecheck.model.schema import Note


def dated(i: int, day: str) -> Note:
    return Note(text="went for a walk today", id=f"k{i}", author_id="kol", metadata={"posted_at": day, "exposure": 5})


@pytest.mark.parametrize("days", [1, 30, MAX_WINDOW_DAYS])
def test_windows_up_to_ten_years_are_accepted(days: int) -> None:
    assert PlatformRules.from_dict({"window_days": days}).window_days == days


@pytest.mark.parametrize("days", [0, MAX_WINDOW_DAYS + 1, 1_000_000])
def test_longer_or_empty_windows_are_refused_by_name(days: int) -> None:
    with pytest.raises(ConfigError, match=rf"rules\.window_days: must be between 1 and {MAX_WINDOW_DAYS} days"):
        PlatformRules.from_dict({"window_days": days})


def test_the_range_ends_are_inclusive() -> None:
    assert date_problem(FIRST_DATE) is None and date_problem(LAST_DATE) is None
    assert date_problem(FIRST_DATE - dt.timedelta(days=1)) is not None
    assert date_problem(LAST_DATE + dt.timedelta(days=1)) is not None
    with pytest.raises(ConfigError, match="--as-of: must be between 2000-01-01 and 2099-12-31, got 9999-12-31"):
        check_date(dt.date(9999, 12, 31), "--as-of")
    assert read_date("2026-11-20T08:00:00") == dt.date(2026, 11, 20) and read_date("soon") is None


def test_a_report_near_year_one_is_refused_not_overflowed() -> None:
    notes = [dated(0, "0001-01-05"), dated(1, "0001-01-03")]
    with pytest.raises(ConfigError, match="note k0: posted_at must be between"):
        build_report("kol", notes, classifier=LabelClassifier({}))
    fine = [dated(0, "2026-11-05")]
    with pytest.raises(ConfigError, match="as_of: must be between"):
        build_report("kol", fine, classifier=LabelClassifier({}), as_of=dt.date(1, 1, 9))
    with pytest.raises(ConfigError, match="as_of"):
        reference_date(fine, dt.date(1, 1, 9))


def test_rules_built_directly_cannot_overflow_the_window() -> None:
    notes = [dated(0, "2026-11-05")]
    with pytest.raises(ConfigError, match="window_days"):
        window_exposure(notes, dt.date(2026, 11, 5), 1_000_000)
    with pytest.raises(ConfigError, match="window_days"):
        build_report("kol", notes, classifier=LabelClassifier({}), rules=PlatformRules(window_days=1_000_000))


def test_a_note_file_with_a_date_out_of_range_names_the_line_and_field(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "hi", "posted_at": "2026-11-05"}, {"id": "b", "text": "hi", "posted_at": "0001-01-05"}]
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_notes(path, require_label=False)
    assert (info.value.line, info.value.field) == (2, "posted_at") and "0001-01-05" in info.value.reason
    loaded, summary = load_notes(path, require_label=False, skip_invalid=True)
    assert [n.note.id for n in loaded] == ["a"] and len(summary.skipped) == 1
