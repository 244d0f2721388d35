"""`from notecheck import Notecheck`: load, predict, explain and kol return lists of typed results."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import notecheck
from notecheck import Notecheck, Results
from notecheck.model.classifier import Prediction
from notecheck.model.errors import ConfigError, DatasetError
from notecheck.model.schema import Note


@pytest.fixture(scope="module")
def nc(tiny_model_dir: Path) -> Notecheck:
    return Notecheck.load(tiny_model_dir)


def test_predict_takes_strings_notes_and_dicts_and_keeps_order(nc: Notecheck) -> None:
    items = ["新买的面霜用了一周", Note(text="DM me for the link", id="n2"), {"id": "n3", "text": "广告 品牌合作 面霜"}]
    out = nc.predict(items)
    assert isinstance(out, Results) and len(out) == 3 and all(isinstance(p, Prediction) for p in out)
    assert [p.id for p in out][1:] == ["n2", "n3"]
    assert out[2].verdict == "disclosed_ad"  # a clear disclosure decides, whatever P says
    # the same core as the classifier: identical numbers
    direct = nc.classifier.predict([Note(text="新买的面霜用了一周")])[0]
    assert out[0].p_commercial == direct.p_commercial and out[0].verdict == direct.verdict


def test_one_item_gives_a_list_of_one(nc: Notecheck) -> None:
    out = nc.predict("Use my code ANNA15 for 15% off")
    assert isinstance(out, list) and len(out) == 1


def test_results_convert_to_dicts_and_pandas(nc: Notecheck) -> None:
    out = nc.predict(["a note", "another note"])
    rows = out.to_dicts()
    assert rows == [p.to_dict() for p in out] and {"verdict", "p_commercial", "action"} <= set(rows[0])
    frame = out.to_pandas()
    assert list(frame["verdict"]) == [p.verdict for p in out] and len(frame) == 2
    assert nc.version == nc.classifier.metadata.version


def test_a_bad_dict_names_the_item_and_field(nc: Notecheck) -> None:
    with pytest.raises(DatasetError, match=r"notes.*2.*text.*empty text"):
        nc.predict(["ok", "fine", {"text": "   "}])
    with pytest.raises(DatasetError, match="must be a string, a Note or a dict"):
        nc.predict([3.5])  # type: ignore[list-item]


def test_explain_gives_one_explanation_per_note(nc: Notecheck) -> None:
    out = nc.explain(["私信我领取优惠码", "今天天气很好"], method="occlusion", top_k=3)
    assert len(out) == 2 and all(len(e.top(3)) <= 3 for e in out)
    assert out.to_dicts()[0]["verdict"] == out[0].prediction.verdict


def test_kol_reports_one_per_author(nc: Notecheck) -> None:
    notes = [
        {"id": f"a{i}", "author_id": "alice", "text": f"日常分享 {i}", "posted_at": "2026-11-0" + str(i + 1)}
        for i in range(3)
    ] + [{"id": "b1", "author_id": "bob", "text": "DM me for the link", "posted_at": "2026-11-02"}]
    reports = nc.kol(notes, profiles={"alice": {"followers": 6000}}, as_of=dt.date(2026, 11, 20))
    assert [r.author_id for r in reports] == ["alice", "bob"]
    assert reports[0].profile is not None and reports[0].profile.followers == 6000
    assert reports.to_dicts()[1]["author_id"] == "bob"


def test_load_without_a_path_uses_the_env_or_says_how_to_get_a_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOTECHECK_MODEL_DIR", raising=False)
    monkeypatch.setattr("notecheck.model.paths.REPO_ROOT", tmp_path / "clone")  # a clone without a trained model
    with pytest.raises(ConfigError, match="notecheck demo"):
        Notecheck.load()
    # from another directory, the clone's runs/default is found
    (tmp_path / "clone" / "runs").mkdir(parents=True)
    (tmp_path / "clone" / "runs" / "default").symlink_to(tiny_model_dir)
    assert Notecheck.load().version == Notecheck.load(tiny_model_dir).version
    monkeypatch.setenv("NOTECHECK_MODEL_DIR", str(tiny_model_dir))
    assert Notecheck.load().version == Notecheck.load(tiny_model_dir).version


def test_the_package_exposes_only_the_api_lazily() -> None:
    assert notecheck.Notecheck is Notecheck
    with pytest.raises(AttributeError):
        _ = notecheck.Classifier  # type: ignore[attr-defined]
