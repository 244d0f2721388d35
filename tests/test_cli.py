"""The `notecheck` command line: help, version, global flags anywhere, suggestions, exit codes, and `predict`."""

from __future__ import annotations

import importlib.metadata
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import notecheck.cli as cli
from notecheck.cli import COMMANDS, hoist_global_flags, main

#: what `notecheck --help` must not import: the model stacks load inside the command that needs them
HEAVY = ("torch", "transformers", "fastapi", "pandas", "datasets", "notecheck.training", "notecheck.serving")


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    names = [name for name, _, _ in COMMANDS]
    assert len(names) == 16
    assert {"predict", "base-model", "kol", "checklist", "trim-vocab", "quantize", "distill"} <= set(names)
    for name, function, _ in COMMANDS:
        first_line = (function.__doc__ or "").splitlines()[0]
        assert f" {name} " in out and first_line[:30] in " ".join(out.split()), name


def test_help_imports_no_model_stack() -> None:
    script = (
        "import sys, json\n"
        "from notecheck.cli import main\n"
        "code = main(['--help'])\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))\n"
        "print(json.dumps([code, heavy]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    code, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0 and heavy == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"notecheck {importlib.metadata.version('notecheck')}"


def test_verbose_counts_before_or_after_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    levels: list[int] = []
    monkeypatch.setattr(cli, "configure_logging", levels.append)
    missing = ["--model", str(tmp_path / "nope")]
    assert main(["-v", "predict", "a note", *missing]) == 2
    assert main(["predict", "a note", *missing, "-vv"]) == 2
    assert main(["predict", "--verbose", *missing, "--", "-v"]) == 2  # after `--`, "-v" is a note
    assert main(["predict", "a note", *missing]) == 2
    assert levels == [1, 2, 1, 0]
    assert hoist_global_flags(["kol", "-v", "--", "-v"]) == ["-v", "kol", "--", "-v"]


def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trian"]) == 2
    assert "Did you mean 'train'" in capsys.readouterr().err
    assert main(["predict", "--modle", "x"]) == 2
    assert "--model" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "a note", "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("notecheck predict: error: ") and "model directory not found" in err[0]


def test_an_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("notecheck.commands.predict.read_notes", interrupted)
    assert main(["predict", "a note"]) == 130
    assert "notecheck predict: interrupted" in capsys.readouterr().err


# -- predict -------------------------------------------------------------------------------------------


def test_predict_texts_print_a_table(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "私信我拿优惠码", "Went hiking with my sister", "--model", str(tiny_model_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["id", "verdict", "P(commercial)", "action", "disclosure"]
    assert [line.split()[0] for line in lines[1:3]] == ["arg:1", "arg:2"]
    assert lines[-1].startswith("2 note(s), model tiny-0: ")


def test_predict_file_as_json(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from notecheck.model.classifier import Classifier

    rows = [{"id": "n1", "text": "Use my code ANNA15 for 15% off!"}, {"id": "n2", "text": "周末带狗狗去公园"}]
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert main(["predict", "--file", str(notes), "--model", str(tiny_model_dir), "--json", "--runtime", "fp32"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = Classifier.from_pretrained(tiny_model_dir).predict([r["text"] for r in rows])
    assert [p["id"] for p in printed] == ["n1", "n2"] and all(p["model_version"] == "tiny-0" for p in printed)
    for got, want in zip(printed, expected, strict=True):
        assert {k: v for k, v in got.items() if k not in ("id", "model_version")} == {
            k: v for k, v in want.to_dict().items() if k != "id"
        }


def test_predict_reads_stdin_one_note_per_line(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("first note\n\nsecond note\n"))
    assert main(["predict", "--model", str(tiny_model_dir), "--json"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["stdin:1", "stdin:3"]


def test_predict_needs_exactly_one_source(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "a note", "--file", str(tmp_path / "x.jsonl"), "--model", str(tiny_model_dir)]) == 2
    assert "not both" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["predict", "--model", str(tiny_model_dir)]) == 2
    assert "stdin: no notes" in capsys.readouterr().err
