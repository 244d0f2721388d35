"""The retrain gate (pure, on dicts) and gated retraining end to end with the fast TF-IDF backend."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from notecheck.model.errors import ConfigError
from notecheck.model.loader import load_notes
from notecheck.model.metadata import ModelMetadata
from notecheck.training.config import TrainConfig
from notecheck.training.registry import Registry
from notecheck.training.retrain import DECISION_FILE, base_config, gate, retrain


def summary(macro_f1: float, **by_lang: float) -> dict[str, Any]:
    """An `evaluate(...)["summary"]`-shaped dict with only what the gate reads."""
    return {"macro_f1": macro_f1, "n": 100, "by_lang": {k: {"macro_f1": v, "n": 50} for k, v in by_lang.items()}}


# ---------------------------------------------------------------- the gate, on dicts


@pytest.mark.parametrize(
    ("current", "candidate"),
    [
        (summary(0.90, en=0.90, zh=0.90), summary(0.90, en=0.90, zh=0.90)),  # equal
        (summary(0.90, en=0.90, zh=0.90), summary(0.93, en=0.95, zh=0.91)),  # better
        (summary(0.90, en=0.90, zh=0.90), summary(0.89, en=0.88, zh=0.87)),  # exactly at both tolerances
    ],
)
def test_gate_promotes_better_or_equal(current: dict[str, Any], candidate: dict[str, Any]) -> None:
    decision = gate(current, candidate, tolerance=0.01, slice_tolerance=0.03)
    assert decision.promote, decision.reasons
    assert (
        decision.current["macro_f1"] == current["macro_f1"] and decision.candidate["macro_f1"] == candidate["macro_f1"]
    )
    assert decision.deltas["macro_f1"] == pytest.approx(candidate["macro_f1"] - current["macro_f1"])
    assert set(decision.deltas["by_lang"]) == {"en", "zh"}
    assert all(r.endswith(".") for r in decision.reasons)


def test_gate_refuses_a_macro_f1_drop() -> None:
    decision = gate(summary(0.90, en=0.90, zh=0.90), summary(0.885, en=0.90, zh=0.90), tolerance=0.01)
    assert not decision.promote
    assert "macro-F1 0.9000 -> 0.8850 (-0.0150)" in decision.headline and "tolerance of 0.0100" in decision.headline
    assert decision.deltas["macro_f1"] == pytest.approx(-0.015)


def test_gate_refuses_a_single_language_drop_even_when_overall_improves() -> None:
    decision = gate(summary(0.90, en=0.90, zh=0.90), summary(0.92, en=0.98, zh=0.86), slice_tolerance=0.03)
    assert not decision.promote
    assert decision.headline.startswith("zh macro-F1 0.9000 -> 0.8600 (-0.0400)")
    assert decision.deltas["by_lang"]["zh"] == pytest.approx(-0.04)
    assert any(
        "does not fall by more than the tolerance" in r for r in decision.reasons
    )  # the overall check passed and says so


def test_gate_refuses_when_a_slice_disappears() -> None:
    decision = gate(summary(0.90, en=0.90, zh=0.90), summary(0.95, en=0.95))
    assert not decision.promote and "zh slice" in decision.headline


def test_gate_tolerances_are_validated_and_decision_serialises() -> None:
    with pytest.raises(ConfigError, match="tolerance"):
        gate(summary(0.9), summary(0.9), tolerance=-0.01)
    with pytest.raises(ConfigError, match="slice_tolerance"):
        gate(summary(0.9), summary(0.9), slice_tolerance=1.5)
    decision = gate(summary(0.9, en=0.9), summary(0.8, en=0.7))
    assert json.loads(json.dumps(decision.to_dict()))["promote"] is False


# ---------------------------------------------------------------- synthetic data

EN_GENUINE = "Went to the {place} with my {who} on {day}. The {thing} was {adj}, we stayed until {hour}."
EN_AD = "Obsessed with this {product}! Use my code {code} for {pct}% off, link in bio, only {price} today!"
ZH_GENUINE = "周{zday}和{zwho}去了{zplace}，{zthing}{zadj}，玩到{hour}点才回家。"
ZH_AD = "姐妹们这款{zproduct}真的绝了！私信我拿优惠码{code}，链接在主页，今天下单立减{pct}元，手慢无！"
WORDS = {
    "place": ["park", "beach", "museum", "market", "lake", "library"],
    "who": ["sister", "kids", "dad", "neighbour", "friend", "dog"],
    "day": ["Sunday", "Monday", "Friday", "Saturday"],
    "thing": ["weather", "queue", "coffee", "view", "walk"],
    "adj": ["lovely", "awful", "fine", "too cold", "worth it"],
    "product": ["serum", "blender", "hair oil", "face mask", "kettle"],
    "zday": ["一", "三", "五", "六", "日"],
    "zwho": ["妈妈", "闺蜜", "孩子", "同事", "老公"],
    "zplace": ["公园", "海边", "博物馆", "菜市场", "湖边"],
    "zthing": ["天气", "咖啡", "风景", "排队"],
    "zadj": ["很好", "一般", "太冷了", "挺值得"],
    "zproduct": ["面霜", "精华", "吹风机", "面膜", "口红"],
}


def notes_for(author: str, lang: str, n_each: int, rng: random.Random, flip: bool = False) -> list[dict[str, Any]]:
    """`n_each` genuine and `n_each` commercial notes by one author; `flip` swaps the labels (bad data)."""
    rows = []
    for i in range(2 * n_each):
        commercial = i % 2 == 1
        template = {("en", False): EN_GENUINE, ("en", True): EN_AD, ("zh", False): ZH_GENUINE, ("zh", True): ZH_AD}
        fill = {k: rng.choice(v) for k, v in WORDS.items()}
        fill.update(code=f"{rng.choice('ABCDEFG')}{rng.randint(10, 99)}", pct=rng.randint(5, 50))
        fill.update(price=rng.randint(9, 199), hour=rng.randint(3, 11))
        label = "undisclosed_ad" if commercial != flip else "genuine"
        rows.append({"id": f"{author}-{i}", "author_id": author, "lang": lang, "label": label, "text": ""})
        rows[-1]["text"] = template[(lang, commercial)].format(**fill)
    return rows


def moderator_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Moderator decisions carry id, text, label and decided_at only."""
    return [
        {"id": f"mod-{r['id']}", "text": r["text"], "label": r["label"], "decided_at": "2025-06-01T10:00:00Z"}
        for r in rows
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_moderator_decisions_are_valid_new_data(tmp_path: Path) -> None:
    rows = moderator_rows(notes_for("m1", "en", 2, random.Random(1)) + notes_for("m2", "zh", 2, random.Random(2)))
    notes, summary_ = load_notes(write_jsonl(tmp_path / "decisions.jsonl", rows))
    assert summary_.loaded == 8 and not summary_.skipped
    assert [n.note.id for n in notes] == [r["id"] for r in rows]
    assert notes[1].label == "undisclosed_ad" and notes[0].label == "genuine"
    # `datasets` parses ISO times: decided_at arrives as a naive UTC datetime, not the string it was
    decided = notes[0].extra["decided_at"]
    assert (decided if isinstance(decided, str) else decided.isoformat()).startswith("2025-06-01T10:00")
    assert notes[0].note.author_id is None  # no author: each decision is its own group in the split


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """First model, then a retrain on mislabeled data (through the CLI), then one on good data."""
    from notecheck.cli import main

    root = tmp_path_factory.mktemp("retrain")
    rng = random.Random(7)
    base = [r for i in range(16) for r in notes_for(f"au{i:02d}", "en" if i % 2 else "zh", 4, rng)]
    bad = [r for i in range(12) for r in notes_for(f"bad{i:02d}", "en" if i % 2 else "zh", 10, rng, flip=True)]
    good = [r for i in range(8) for r in notes_for(f"new{i:02d}", "en" if i % 2 else "zh", 4, rng)]
    config_file = root / "run.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "model": "tfidf",
                "data": [str(write_jsonl(root / "base.jsonl", base))],
                "split_file": str(root / "split.json"),
            }
        ),
        encoding="utf-8",
    )
    registry_root = root / "registry"
    first = retrain(registry_root, [], TrainConfig.load(config_file))
    out = io.StringIO()
    bad_file = write_jsonl(root / "bad_decisions.jsonl", moderator_rows(bad))
    with contextlib.redirect_stdout(out):
        code = main(["retrain", "--registry", str(registry_root), "--data", str(bad_file)])
    reg = Registry(registry_root)
    after_bad = reg.current_version()
    good_file = write_jsonl(root / "good_decisions.jsonl", moderator_rows(good))
    second = retrain(registry_root, [str(good_file)], base_config(registry_root))
    after_good = reg.current_version()
    return {
        "registry": reg,
        "first": first,
        "bad_stdout": out.getvalue(),
        "bad_exit": code,
        "after_bad": after_bad,
        "good": second,
        "after_good": after_good,
        "root": root,
    }


