"""Faithfulness: erasure mechanics, and on the model trained to see a discount code, IG beats random words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from explain_support import CODE, HELD_OUT, TRAIN, code_model_dir

from notecheck.model.classifier import Classifier
from notecheck.model.errors import ConfigError
from notecheck.model.schema import Note
from notecheck.model.words import note_words
from notecheck.training.faithfulness import RANDOM, FaithfulnessConfig, erasures, measure_faithfulness, top_count


def notes() -> list[Note]:
    with_code = [Note(text=t + CODE, id=f"c{i}") for i, t in enumerate(HELD_OUT + TRAIN)]
    return with_code + [Note(text=t, id=f"g{i}") for i, t in enumerate(HELD_OUT)]


def test_top_count_rounds_up_and_keeps_one() -> None:
    assert [top_count(10, 10), top_count(11, 10), top_count(3, 10), top_count(4, 50)] == [1, 2, 1, 2]


def test_erasures_delete_or_keep_the_top_words_of_the_original_text() -> None:
    note = Note(text="Use my code ANNA15 今天", title="好物")
    words = note_words(note)
    ranked = sorted(words, key=lambda w: w.text != "ANNA15")  # ANNA15 first
    without, only = erasures(note, ranked, [10])
    assert without.text == "Use my code  今天" and without.title == "好物"
    assert only.text.split() == ["ANNA15"] and only.title == ""


def test_ig_is_more_faithful_than_random_words(tiny_model_dir: Path) -> None:
    classifier = Classifier.from_pretrained(code_model_dir(tiny_model_dir))
    config = FaithfulnessConfig(methods=("ig", "grad_x_input"), ks=(10, 20), seed=3)
    report = measure_faithfulness(classifier, notes(), config)
    assert report.n_notes == len(notes()) and report.n_explained >= 8  # the notes with the code
    ig, rnd = report.results["ig"], report.results[RANDOM]
    # deleting IG's top words removes the code: P falls back to the genuine level; random words rarely hit it
    assert ig.aopc_comprehensiveness > rnd.aopc_comprehensiveness + 0.1
    # keeping only IG's top words keeps the code, and with it most of P
    assert ig.aopc_sufficiency < rnd.aopc_sufficiency - 0.1
    assert set(report.results) == {"ig", "grad_x_input", RANDOM}


def test_report_is_written_as_json_and_markdown(tiny_model_dir: Path, tmp_path: Path) -> None:
    classifier = Classifier.from_pretrained(code_model_dir(tiny_model_dir))
    report = measure_faithfulness(classifier, notes()[:3], FaithfulnessConfig(methods=("occlusion",), ks=(50,)))
    json_path, md_path = report.save(tmp_path)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert set(data["results"]) == {"occlusion", RANDOM} and data["ks"] == [50]
    table = md_path.read_text(encoding="utf-8")
    assert "| occlusion |" in table and "| random |" in table and "comp@50%" in table


def test_no_commercial_notes_gives_an_empty_report(tiny_model_dir: Path) -> None:
    classifier = Classifier.from_pretrained(code_model_dir(tiny_model_dir))
    report = measure_faithfulness(classifier, [Note(text=t) for t in HELD_OUT[:2]], FaithfulnessConfig(ks=(10,)))
    assert report.n_explained == 0 and report.results == {}


@pytest.mark.parametrize(
    ("config", "match"),
    [(FaithfulnessConfig(methods=("lime",)), "unknown lime"), (FaithfulnessConfig(ks=(0,)), "percentages")],
)
def test_config_is_validated(config: FaithfulnessConfig, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config.validate()


def test_cli_writes_the_table(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from notecheck.cli import main

    data = tmp_path / "notes.jsonl"
    data.write_text(
        "".join(json.dumps({"id": n.id, "text": n.text}, ensure_ascii=False) + "\n" for n in notes()), encoding="utf-8"
    )
    model = str(code_model_dir(tiny_model_dir))
    args = ["faithfulness", "--model", model, "--data", str(data), "--limit", "4", "--k", "20", "--out", str(tmp_path)]
    assert main([*args, "--methods", "grad_x_input"]) == 0
    out = capsys.readouterr().out
    assert "| grad_x_input |" in out and "| random |" in out and (tmp_path / "faithfulness.json").is_file()
    assert main([*args, "--k", "ten"]) == 2
