"""`notecheck score --queue`, `notecheck review export|status`: the queue filled from files and emptied into
the retrain format, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notecheck.cli import main
from notecheck.model.review.db import connect, forget_engines
from notecheck.model.review.queue import ReviewQueue


@pytest.fixture
def db(tmp_path: Path):  # noqa: ANN201
    yield f"sqlite:///{tmp_path / 'review.db'}"
    forget_engines()


def notes_file(path: Path, n: int = 24) -> Path:
    texts = [
        "私信我拿优惠码，链接在主页",
        "Use my code ANNA15, link in bio",
        "周末带狗狗去公园",
        "My kettle broke again",
    ]
    rows = [
        {"id": f"f{i}", "text": f"{texts[i % 4]} ({i})", "exposure": 1000 * i, "category": "pets", "lang": None}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_score_queue_puts_review_and_flag_notes_in_the_queue_once(
    tmp_path: Path, tiny_model_dir: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = notes_file(tmp_path / "notes.jsonl"), tmp_path / "scores.jsonl"
    args = ["score", str(source), "-o", str(out), "--model", str(tiny_model_dir), "--queue", "--db", db]
    assert main([*args, "--chunk-size", "5"]) == 0
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = {r["id"] for r in scored if r["action"] in ("review", "flag")}
    assert expected, "the tiny model should send some notes to review"
    assert f"{len(expected)} notes added, 0 already queued" in capsys.readouterr().out
    queue = ReviewQueue(connect(db))
    assert queue.progress("x").open == len(expected)
    item = queue.claim("x")
    assert item is not None and item.note_id in expected and item.category == "pets" and item.source.endswith(".jsonl")
    assert main([*args, "--restart"]) == 0
    assert f"0 notes added, {len(expected)} already queued" in capsys.readouterr().out


def test_review_export_and_status(
    tmp_path: Path, tiny_model_dir: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = notes_file(tmp_path / "notes.jsonl")
    assert (
        main(
            [
                "score",
                str(source),
                "-o",
                str(tmp_path / "s.jsonl"),
                "--model",
                str(tiny_model_dir),
                "--queue",
                "--db",
                db,
            ]
        )
        == 0
    )
    queue = ReviewQueue(connect(db))
    decided = []
    for verdict in ("genuine", "undisclosed_ad"):
        item = queue.claim("mod")
        assert item is not None
        queue.decide(item.id, "mod", verdict)
        decided.append((item.note_id, verdict))
    capsys.readouterr()
    out = tmp_path / "decisions.jsonl"
    assert main(["review", "export", "-o", str(out), "--db", db]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["label"], r["writer"]) for r in rows] == [(i, v, "mod") for i, v in decided]
    assert main(["review", "status", "--db", db]) == 0
    assert "decided 2" in capsys.readouterr().out
    # one line and exit 2 for an output that cannot be written, or a database that is not one
    assert main(["review", "export", "-o", str(tmp_path / "no" / "d.jsonl"), "--db", db]) == 2
    assert main(["review", "export", "-o", str(out), "--db", "mysql://x@y/z"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "does not exist" in err[0] and "not supported" in err[1]


def test_queue_needs_the_local_engine(tmp_path: Path, tiny_model_dir: Path, db: str) -> None:
    source = notes_file(tmp_path / "notes.jsonl", 2)
    args = ["score", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir)]
    assert main([*args, "--queue", "--engine", "ray", "--db", db]) == 2