def test_first_model_is_promoted_without_a_gate(scenario: dict[str, Any]) -> None:
    first, reg = scenario["first"], scenario["registry"]
    assert first.promote and first.current_version is None and "empty" in first.headline
    assert first.candidate["macro_f1"] > 0.9 and set(first.candidate["by_lang"]) == {"en", "zh"}
    assert reg.history()[0]["version"] == first.candidate_version
    saved = json.loads((reg.path(first.candidate_version) / DECISION_FILE).read_text(encoding="utf-8"))
    assert saved["promote"] is True


def test_mislabeled_new_data_is_refused(scenario: dict[str, Any]) -> None:
    reg, first = scenario["registry"], scenario["first"]
    lines = scenario["bad_stdout"].strip().splitlines()
    assert scenario["bad_exit"] == 0
    assert lines[-1].startswith(f"kept {first.candidate_version}: ") and "falls by more than" in lines[-1]
    assert lines[0].split() == ["current", "candidate", "delta"] and lines[1].startswith("macro-F1")
    assert scenario["after_bad"] == first.candidate_version  # the pointer did not move
    rejected = [v for v in reg.versions() if v not in (first.candidate_version, scenario["good"].candidate_version)]
    assert len(rejected) == 1
    decision = json.loads((reg.path(rejected[0]) / DECISION_FILE).read_text(encoding="utf-8"))
    assert decision["promote"] is False and decision["current_version"] == first.candidate_version
    assert decision["deltas"]["macro_f1"] < -0.2  # the flipped labels wreck it, not a rounding matter
    assert any(str(scenario["root"] / "bad_decisions.jsonl") == d for d in decision["data"])
    meta = ModelMetadata.load(reg.path(rejected[0]))
    assert meta.test_split_hash == ModelMetadata.load(reg.path(first.candidate_version)).test_split_hash


