"""Ranking every account and charting them: order, table formats, the PNG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kol_fakes import KINDS, bundled, label_classifier

from notecheck.model.errors import ConfigError
from notecheck.model.kol.check import KolReport, build_reports
from notecheck.model.kol.data import reference_from_notes
from notecheck.serving.batch.kol import draw_chart, rank_authors, write_table


@pytest.fixture(scope="module")
def reports() -> list[KolReport]:
    notes, profiles = bundled()
    plain = [n.note for n in notes]
    reference = reference_from_notes(plain, profiles, "bundled data")
    clf = label_classifier(notes)
    return build_reports(plain, clf.predict(plain), profiles, reference=reference, model_version=clf.version)


@pytest.fixture(scope="module")
def table(reports: list[KolReport]) -> pd.DataFrame:
    return rank_authors(reports)


def test_ranking_puts_high_risk_accounts_first_and_honest_kols_last(table: pd.DataFrame) -> None:
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert table["author_id"].is_unique
    ranks = {kind: table.loc[table["account_type"] == kind, "rank"] for kind in KINDS}
    risky = pd.concat([ranks["private_order_kol"], ranks["bought_engagement"]])
    assert risky.max() < ranks["ordinary"].min()
    assert ranks["ordinary"].max() < ranks["honest_kol"].min()
    assert set(table.loc[risky.index, "grade"]) == {"F"} and table.loc[risky.index, "flagged"].all()
    assert set(table.loc[ranks["honest_kol"].index, "grade"]) == {"A"}
    bought = table[table["account_type"] == "bought_engagement"]
    assert (bought["strong_engagement_flags"] >= 2).all()
    assert bought["engagement_flags"].str.contains("duplicate_comment_share").all()


def test_ranking_does_not_depend_on_input_order(reports: list[KolReport], table: pd.DataFrame) -> None:
    again = rank_authors(list(reversed(reports)))
    pd.testing.assert_frame_equal(again, table)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_table_is_written_in_the_format_its_suffix_names(table: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = write_table(table, tmp_path / "sub" / f"ranking{suffix}")
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(back.columns) == list(table.columns)
    assert list(back["author_id"]) == list(table["author_id"])
    assert back["undisclosed_ci_low"].tolist() == pytest.approx(table["undisclosed_ci_low"].tolist())
    with pytest.raises(ConfigError, match=r"unknown table format '\.xlsx'"):
        write_table(table, tmp_path / "ranking.xlsx")


def test_the_chart_is_a_png(table: pd.DataFrame, tmp_path: Path) -> None:
    path = draw_chart(table, tmp_path / "chart.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a 1650 x 1050 figure with ~90 points and labels, not an empty canvas


def test_an_empty_ranking_still_has_its_columns(tmp_path: Path) -> None:
    table = rank_authors([])
    assert table.empty and {"rank", "author_id", "grade", "undisclosed_share"} <= set(table.columns)
    assert draw_chart(table, tmp_path / "empty.png").is_file()
