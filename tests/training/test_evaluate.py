"""`evaluate` agrees with `predict`, the report writes every file, the card and the CLI work end to end."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.metadata import ModelMetadata, Thresholds
from notecheck.model.schema import Note
from notecheck.training.calibration import expected_calibration_error
from notecheck.training.card import write_model_card
from notecheck.training.evaluate import evaluate, write_report

ROWS = [
    ("今天去了新开的咖啡店，拿铁一般，环境不错。", "genuine", "food", "zh"),
    ("这款面霜用了一个月，皮肤没有变好，有点失望。", "genuine", "skincare", "zh"),
    ("宝宝最近长牙，晚上睡不好，求各位妈妈支招。", "genuine", "parenting", "zh"),
    ("私信我拿优惠码，评论区扣1，戳主页看链接，淘宝搜同款。", "undisclosed_ad", "skincare", "zh"),
    ("本篇由品牌赞助，广告合作。这款面霜真的好用。", "disclosed_ad", "skincare", "zh"),
    ("Went hiking with my sister, the view was worth the blisters.", "genuine", "travel", "en"),
    ("My kettle broke after two weeks, returning it tomorrow, so annoyed.", "genuine", "home", "en"),
    ("Use my code ANNA15 for 15% off, link in bio, DM me for the discount!", "undisclosed_ad", "beauty", "en"),
    ("Paid partnership with a skincare brand. #ad This serum is great.", "disclosed_ad", "skincare", "en"),
    ("Price 199 yuan, model X200, search it on Taobao, limited offer today only.", "undisclosed_ad", "tech", None),
    ("Honest review: the blender is loud but the smoothies are great.", "genuine", "home", None),
    ("周末带狗狗去公园，它追了一下午的鸽子。", "genuine", "pets", None),
]


def labelled(rows: list[tuple[str, str, str, str | None]] = ROWS) -> list[LabelledNote]:
    return [
        LabelledNote(Note(text=t, id=f"n{i}", lang=lang, metadata={"category": cat}), label)
        for i, (t, label, cat, lang) in enumerate(rows)
    ]


@pytest.fixture()
def classifier(tiny_classifier: Classifier) -> Classifier:
    """The tiny classifier with a temperature and thresholds that spread notes over all three actions."""
    meta = copy.deepcopy(tiny_classifier.metadata)
    meta.temperature = 0.05  # sharpens the tiny model's near-0.5 scores
    clf = Classifier(tiny_classifier.scorer, meta)
    probs = clf.predict_proba([n.note for n in labelled()])
    low, mid, high = np.quantile(probs, [0.25, 0.5, 0.75])
    meta.thresholds = Thresholds(commercial=float(mid), review=float(low), flag=float(high))
    return clf


def test_evaluate_matches_predict(classifier: Classifier) -> None:
    notes = labelled()
    result = evaluate(classifier, notes)
    predictions = classifier.predict([n.note for n in notes])
    curves = result["curves"]
    assert curves["verdicts"] == [p.verdict for p in predictions]
    assert curves["actions"] == [p.action for p in predictions]
    assert np.allclose(curves["p_commercial"], [p.p_commercial for p in predictions])
    assert len(set(curves["actions"])) >= 2  # the thresholds spread the notes over the actions
    assert curves["actions"][4] == curves["actions"][8] == "allow"  # clearly disclosed ads
    s = result["summary"]
    verdict_hits = sum(p.verdict == n.label for p, n in zip(predictions, notes, strict=True))
    assert s["verdict_accuracy"] == pytest.approx(verdict_hits / len(notes))
    assert s["actions_taken"]["review"] == pytest.approx(curves["actions"].count("review") / len(notes))


def test_evaluate_numbers_are_consistent(classifier: Classifier) -> None:
    notes = labelled()
    result = evaluate(classifier, notes)
    s = result["summary"]
    n = len(notes)
    assert s["n"] == n and s["n_commercial"] == 5
    assert np.sum(s["verdict_confusion"]["matrix"]) == n
    assert np.sum(s["confusion"]["matrix"]) == n
    tn, fp = s["confusion"]["matrix"][0]
    fn, tp = s["confusion"]["matrix"][1]
    assert s["accuracy"] == pytest.approx((tp + tn) / n)
    assert s["recall"] == pytest.approx(tp / (tp + fn))
    assert sum(v["n"] for v in s["by_lang"].values()) == n
    assert sum(v["n"] for v in s["by_category"].values()) == n
    assert set(s["by_lang"]) == {"zh", "en"}  # missing languages are detected from the text
    assert s["by_category"]["skincare"]["n"] == 4
    labels = np.array(result["curves"]["labels"])
    assert s["ece_after"] == pytest.approx(
        expected_calibration_error(np.array(result["curves"]["p_commercial"]), labels)
    )
    assert s["ece_before"] == pytest.approx(expected_calibration_error(np.array(result["curves"]["p_raw"]), labels))
    assert s["ece_before"] != s["ece_after"]  # temperature 0.05 moved the probabilities
    assert 0.0 <= s["roc_auc"] <= 1.0
    assert s["thresholds"]["flag"] == classifier.metadata.thresholds.flag
    assert s["actions"]["flag"]["share"] <= s["actions"]["review"]["share"]
    json.dumps(result, allow_nan=False)  # strict JSON: no NaN anywhere


def test_binary_labels_skip_verdict_metrics(classifier: Classifier) -> None:
    notes = [LabelledNote(n.note, "commercial" if n.label != "genuine" else "genuine") for n in labelled()]
    s = evaluate(classifier, notes)["summary"]
    assert s["three_class"] is False
    assert "verdict_confusion" not in s and "binary" in s["verdict_note"]
    assert s["n_commercial"] == 5


def test_evaluate_refuses_empty_or_unlabelled_notes(classifier: Classifier) -> None:
    with pytest.raises(DatasetError, match="no labelled notes"):
        evaluate(classifier, [])
    with pytest.raises(DatasetError, match="label"):
        evaluate(classifier, [LabelledNote(Note(text="hello", id="x"), None)])


def test_single_class_slices_are_marked(classifier: Classifier) -> None:
    s = evaluate(classifier, labelled())["summary"]
    assert s["by_category"]["pets"]["single_class"] is True
    assert s["by_category"]["skincare"]["single_class"] is False


def test_write_report_writes_every_file(classifier: Classifier, tiny_classifier: Classifier, tmp_path: Path) -> None:
    result = evaluate(classifier, labelled())
    baseline = evaluate(tiny_classifier, labelled())
    paths = write_report(result, tmp_path / "eval", title="Tiny report", baseline=baseline)
    names = {p.name for p in paths}
    assert names == {"metrics.json", "report.md", "roc.png", "pr.png", "reliability.png", "confusion.png", "slices.png"}
    for path in paths:
        assert path.is_file() and path.stat().st_size > 0
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.verify()
                assert image.format == "PNG" and image.size[0] >= 400 and image.size[1] >= 300
    report = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# Tiny report")
    for needle in ("## Headline", "baseline", "## Per language", "## Per category", "## Calibration",
                   "![Reliability", "(roc.png)", "| flag |", "always **allow**"):  # fmt: skip
        assert needle in report
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["summary"]["n"] == len(ROWS)
    assert metrics["baseline"]["summary"]["n"] == len(ROWS)


def test_model_card(classifier: Classifier, tmp_path: Path) -> None:
    meta = copy.deepcopy(classifier.metadata)
    meta.version, meta.training_data_hash = "1.2.3", "ab" * 32
    meta.metrics = {"split": {"train": 10, "validation": 3, "test": 12}, "training": {"best_epoch": 2}}
    meta.config = {"data": ["data/notes"], "flag_precision": 0.95, "review_recall": 0.9}
    test = evaluate(classifier, labelled())
    card = write_model_card(tmp_path, meta, test).read_text(encoding="utf-8")
    assert card.startswith("# notecheck model `1.2.3`")
    assert f"T = {meta.temperature:.3f}" in card
    assert f"{meta.thresholds.flag:.3f}" in card and f"{meta.thresholds.review:.3f}" in card
    assert "train 10, validation 3, test 12" in card
    assert "| zh |" in card and "| en |" in card
    assert "always `allow`" in card and "## Limits" in card and "64 tokens" in card


def write_binary_jsonl(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i, (text, label, cat, _) in enumerate(ROWS):
            row = {"id": f"r{i}", "body": text, "is_ad": int(label != "genuine"), "category": cat}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def test_evaluate_command_end_to_end(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    write_binary_jsonl(data / "notes.jsonl")
    out = tmp_path / "report"
    argv = ["evaluate", "--model", str(tiny_model_dir), "--data", str(data), "--text-column", "body"]
    code = main([*argv, "--label-column", "is_ad", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and f"report: {out / 'report.md'}" in printed
    assert "binary" in printed and "baseline" not in printed
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["summary"]["n"] == len(ROWS) and metrics["summary"]["three_class"] is False
    assert (out / "confusion.png").is_file()


def test_evaluate_command_finds_the_default_baseline(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_model_dir, tmp_path / "runs" / "tfidf")  # stands in for the TF-IDF baseline
    data = write_binary_jsonl(tmp_path / "notes.jsonl")
    argv = ["evaluate", "--model", str(tiny_model_dir), "--data", str(data), "--text-column", "body"]
    assert main([*argv, "--label-column", "is_ad", "--out", "out"]) == 0
    assert "baseline" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["baseline"]["summary"]["n"] == len(ROWS)
    assert main([*argv, "--label-column", "is_ad", "--out", "out2", "--no-baseline"]) == 0
    assert "baseline" not in json.loads((tmp_path / "out2" / "metrics.json").read_text())


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(f.relative_to(folder)): (f.stat().st_size, f.stat().st_mtime_ns) for f in folder.rglob("*")}


def test_evaluate_command_writes_a_new_folder_and_never_into_the_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    model = shutil.copytree(tiny_model_dir, tmp_path / "runs" / "mine")
    report = model / "eval" / "report.md"  # the model's own report, as `notecheck demo` writes it
    report.parent.mkdir()
    report.write_text("the model's own report\n", encoding="utf-8")
    before = snapshot(model)
    data = write_binary_jsonl(tmp_path / "notes.jsonl")
    argv = ["evaluate", "--model", str(model), "--data", str(data), "--text-column", "body", "--label-column", "is_ad"]
    assert main(argv) == 0
    assert main(argv) == 0  # a second run in the same second gets a folder of its own
    printed = capsys.readouterr().out
    folders = sorted(p for p in model.parent.iterdir() if p.name.startswith("mine-eval-"))
    assert len(folders) == 2 and all((f / "metrics.json").is_file() for f in folders)
    assert all(f"report: {f / 'report.md'}" in printed for f in folders)
    for out in (model, model / "eval", Path("runs/mine")):
        assert main([*argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("notecheck evaluate: error: --out") and "model directory" in err[0]
    assert snapshot(model) == before and report.read_text(encoding="utf-8") == "the model's own report\n"


def test_evaluate_command_user_errors_exit_2(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_binary_jsonl(tmp_path / "notes.jsonl")
    base = ["evaluate", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(tmp_path / "o")]
    assert main([*base, "--no-baseline"]) == 2  # no "text" column in this file
    assert "field 'text'" in capsys.readouterr().err
    missing = ["evaluate", "--model", str(tmp_path / "nope"), "--data", str(data)]
    assert main(missing) == 2
    assert "model directory not found" in capsys.readouterr().err
    bad_baseline = [*base, "--text-column", "body", "--label-column", "is_ad", "--baseline", str(tmp_path)]
    assert main(bad_baseline) == 2
    assert "notecheck.json" in capsys.readouterr().err


def test_evaluate_uses_model_metadata(tiny_model_dir: Path) -> None:
    meta = ModelMetadata.load(tiny_model_dir)
    result = evaluate(Classifier.from_pretrained(tiny_model_dir), labelled())
    assert result["model"]["version"] == meta.version
    assert result["summary"]["temperature"] == meta.temperature


def test_report_shows_the_combiner_and_evaluate_uses_it(classifier: Classifier, tmp_path: Path) -> None:
    from notecheck.model.combiner import Combiner

    plain = write_report(evaluate(classifier, labelled()), tmp_path / "plain")[1].read_text(encoding="utf-8")
    assert "No signal combiner" in plain
    meta = copy.deepcopy(classifier.metadata)
    meta.combiner = Combiner(bias=-2.0, model_weight=0.5, weights={"contact": 4.0, "code": 1.5}).to_dict()
    combined = Classifier(classifier.scorer, meta)
    result = evaluate(combined, labelled())
    assert result["curves"]["p_commercial"] == [p.p_commercial for p in combined.predict([n.note for n in labelled()])]
    report = write_report(result, tmp_path / "combined")[1].read_text(encoding="utf-8")
    assert "## Signals and the model" in report and "| contact | 4.000 |" in report


def test_thresholds_are_chosen_on_the_notes_a_clear_disclosure_does_not_settle(classifier: Classifier) -> None:
    from notecheck.model.classifier import calibrated
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import fit_decision
    from notecheck.training.thresholds import choose_thresholds

    clf = Classifier(classifier.scorer, copy.deepcopy(classifier.metadata))
    validation = labelled() * 3
    fit_decision(clf, validation, TrainConfig(combiner=False, flag_precision=0.6, review_recall=0.6))
    open_ = [i for i, n in enumerate(validation) if n.label != "disclosed_ad"]
    probs = calibrated(clf.scores([n.note for n in validation]).logits, clf.metadata.temperature)
    labels = np.array([int(n.label != "genuine") for n in validation])
    expected = choose_thresholds(probs[open_], labels[open_], flag_precision=0.6, review_recall=0.6)
    assert clf.metadata.thresholds == expected
