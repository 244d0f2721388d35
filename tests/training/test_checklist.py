"""The behavioural suite: enough cases in every capability, pass rates that can fail, and the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from notecheck.model.classifier import Prediction
from notecheck.model.disclosure import rate
from notecheck.model.schema import Note
from notecheck.model.signals import find_signals
from notecheck.training.checklist import CAPABILITIES, build_cases, run_checklist


class RuleModel:
    """A stand-in that behaves as the suite asks: P rises with each funnel signal and a clear disclosure."""

    def predict(self, notes: Sequence[Note]) -> list[Prediction]:
        out = []
        for n in notes:
            d = rate(n.text, n.title)
            funnels = sum(1 for s in find_signals(n) if s.kind in ("funnel", "giveaway"))
            p = min(0.95, 0.1 + 0.45 * funnels + (0.3 if d.rating == "clear" else 0.0))
            verdict = "disclosed_ad" if d.rating == "clear" else ("undisclosed_ad" if p >= 0.5 else "genuine")
            out.append(Prediction(n.id, p, verdict, "allow", d, False, len(n.text)))  # type: ignore[arg-type]
        return out


class ConstantModel:
    """Calls everything genuine at P 0.3 whatever the note says."""

    def predict(self, notes: Sequence[Note]) -> list[Prediction]:
        return [Prediction(n.id, 0.3, "genuine", "allow", rate(""), False, 1) for n in notes]


def test_cases_cover_every_capability_in_both_languages() -> None:
    cases = build_cases()
    assert len(cases) >= 300
    counts = Counter((c.capability, c.lang) for c in cases)
    assert {cap for cap, _ in counts} == set(CAPABILITIES)
    assert all(counts[(cap, lang)] >= 10 for cap in CAPABILITIES for lang in ("zh", "en"))
    assert [c.notes for c in build_cases()] == [c.notes for c in cases]  # deterministic
    for case in cases:
        assert len(case.notes) == (1 if case.kind == "mft" else 2)
        if case.kind != "mft":
            assert case.notes[0] != case.notes[1], case


def test_a_model_that_reads_the_signals_passes_and_a_constant_one_fails() -> None:
    good = {r.capability: r.pass_rate for r in run_checklist(RuleModel())}
    assert good["mft_funnel"] >= 0.95 and good["mft_disclosure"] == 1.0 and good["mft_complaint"] >= 0.95
    assert good["dir_add_funnel"] >= 0.95 and good["dir_remove_funnel"] >= 0.95 and good["dir_add_sponsor"] == 1.0
    bad = {r.capability: r for r in run_checklist(ConstantModel())}
    assert bad["mft_funnel"].pass_rate == 0.0 and bad["mft_disclosure"].pass_rate == 0.0
    assert bad["mft_complaint"].pass_rate == 1.0 and bad["inv_swap"].pass_rate == 1.0
    assert bad["dir_add_funnel"].pass_rate == 0.0 and bad["dir_add_funnel"].failures  # failures are kept


def test_checklist_command_runs_on_the_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    from notecheck.cli import main

    out, saved = io.StringIO(), tmp_path / "checklist.json"
    with contextlib.redirect_stdout(out):
        code = main(["checklist", "--model", str(tiny_model_dir), "--json", "-o", str(saved)])
    assert code == 0
    printed = json.loads(out.getvalue())
    assert [r["capability"] for r in printed] == list(CAPABILITIES)
    assert sum(r["cases"] for r in printed) == len(build_cases())
    assert all(0.0 <= r["pass_rate"] <= 1.0 for r in printed)
    assert json.loads(saved.read_text(encoding="utf-8"))[0]["cases"] == printed[0]["cases"]
