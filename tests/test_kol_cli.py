"""`notecheck kol`: one account's readable report, the ranking of all accounts, profiles found beside the notes,
and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from kol_fakes import DATA, bundled, label_classifier, write_jsonl

from notecheck.cli import main
from notecheck.model.classifier import Classifier

AUTHORS = ["en109", "en111", "en114", "en101", "zh101", "zh209", "zh211", "zh314", "zh301", "en201"]
PROFILES = str(DATA / "profiles.jsonl")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of two files with ten bundled authors (directories expand like `data_files`)."""
    notes, _ = bundled()
    folder = tmp_path_factory.mktemp("kol-cli")
    chosen = [n for n in notes if n.note.author_id in AUTHORS]
    write_jsonl(folder / "a.jsonl", [n for n in chosen if n.note.lang == "en"])
    write_jsonl(folder / "b.jsonl", [n for n in chosen if n.note.lang == "zh"])
    return folder


@pytest.fixture
def bundled_layout(data_dir: Path, tmp_path: Path) -> Path:
    """The bundled data's layout, `data/notes/*.jsonl` beside `data/profiles.jsonl`; returns the notes folder."""
    notes = shutil.copytree(data_dir, tmp_path / "data" / "notes")
    shutil.copy(PROFILES, tmp_path / "data" / "profiles.jsonl")
    return notes


