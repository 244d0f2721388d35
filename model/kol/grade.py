"""The overall grade of an account: a letter, a risk level and plain-English reasons.

Deterministic: every condition below that holds adds a reason; the grade is the worst letter among them.

- F, high risk: the undisclosed-ad share's 95% lower bound is at least `high_risk_undisclosed`
  (systematic private orders), or at least `high_risk_engagement_flags` strong engagement signals are
  flagged (bought engagement);
- D, caution: the credit score is below `min_credit` (confident private orders have used it up);
- C, caution: a confident undisclosed ad cost credit, or one strong engagement signal is flagged;
- B, trustworthy: only weak (per-follower) engagement signals are flagged, some notes are under review
  (doubtful verdicts that cost no credit until a moderator decides), or fewer than `min_notes_for_grade`
  notes were scored;
- A, trustworthy: none of the above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from notecheck.model.kol.engagement import EngagementSignal
from notecheck.model.kol.rules import Credit, PlatformRules

Letter = Literal["A", "B", "C", "D", "F"]
Risk = Literal["trustworthy", "caution", "high risk"]
RISK: dict[str, Risk] = {"A": "trustworthy", "B": "trustworthy", "C": "caution", "D": "caution", "F": "high risk"}
ORDER = "ABCDF"  # best to worst


@dataclass(frozen=True)
class Grade:
    letter: Letter
    risk: Risk
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"grade": self.letter, "risk": self.risk, "reasons": list(self.reasons)}


def grade(
    n_scored: int,
    undisclosed: int,
    interval: tuple[float, float],
    credit: Credit,
    signals: Sequence[EngagementSignal],
    rules: PlatformRules,
    under_review: int = 0,
) -> Grade:
    """Grade one account (see the module docstring for the table)."""
    found: list[tuple[Letter, str]] = []
    low, high = interval
    if n_scored and low >= rules.high_risk_undisclosed:
        found.append(
            (
                "F",
                f"Systematic undisclosed advertising: {undisclosed} of {n_scored} notes are ads without a clear "
                f"disclosure ({undisclosed / n_scored:.0%}; 95% interval {low:.0%}-{high:.0%}).",
            )
        )
    strong = [s for s in signals if s.flagged and s.severity == "strong"]
    weak = [s for s in signals if s.flagged and s.severity == "weak"]
    if len(strong) >= rules.high_risk_engagement_flags:
        found.append(("F", "Engagement looks bought: " + "; ".join(s.detail for s in strong) + "."))
    elif strong:
        found.append(("C", f"One engagement signal is unusual: {strong[0].detail}."))
    if credit.score < rules.min_credit:
        found.append(
            (
                "D",
                f"Credit score {credit.score} of {credit.start}: {len(credit.deductions)} private order(s) "
                f"(undisclosed ads) at {credit.penalty} points each.",
            )
        )
    elif credit.deductions:
        counted = len(credit.deductions)
        found.append(
            ("C", f"{counted} confident undisclosed ad(s) found; credit score {credit.score} of {credit.start}.")
        )
    if under_review:
        found.append(
            ("B", f"{under_review} note(s) under review: doubtful, no credit deducted until a moderator decides.")
        )
    if weak:
        found.append(("B", "Worth a look: " + "; ".join(s.detail for s in weak) + " (weak signal on its own)."))
    if n_scored < rules.min_notes_for_grade:
        found.append(("B", f"Only {n_scored} note(s) scored: too few for a firm judgement."))
    if not found:
        return Grade("A", RISK["A"], (f"No undisclosed ads among {n_scored} notes and engagement within range.",))
    found.sort(key=lambda item: -ORDER.index(item[0]))
    letter = found[0][0]
    return Grade(letter, RISK[letter], tuple(reason for _, reason in found))
