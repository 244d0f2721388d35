"""KOL authenticity reports: one per account, from its notes, their predictions and an optional profile.

A report answers what brands vetting an influencer and staff policing private orders ask:

- how many notes are ads, and how many are *undisclosed* ads (with a 95% Wilson interval);
- disclosure compliance: of the notes the classifier calls commercial, the share clearly disclosed;
- the credit score (each confidently undisclosed ad, one the classifier flags, is a private order:
  `model.kol_rules.credit_score`); less certain undisclosed verdicts are listed as under review;
- brand-partner eligibility under `PlatformRules`, rule by rule;
- engagement authenticity signals (`model.engagement`), each with its threshold and where it came from;
- an overall grade with plain-English reasons (`model.kol_grade`), and the notes that drove the finding.

Pure domain logic: notes, predictions, profiles and the reference distribution are passed in; the same
`build_report` serves the CLI, the batch ranking and the HTTP API, so they give the same report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

from notecheck.model.classifier import Prediction
from notecheck.model.errors import ConfigError
from notecheck.model.kol.engagement import EngagementSignal, ReferenceDistribution, engagement_signals
from notecheck.model.kol.evidence import Evidence, find_evidence
from notecheck.model.kol.grade import Grade, grade
from notecheck.model.kol.rules import (
    Credit,
    PlatformRules,
    RuleCheck,
    credit_score,
    eligibility_checks,
    reference_date,
    wilson_interval,
)
from notecheck.model.schema import VERDICTS, Note, is_commercial

__all__ = ["KolReport", "PlatformRules", "Profile", "build_report", "build_reports", "wilson_interval"]


class Predicts(Protocol):
    """Anything with `Classifier.predict`'s shape (the classifier, the serving batcher's model, a test fake)."""

    def predict(self, notes: Sequence[Note | str]) -> list[Prediction]: ...


@dataclass(frozen=True)
class Profile:
    """What is known of an account beside its notes (`data/profiles.jsonl` rows)."""

    author_id: str
    followers: int | None = None
    account_type: str | None = None
    lang: str | None = None

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], where: str = "profile") -> Profile:
        author = row.get("author_id")
        if not isinstance(author, str) or not author:
            raise ConfigError(f"{where}.author_id: must be a non-empty string")
        followers = row.get("followers")
        if followers is not None and (isinstance(followers, bool) or not isinstance(followers, int) or followers < 0):
            raise ConfigError(f"{where}.followers: must be a non-negative whole number, got {followers!r}")
        kind, lang = row.get("account_type"), row.get("lang")
        return cls(author, followers, None if kind is None else str(kind), None if lang is None else str(lang))

    def to_dict(self) -> dict[str, Any]:
        return {"followers": self.followers, "account_type": self.account_type, "lang": self.lang}


@dataclass(frozen=True)
class KolReport:
    """One account's report. `to_dict()` is what the CLI prints with `--json` and the API returns."""

    author_id: str
    model_version: str | None
    as_of: dt.date | None
    as_of_source: str
    profile: Profile | None
    verdicts: dict[str, int]
    undisclosed_interval: tuple[float, float]
    commercial: int
    clearly_disclosed: int
    credit: Credit
    eligibility: tuple[RuleCheck, ...]
    signals: tuple[EngagementSignal, ...]
    reference: ReferenceDistribution | None
    grade: Grade
    evidence: tuple[Evidence, ...]
    signals_from: str
    rules: PlatformRules
    mean_exposure: float | None = None  # average exposure of all the author's notes (reach), None if unknown
    under_review: tuple[str, ...] = ()  # undisclosed verdicts not confident enough (not flagged) to cost credit

    @property
    def notes_scored(self) -> int:
        return sum(self.verdicts.values())

    @property
    def undisclosed(self) -> int:
        return self.verdicts["undisclosed_ad"]

    @property
    def commercial_share(self) -> float | None:
        return self.commercial / self.notes_scored if self.notes_scored else None

    @property
    def undisclosed_share(self) -> float | None:
        return self.undisclosed / self.notes_scored if self.notes_scored else None

    @property
    def compliance(self) -> float | None:
        """Share of predicted-commercial notes whose disclosure is clear; None without commercial notes."""
        return self.clearly_disclosed / self.commercial if self.commercial else None

    @property
    def eligible(self) -> bool:
        return all(check.passed for check in self.eligibility)

    @property
    def engagement_flags(self) -> list[str]:
        return [s.name for s in self.signals if s.flagged]

    def to_dict(self) -> dict[str, Any]:
        low, high = self.undisclosed_interval
        ref = self.reference
        return {
            "author_id": self.author_id,
            "model_version": self.model_version,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "as_of_source": self.as_of_source,
            "profile": None if self.profile is None else self.profile.to_dict(),
            "notes_scored": self.notes_scored,
            "mean_exposure": _round(self.mean_exposure),
            "verdicts": dict(self.verdicts),
            "commercial_share": _round(self.commercial_share),
            "undisclosed": {
                "count": self.undisclosed,
                "share": _round(self.undisclosed_share),
                "ci_low": round(low, 6),
                "ci_high": round(high, 6),
                "z": self.rules.z,
            },
            "disclosure_compliance": {
                "commercial": self.commercial,
                "clearly_disclosed": self.clearly_disclosed,
                "share": _round(self.compliance),
            },
            "credit": self.credit.to_dict(),
            "under_review": {"count": len(self.under_review), "note_ids": list(self.under_review)},
            "eligibility": {"eligible": self.eligible, "rules": [c.to_dict() for c in self.eligibility]},
            "engagement": {
                "reference": (
                    {"source": ref.source, "method": ref.method, "n_authors": ref.n_authors}
                    if ref is not None
                    else {"source": "fixed defaults (no reference distribution)", "method": "fixed", "n_authors": 0}
                ),
                "flags": self.engagement_flags,
                "signals": [s.to_dict() for s in self.signals],
            },
            **self.grade.to_dict(),
            "evidence": {"signals_from": self.signals_from, "notes": [e.to_dict() for e in self.evidence]},
            "rules": self.rules.to_dict(),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _mean_exposure(notes: Sequence[Note]) -> float | None:
    values = [float(v) for n in notes if _is_number(v := n.metadata.get("exposure"))]
    return sum(values) / len(values) if values else None


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build_report(
    author_id: str,
    notes: Sequence[Note],
    predictions: Sequence[Prediction] | None = None,
    *,
    classifier: Predicts | None = None,
    profile: Profile | None = None,
    rules: PlatformRules | None = None,
    reference: ReferenceDistribution | None = None,
    as_of: dt.date | None = None,
    as_of_source: str | None = None,
    model_version: str | None = None,
) -> KolReport:
    """The report of one author from their notes and `predictions` (or `classifier.predict(notes)`).

    `as_of` ends the exposure window; by default the newest `posted_at` among `notes` (callers with a
    whole dataset pass the dataset's newest date, and `as_of_source` to say so). Without `reference`,
    engagement thresholds are the documented fixed defaults of `model.engagement`.
    """
    rules = rules or PlatformRules()
    if predictions is None:
        if classifier is None:
            raise ValueError("build_report needs predictions or a classifier")
        predictions = classifier.predict(list(notes))
        model_version = model_version or getattr(getattr(classifier, "metadata", None), "version", None)
    if len(predictions) != len(notes):
        raise ValueError(f"{len(predictions)} predictions for {len(notes)} notes")
    verdicts = {v: 0 for v in VERDICTS}
    for p in predictions:
        verdicts[p.verdict] += 1
    commercial = [p for p in predictions if is_commercial(p.verdict)]
    clear = sum(1 for p in commercial if p.disclosure.rating == "clear")
    # a private order costs all the credit, so only confident verdicts (the `flag` action) count; the other
    # undisclosed verdicts and the notes sent to review are listed as under review, costing nothing yet
    private_orders, under_review = [], []
    for i, (n, p) in enumerate(zip(notes, predictions, strict=True)):
        note_id = n.id or f"#{i}"
        confident = p.action == "flag" and p.p_commercial >= rules.private_order_min_p
        if p.verdict == "undisclosed_ad" and confident:
            private_orders.append(note_id)
        elif p.verdict == "undisclosed_ad":
            under_review.append(note_id)
    interval = wilson_interval(verdicts["undisclosed_ad"], len(notes), rules.z)
    credit = credit_score(private_orders, rules)
    date, date_source = reference_date(notes, as_of)
    date_source = as_of_source or date_source
    followers = profile.followers if profile is not None else None
    signals = tuple(engagement_signals(notes, followers, reference))
    evidence, signals_from = find_evidence(notes, predictions)
    return KolReport(
        author_id=author_id,
        model_version=model_version,
        as_of=date,
        as_of_source=date_source,
        profile=profile,
        verdicts=verdicts,
        undisclosed_interval=interval,
        commercial=len(commercial),
        clearly_disclosed=clear,
        credit=credit,
        eligibility=tuple(eligibility_checks(notes, followers, credit.score, date, rules)),
        signals=signals,
        reference=reference,
        grade=grade(len(notes), verdicts["undisclosed_ad"], interval, credit, signals, rules, len(under_review)),
        evidence=evidence,
        signals_from=signals_from,
        rules=rules,
        mean_exposure=_mean_exposure(notes),
        under_review=tuple(under_review),
    )


def build_reports(
    notes: Sequence[Note],
    predictions: Sequence[Prediction],
    profiles: Mapping[str, Profile] | None = None,
    *,
    rules: PlatformRules | None = None,
    reference: ReferenceDistribution | None = None,
    as_of: dt.date | None = None,
    as_of_source: str | None = None,
    model_version: str | None = None,
) -> list[KolReport]:
    """One report per `author_id` (sorted), all with the same reference date: `as_of`, else the newest
    `posted_at` in all `notes`. Notes without an author are left out."""
    if len(predictions) != len(notes):
        raise ValueError(f"{len(predictions)} predictions for {len(notes)} notes")
    date, date_source = reference_date(notes, as_of)
    date_source = as_of_source or date_source
    groups: dict[str, tuple[list[Note], list[Prediction]]] = {}
    for note, prediction in zip(notes, predictions, strict=True):
        if note.author_id:
            own, preds = groups.setdefault(note.author_id, ([], []))
            own.append(note)
            preds.append(prediction)
    profiles = profiles or {}
    return [
        build_report(
            author,
            own,
            preds,
            profile=profiles.get(author),
            rules=rules,
            reference=reference,
            as_of=date,
            as_of_source=date_source,
            model_version=model_version,
        )
        for author, (own, preds) in sorted(groups.items())
    ]