@pytest.fixture(autouse=True)
def labels_as_model(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = label_classifier(bundled()[0])
    monkeypatch.setattr(Classifier, "from_pretrained", classmethod(lambda cls, *a, **k: fake))


def test_author_report_reads_plainly(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kol", str(data_dir), "--author", "en111", "--profiles", PROFILES]) == 0
    out = capsys.readouterr().out
    assert out.startswith("KOL report: en111  (model labels-1, as of 2026-11-20 [newest posted_at in the data])")
    assert "grade F (high risk)" in out
    assert "undisclosed ads: 26 (76%, 95% interval 60%-88%)" in out
    assert "credit score: 0 of 12 (26 private orders)" in out
    assert "[FAIL] min_credit: credit 0 < 1" in out
    assert "engagement (thresholds from the notes given):" in out
    assert "undisclosed ads, most confident first" in out


def test_rules_file_changes_the_report(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("private_order_penalty: 0\nmin_followers: 200000\n", encoding="utf-8")
    args = ["kol", str(data_dir), "--author", "en111", "--profiles", PROFILES, "--json"]
    assert main([*args, "--rules", str(rules)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["credit"]["score"] == 12 and report["rules"]["min_followers"] == 200000
    assert [r["rule"] for r in report["eligibility"]["rules"] if not r["passed"]] == ["min_followers"]


def test_all_writes_the_ranking_and_the_chart(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rank.csv"
    args = ["--all", "--ranking", str(out), "--profiles", PROFILES, "--as-of", "2026-11-20"]
    assert main(["kol", str(data_dir), *args]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out)
    assert sorted(table["author_id"]) == sorted(AUTHORS)
    assert (tmp_path / "rank.png").read_bytes()[:4] == b"\x89PNG"
    first = table.iloc[0]
    assert first["grade"] == "F" and first["account_type"] in ("private_order_kol", "bought_engagement")
    assert set(table.tail(2)["account_type"]) == {"honest_kol"}
    assert "grades: A 2, B 0, C 0, D 4, F 4" in printed
    assert f"ranking: {out}" in printed and printed.index("en109") > printed.index("zh314")


def test_all_writes_parquet_and_a_named_chart(
    bundled_layout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, chart = tmp_path / "rank.parquet", tmp_path / "charts" / "kol.png"
    args = ["--all", "--ranking", str(out), "--chart", str(chart), "--no-reference"]
    assert main(["kol", str(bundled_layout), *args]) == 0
    assert "warning" not in capsys.readouterr().err  # profiles.jsonl was found in the folder above the notes
    table = pd.read_parquet(out).set_index("author_id")
    assert len(table) == len(AUTHORS) and chart.is_file()
    assert table["followers"].notna().all() and table.loc["en109", "followers"] == 74000
    assert table.loc["zh314", "strong_engagement_flags"] >= 2  # the fixed defaults still catch bought engagement


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --author ID for one account's report or --all"),
        (["--all", "--author", "en111"], "not both"),
        (["--all"], "--all: needs --ranking FILE"),
        (["--author", "nobody"], "--author: no notes by 'nobody' in the files"),
        (["--author", "en111", "--as-of", "20/11/2026"], "--as-of: '20/11/2026' is not a date"),
        (["--author", "en111", "--as-of", "0001-01-09"], "--as-of: must be between 2000-01-01 and 2099-12-31"),
        (["--author", "en111", "--rules", "missing.yaml"], "--rules missing.yaml: file not found"),
        (["--author", "en111", "--chart", "x.png"], "--ranking and --chart only go with --all"),
        (["--all", "--ranking", "rank.xlsx"], "unknown table format '.xlsx'"),
        (["--author", "en111", "--profiles", "nope.jsonl"], "nope.jsonl: profiles file not found"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    data_dir: Path, tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["kol", str(data_dir), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("notecheck kol: error: ") and message in err[-1]


def test_bad_rules_yaml_names_the_rule(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("min_followers: -5\n", encoding="utf-8")
    assert main(["kol", str(data_dir), "--author", "en111", "--rules", str(rules)]) == 2
    assert f"{rules}.min_followers: must not be negative" in capsys.readouterr().err


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's only stderr line (an error, no traceback)."""
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in captured.out + captured.err, err
    assert err[0].startswith("notecheck kol: error: ")
    return err[0]


def test_a_window_past_the_calendar_is_one_line_not_a_traceback(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("window_days: 1000000\n", encoding="utf-8")
    assert main(["kol", str(data_dir), "--author", "en111", "--rules", str(rules)]) == 2
    assert f"{rules}.window_days: must be between 1 and 3650 days, got 1000000" in one_error_line(capsys)


def test_a_note_dated_near_year_one_names_its_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "old.jsonl"
    rows = [{"id": "x1", "author_id": "en111", "text": "hello", "posted_at": d} for d in ("2026-11-05", "0001-01-05")]
    notes.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert main(["kol", str(notes), "--author", "en111"]) == 2
    assert f"{notes}:2: field 'posted_at' must be between 2000-01-01" in one_error_line(capsys)


def test_a_ranking_that_cannot_be_written_fails_before_scoring(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken.csv").mkdir()
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    for ranking, message in (
        (tmp_path / "taken.csv", "is a directory"),
        (tmp_path / "file.txt" / "rank.csv", "is a file"),
    ):
        assert main(["kol", str(data_dir), "--all", "--ranking", str(ranking)]) == 2
        assert f"{ranking}: " in (line := one_error_line(capsys)) and message in line
    chart = tmp_path / "file.txt" / "rank.png"
    assert main(["kol", str(data_dir), "--all", "--ranking", str(tmp_path / "r.csv"), "--chart", str(chart)]) == 2
    assert f"{chart}: cannot create its folder" in one_error_line(capsys)
    assert not (tmp_path / "r.csv").exists()


def test_profiles_beside_the_notes_are_found(bundled_layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(PROFILES, bundled_layout / "profiles.jsonl")  # the notes' own folder is looked at first
    assert main(["kol", str(bundled_layout / "a.jsonl"), "--author", "en111", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["profile"]["followers"] is not None
    assert all(r["status"] != "not_measured" for r in report["eligibility"]["rules"])


def test_unknown_followers_warn_once_and_read_not_measured(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kol", str(data_dir), "--author", "en111"]) == 0  # no profiles.jsonl beside these notes
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "followers unknown" in warnings[0] and "--profiles" in warnings[0]
    out = captured.out
    assert "followers: unknown" in out and "[not measured] min_followers: followers unknown" in out
    per_follower = [line for line in out.splitlines() if " per follower" in line]
    assert len(per_follower) == 3 and all(line.startswith("  [not measured] ") for line in per_follower)

    assert main(["kol", str(data_dir), "--author", "en111", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    status = {s["name"]: s["status"] for s in report["engagement"]["signals"]}
    assert status["likes_per_follower"] == "not_measured" and status["likes_per_exposure"] in ("ok", "flagged")
    assert report["eligibility"]["rules"][0]["status"] == "not_measured"
