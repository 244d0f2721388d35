"""The offline benchmark's core runs end to end on the tiny model: figures for every contender.

Not a timing test: it checks that every contender (notecheck, the pipeline at batch sizes 1 and 32) scores
every note, alternately in one run, with positive rates, that they agree on the labels (same model, same
fp32 weights, same text, same truncation), so the comparison is between equals, and that notecheck is
compared with the faster pipeline setting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` is scripts beside the package, not installed
    sys.path.insert(0, str(ROOT))


@pytest.mark.filterwarnings("ignore")
def test_offline_benchmark_runs_every_contender_alternately_against_the_best_pipeline(tiny_model_dir: Path) -> None:
    from benchmarks.offline_throughput import OfflineConfig, compare, median, paired_ratios, render

    config = OfflineConfig(
        tiny_model_dir, notes=40, rounds=2, threads=1, runtimes=("fp32",), pipeline_batch_sizes=(1, 32), isolate=False
    )
    result = compare(config)

    names = ["notecheck-fp32", "pipeline-fp32-bs1", "pipeline-fp32-bs32"]
    assert result["order"] == names * 2
    assert list(result["summaries"]) == names
    for name in names:
        summary = result["summaries"][name]
        assert summary["rounds"] == 2
        assert summary["notes_per_s"] > 0
        assert summary["notes_per_cpu_s"] > 0
        assert summary["peak_rss_mb"] > 0
        assert all(r["notes"] == 40 for r in result["rounds"][name])
        assert summary["commercial"] == result["summaries"]["notecheck-fp32"]["commercial"]
    pipelines = {name: result["summaries"][name]["notes_per_s"] for name in names[1:]}
    assert result["best_pipeline"] == max(pipelines, key=pipelines.__getitem__)
    assert result["pipeline"] is result["summaries"][result["best_pipeline"]]
    assert result["ratio"] == pytest.approx(result["notecheck"]["notes_per_s"] / max(pipelines.values()))
    assert result["paired_ratio"] == pytest.approx(median(paired_ratios(result)))
    per_round = [
        r["notes_per_s"] / max(result["rounds"][p][i]["notes_per_s"] for p in names[1:])
        for i, r in enumerate(result["rounds"]["notecheck-fp32"])
    ]
    assert paired_ratios(result) == pytest.approx(per_round)
    assert result["paired_ratio"] > 0 and result["paired_cpu_ratio"] > 0
    assert result["notes"] == {"count": 40, "distinct": 40, "source": "data/notes/*.jsonl"}
    table = render(result)
    assert "pipeline-fp32-bs1" in table and "pipeline-fp32-bs32" in table and "(best pipeline)" in table


def test_offline_benchmark_runs_a_quantized_copy_as_its_own_contender(tiny_model_dir: Path, tmp_path: Path) -> None:
    from benchmarks.common import BenchmarkError
    from benchmarks.offline_throughput import INT8, OfflineConfig, compare
    from notecheck.cli import main

    plain = OfflineConfig(tiny_model_dir, notes=20, rounds=1, threads=1, runtimes=(INT8,), isolate=False)
    with pytest.raises(BenchmarkError, match="--quantized"):
        compare(plain)
    copy = tmp_path / "int8"
    assert main(["quantize", "--model", str(tiny_model_dir), "--out", str(copy), "--calibration-notes", "8",
                 "--max-drop", "1"]) == 0  # fmt: skip
    config = OfflineConfig(
        tiny_model_dir, notes=20, rounds=1, threads=1, runtimes=(INT8, "fp32"), pipeline_batch_sizes=(1,),
        isolate=False, quantized=copy,
    )  # fmt: skip
    result = compare(config)
    assert list(result["summaries"]) == [f"notecheck-{INT8}", "notecheck-fp32", "pipeline-fp32-bs1"]
    assert result["ours"] == f"notecheck-{INT8}" and result["rounds"][f"notecheck-{INT8}"][0]["notes"] == 20
    assert result["rounds"][f"notecheck-{INT8}"][0]["resolved_runtime"] == "openvino"
    assert json.loads(json.dumps(result))["config"]["quantized"] == "int8"  # writable, and names no machine path


def test_a_distilled_copy_is_measured_and_checked_on_both_held_out_splits(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The student contender runs its own directory; accuracy compares it with fp32 of the teacher on the test
    and the validation writers (a copy of the same model here: identical verdicts, within tolerance)."""
    import shutil

    from benchmarks.accuracy import render_accuracy, runtime_accuracy
    from benchmarks.common import BenchmarkError
    from benchmarks.offline_throughput import DISTILLED, OfflineConfig, compare

    with pytest.raises(BenchmarkError, match="--distilled DIR"):
        compare(OfflineConfig(tiny_model_dir, notes=20, rounds=1, threads=1, runtimes=(DISTILLED,), isolate=False))
    student = Path(shutil.copytree(tiny_model_dir, tmp_path / "student"))
    config = OfflineConfig(
        tiny_model_dir, notes=20, rounds=1, threads=1, runtimes=(DISTILLED,), pipeline_batch_sizes=(1,),
        isolate=False, distilled=student,
    )  # fmt: skip
    result = compare(config)
    assert result["ours"] == f"notecheck-{DISTILLED}" and result["rounds"][result["ours"]][0]["notes"] == 20
    assert json.loads(json.dumps(result))["config"]["distilled"] == "student"
    accuracy = runtime_accuracy(tiny_model_dir, ["fp32", DISTILLED], threads=1, limit=30, copies={DISTILLED: student})
    assert accuracy["n_test"] == 30 and accuracy["n_validation"] == 30
    mine = accuracy["runtimes"][DISTILLED]
    assert mine["validation_macro_f1"] is not None and mine["validation_delta_f1"] == pytest.approx(0, abs=1e-3)
    assert mine["delta_f1"] == pytest.approx(0, abs=1e-3) and mine["within_tolerance"]
    assert "validation macro-F1" in render_accuracy(accuracy)
    skipped = runtime_accuracy(tiny_model_dir, ["fp32", DISTILLED], threads=1, limit=5, copies={DISTILLED: None})
    assert list(skipped["runtimes"]) == ["fp32"]