def test_good_new_data_is_promoted_on_the_same_frozen_test_split(scenario: dict[str, Any]) -> None:
    reg, first, good = scenario["registry"], scenario["first"], scenario["good"]
    assert good.promote, good.reasons
    assert scenario["after_good"] == good.candidate_version and good.current_version == first.candidate_version
    assert good.current["n"] == good.candidate["n"] == first.candidate["n"]  # the same frozen test notes
    current_meta, new_meta = (
        ModelMetadata.load(reg.path(v)) for v in (first.candidate_version, good.candidate_version)
    )
    assert new_meta.test_split_hash == current_meta.test_split_hash
    assert new_meta.config["data"][-1].endswith("good_decisions.jsonl")
    assert not any("bad_decisions" in d for d in new_meta.config["data"])  # the refused data stays out
    assert new_meta.metrics["split"]["train"] > current_meta.metrics["split"]["train"]
    assert reg.history()[-1]["reason"].startswith("retrain: macro-F1")


def test_rollback_command_returns_to_the_first_model(scenario: dict[str, Any]) -> None:
    from notecheck.cli import main

    reg, first = scenario["registry"], scenario["first"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rollback", "--registry", str(reg.root)]) == 0
    assert out.getvalue().strip().splitlines()[-1] == f"current {first.candidate_version}"
    assert reg.current_version() == first.candidate_version
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["rollback", "--registry", str(reg.root)]) == 2
    assert "nothing to roll back" in err.getvalue()


def test_retrain_refuses_without_the_frozen_split(tmp_path: Path, scenario: dict[str, Any]) -> None:
    reg = scenario["registry"]
    copy = Registry(tmp_path / "copy")
    version = reg.current_version()
    assert version is not None
    copy.add(reg.path(version), version)
    copy.promote(version, "copied")
    meta = ModelMetadata.load(copy.path(version))
    meta.config["split_file"] = str(tmp_path / "gone.json")
    meta.save(copy.path(version))
    with pytest.raises(ConfigError, match="frozen split"):
        retrain(copy.root, [], base_config(copy.root))


def test_retrain_refuses_a_candidate_tested_on_another_split(tmp_path: Path, scenario: dict[str, Any]) -> None:
    reg = scenario["registry"]
    copy = Registry(tmp_path / "copy")
    version = scenario["first"].candidate_version
    copy.add(reg.path(version), version)
    copy.promote(version, "copied")
    meta = ModelMetadata.load(copy.path(version))
    meta.test_split_hash = "0" * 64  # as if the split file had been replaced since this model was tested
    meta.save(copy.path(version))
    decision = retrain(copy.root, [], base_config(copy.root))
    assert not decision.promote and "cannot be compared" in decision.headline
    assert copy.current_version() == version
    assert json.loads((copy.path(decision.candidate_version) / DECISION_FILE).read_text())["promote"] is False
