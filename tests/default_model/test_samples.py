"""The README's samples get the verdicts a moderator gave them, from the default-trained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notecheck import Notecheck
from notecheck.model.disclosure import rate

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples.jsonl"
ROWS = [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def nc(model_dir: Path) -> Notecheck:
    return Notecheck.load(model_dir)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_sample_gets_the_moderators_verdict(nc: Notecheck, row: dict[str, str]) -> None:
    (p,) = nc.predict({k: v for k, v in row.items() if k != "moderator_verdict"})
    assert p.verdict == row["moderator_verdict"], f"P(commercial) {p.p_commercial:.3f}, action {p.action}"


def test_every_clear_disclosure_is_a_disclosed_ad(nc: Notecheck) -> None:
    clear = [r for r in ROWS if rate(r["text"], r.get("title", "")).rating == "clear"]
    assert clear and all(p.verdict == "disclosed_ad" for p in nc.predict(clear))