def writer_notes(tmp_path: Path) -> Path:
    """10 writers (5 per language) of 12 notes each, for the cross-writer benchmark's folds."""
    import json

    genuine = [
        "周末和{w}去公园散步，{i}点才回家",
        "went hiking with {w} on day {i}, legs are dead",
        "今天{w}做了红烧肉第{i}次",
    ]
    commercial = ["评论区扣1私信发优惠券，第{i}批{w}同款", "use my code ANNA{i} for 15% off, link in bio {w}"]
    rows = []
    for lang in ("zh", "en"):
        for w in range(5):
            writer = f"{lang}{w}"
            for i in range(12):
                pool = genuine if i % 2 else commercial
                rows.append(
                    {
                        "id": f"{writer}-{i}",
                        "writer": writer,
                        "author_id": f"{writer}-a{i % 3}",
                        "lang": lang,
                        "label": "genuine" if i % 2 else "undisclosed_ad",
                        "text": pool[i % len(pool)].format(w=writer, i=i),
                    }
                )
    data = tmp_path / "notes.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return data


@pytest.mark.filterwarnings("ignore")
def test_generalization_benchmark_runs_every_recipe_on_writer_folds(tiny_model_dir: Path, tmp_path: Path) -> None:
    import json

    from benchmarks.generalization import main

    data = writer_notes(tmp_path)
    out = tmp_path / "gen.json"
    args = ["--data", str(data), "--split-file", "", "--base-model", str(tiny_model_dir), "--steps", "2"]
    args += ["--max-length", "32", "--train-notes", "30", "--recipes", "tfidf", "lp", "lp_ft", "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert len(result["folds"]) == 5 and all(len(w) == 2 for w in result["writers"].values())
    for fold in result["folds"].values():
        assert set(fold) == {"tfidf", "lp", "lp_ft", "wise_ft"}
        for run in fold.values():
            assert set(run) >= {"model|out", "model|in", "combined|out", "combined|in"}
            assert 0.0 <= run["combined|out"]["metrics"]["macro_f1"] <= 1.0
            assert run["combined|out"]["metrics"]["n"] == 24  # two whole writers of 12 notes
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| wise_ft | combined |" in table and "out macro-F1" in table
    assert main(args) == 0  # resumes: nothing left to run, same results
    assert json.loads(out.read_text(encoding="utf-8"))["folds"] == result["folds"]


@pytest.mark.filterwarnings("ignore")
def test_generalization_benchmark_distils_each_folds_teacher(tiny_model_dir: Path, tmp_path: Path) -> None:
    import json

    from benchmarks.generalization import DISTILLED, main

    out = tmp_path / "gen.json"
    args = ["--data", str(writer_notes(tmp_path)), "--split-file", "", "--base-model", str(tiny_model_dir)]
    args += ["--steps", "2", "--max-length", "32", "--train-notes", "30", "--out", str(out), "--distill-layers", "1"]
    assert main(args) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["settings"]["distill_layers"] == [1]
    for fold in result["folds"].values():
        assert set(fold) == {"tfidf", "lp_ft", DISTILLED}
        assert fold[DISTILLED]["facts"]["layers"] == [1] and fold[DISTILLED]["facts"]["steps"] == 3  # 1.5x the steps
        assert fold[DISTILLED]["combined|out"]["metrics"]["n"] == fold["lp_ft"]["combined|out"]["metrics"]["n"]
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "1-layer distilled students" in table and f"| {DISTILLED} | combined |" in table
    assert "Chosen default" not in table  # a student is never the recipe chosen for training
    with pytest.raises(SystemExit, match="needs --distill-layers"):
        main(["--recipes", DISTILLED, "--out", str(tmp_path / "other.json")])


def test_the_default_recipe_is_the_best_cross_writer_one_close_to_the_best_in_distribution() -> None:
    from benchmarks.generalization import choose_recipe

    # c is best out of distribution but 0.05 worse in distribution: not eligible
    assert choose_recipe({"a": (0.80, 0.95), "b": (0.85, 0.945), "c": (0.86, 0.90)}) == "b"
    assert choose_recipe({"a": (0.80, 0.95), "b": (0.85, 0.93)}) == "a"
    assert choose_recipe({"a": (0.80, 0.95), "b": (0.85, 0.93)}, tolerance=0.05) == "b"


def test_soak_summary_reads_rss_at_warm_up_and_end_and_counts_failures_by_status() -> None:
    from benchmarks.soak import SoakConfig, request_bodies, request_sizes, summarise, thin
    from notecheck.model.schema import Note

    sizes = request_sizes(100, 16, 2.0, seed=0)
    assert len(sizes) == 100 and min(sizes) == 1 and max(sizes) <= 16 and sizes.count(1) > 50
    bodies, counts = request_bodies([Note(text=f"note {i}", id=str(i)) for i in range(7)], [3, 16])
    assert counts == [3, 16] and bodies[1].count(b'"text"') == 16

    config = SoakConfig(Path("unused"), requests=10, warmup_share=0.2)
    # (seconds, requests answered, RSS MiB): 1,000 MiB after 2 requests, 1,100 at the end, a 1,300 spike
    samples = [(0.0, 0, 900.0), (1.0, 2, 1000.0), (2.0, 5, 1300.0), (3.0, 10, 1100.0), (5.0, 10, 1050.0)]
    load = {
        "statuses": {"200": 9, "429": 1},
        "ok_notes": 18,
        "seconds": 3.0,
        "started": 0.0,
        "done_at": [0.2 * (i + 1) for i in range(10)],
    }
    summary = summarise(config, samples, load, [2] * 10)
    assert (summary["rss_after_warmup_mib"], summary["rss_end_mib"], summary["rss_peak_mib"]) == (1000, 1100, 1300)
    assert summary["ratio_end_to_warmup"] == pytest.approx(1.1) and summary["target_met"]
    assert summary["rss_idle_after_mib"] == 1050
    assert summary["checkpoints"]["50%"] == 1300 and summary["checkpoints"]["100%"] == 1100
    assert summary["non_200_by_status"] == {"429": 1} and summary["notes_per_s"] == pytest.approx(6.0)
    assert thin(samples, keep=2)[-1] == [5.0, 10, 1050.0]


def test_a_shallow_base_keeps_the_named_layers_renumbered(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from benchmarks.generalization import shallow_base

    monkeypatch.setenv("NOTECHECK_CACHE_DIR", str(tmp_path / "cache"))
    shallow = shallow_base(str(tiny_model_dir), [1])
    made = (Path(shallow) / "model.safetensors").stat().st_mtime_ns
    assert shallow_base(str(tiny_model_dir), [1]) == shallow
    assert (Path(shallow) / "model.safetensors").stat().st_mtime_ns == made  # made once
    whole = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    small = AutoModelForSequenceClassification.from_pretrained(shallow)
    assert small.config.num_hidden_layers == 1 and len(small.bert.encoder.layer) == 1
    want, got = whole.bert.encoder.layer[1].state_dict(), small.bert.encoder.layer[0].state_dict()
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    assert torch.equal(small.bert.embeddings.word_embeddings.weight, whole.bert.embeddings.word_embeddings.weight)
    for wrong in ([2], [0, 0], []):
        with pytest.raises(SystemExit, match="keep-layers"):
            shallow_base(str(tiny_model_dir), wrong)
