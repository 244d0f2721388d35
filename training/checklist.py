"""A behavioural test suite in the style of CheckList (Ribeiro et al., ACL 2020).

Cases are built from the templates in `training.checklist_cases` (tests, never training data) and grouped by
capability. Each capability reports a pass rate; `notecheck checklist --model DIR` prints them.

- MFT cases pass when the verdict is the expected one;
- INV cases (two notes that differ in what must not matter) pass when P moves by less than `INV_TOLERANCE`;
- DIR cases (a note before and after a change) pass when P moves the expected way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from notecheck.model.schema import Note, is_commercial
from notecheck.training import checklist_cases as c

INV_TOLERANCE = 0.1
Kind = Literal["mft", "inv", "dir"]


@dataclass(frozen=True)
class Case:
    """One behavioural test: `notes` is one note (MFT) or a (before, after) pair (INV, DIR)."""

    capability: str
    kind: Kind
    lang: str
    notes: tuple[Note, ...]
    expect: str  # MFT: "commercial" | "genuine" | "disclosed_ad"; INV: "same"; DIR: "up" | "down"


#: capability -> what it checks, in report order
CAPABILITIES: dict[str, str] = {
    "mft_funnel": "MFT: a funnel alone (评论区扣1, link in bio, a code) makes a note commercial",
    "mft_complaint": "MFT: a complaint is genuine",
    "mft_disclosure": "MFT: a clear disclosure makes a disclosed_ad",
    "inv_title": "INV: dropping the title moves P by < 0.1",
    "inv_swap": "INV: swapping names, cities, brands, prices or emoji moves P by < 0.1",
    "dir_add_funnel": "DIR: adding a funnel or code raises P",
    "dir_remove_funnel": "DIR: removing the funnel lowers P",
    "dir_add_sponsor": "DIR: adding a sponsor line raises P",
}


def _cycle(items: Sequence[str], i: int, stride: int = 1) -> str:
    return items[(i * stride) % len(items)]


def _lang_slots(lang: str) -> dict[str, Any]:
    zh = lang == "zh"
    return {
        "products": c.ZH_PRODUCTS if zh else c.EN_PRODUCTS,
        "effects": c.ZH_EFFECTS if zh else c.EN_EFFECTS,
        "funnels": c.ZH_FUNNELS if zh else c.EN_FUNNELS,
        "disclosures": c.ZH_DISCLOSURES if zh else c.EN_DISCLOSURES,
        "complaints": c.ZH_COMPLAINTS if zh else c.EN_COMPLAINTS,
        "bodies": c.ZH_GENUINE_BODIES if zh else c.EN_GENUINE_BODIES,
        "titles": c.ZH_TITLES if zh else c.EN_TITLES,
        "sponsors": c.ZH_SPONSOR_LINES if zh else c.EN_SPONSOR_LINES,
        "inv": c.ZH_INV_TEMPLATES if zh else c.EN_INV_TEMPLATES,
        "swaps": {
            "name": c.ZH_NAMES if zh else c.EN_NAMES,
            "city": c.ZH_CITIES if zh else c.EN_CITIES,
            "brand": c.ZH_BRANDS if zh else c.EN_BRANDS,
            "price": c.ZH_PRICES if zh else c.EN_PRICES,
            "emoji": c.EMOJI,
        },
        "sep": "，" if zh else ", ",
    }


def _genuine(s: dict[str, Any], i: int) -> str:
    return _cycle(s["bodies"], i).format(p=_cycle(s["products"], i, 3), e=_cycle(s["effects"], i, 7))


def _lang_cases(lang: str) -> list[Case]:
    s = _lang_slots(lang)
    sep = s["sep"]
    out: list[Case] = []

    def add(capability: str, kind: Kind, expect: str, *texts: tuple[str, str]) -> None:
        notes = tuple(Note(text=t, title=title, lang=lang) for title, t in texts)
        out.append(Case(capability, kind, lang, notes, expect))

    for i in range(40):
        claim = f"{_cycle(s['products'], i)}{'' if lang == 'zh' else ': '}{_cycle(s['effects'], i, 3)}"
        add("mft_funnel", "mft", "commercial", ("", f"{claim}{sep}{_cycle(s['funnels'], i, 5)}"))
    for i in range(30):
        add("mft_complaint", "mft", "genuine", ("", _cycle(s["complaints"], i).format(p=_cycle(s["products"], i, 3))))
    for i in range(25):
        add("mft_disclosure", "mft", "disclosed_ad", ("", f"{_cycle(s['disclosures'], i)} {_genuine(s, i)}"))
    for i in range(20):
        body = _genuine(s, i) if i % 2 else f"{_genuine(s, i)}{sep}{_cycle(s['funnels'], i, 3)}"
        add("inv_title", "inv", "same", (_cycle(s["titles"], i), body), ("", body))
    kinds = list(s["swaps"])
    for i in range(30):
        template, kind = _cycle(s["inv"], i), kinds[i % len(kinds)]
        fill = {k: v[0][0] for k, v in s["swaps"].items()}
        before = template.format(**fill)
        after = template.format(**{**fill, kind: s["swaps"][kind][(i // len(kinds)) % 3][1]})
        if kind != "name":  # vary the base note too, so the swap is not always made on the same sentence
            extra = s["swaps"]["name"][(i // len(kinds)) % 3][0]
            before, after = (x.replace(fill["name"], extra) for x in (before, after))
        add("inv_swap", "inv", "same", ("", before), ("", after))
    for i in range(25):
        body = _genuine(s, i + 3)
        add("dir_add_funnel", "dir", "up", ("", body), ("", f"{body}{sep}{_cycle(s['funnels'], i, 3)}"))
    for i in range(20):
        body = _genuine(s, i + 11)
        add("dir_remove_funnel", "dir", "down", ("", f"{_cycle(s['funnels'], i)}{sep}{body}"), ("", body))
    for i in range(15):
        body = _genuine(s, i + 5)
        add("dir_add_sponsor", "dir", "up", ("", body), ("", f"{_cycle(s['sponsors'], i)} {body}"))
    return out


def build_cases() -> list[Case]:
    """Every case, Chinese and English, in a fixed order."""
    return _lang_cases("zh") + _lang_cases("en")


class Predicts(Protocol):
    def predict(self, notes: Sequence[Note]) -> Any: ...


@dataclass
class CapabilityResult:
    capability: str
    description: str
    cases: int
    passed: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0


def _passes(case: Case, preds: Sequence[Any]) -> bool:
    if case.kind == "mft":
        verdict = preds[0].verdict
        return is_commercial(verdict) if case.expect == "commercial" else verdict == case.expect
    delta = preds[1].p_commercial - preds[0].p_commercial
    if case.kind == "inv":
        return abs(delta) < INV_TOLERANCE
    return delta > 0 if case.expect == "up" else delta < 0


def run_checklist(classifier: Predicts, cases: Sequence[Case] | None = None) -> list[CapabilityResult]:
    """Score every case's notes in one batch and report each capability's pass rate (with failures)."""
    cases = list(cases if cases is not None else build_cases())
    flat = [n for case in cases for n in case.notes]
    preds = classifier.predict(flat)
    results: dict[str, CapabilityResult] = {}
    at = 0
    grouped = defaultdict(list)
    for case in cases:
        mine = preds[at : at + len(case.notes)]
        at += len(case.notes)
        grouped[case.capability].append((case, mine))
    for capability in [k for k in CAPABILITIES if k in grouped] + [k for k in grouped if k not in CAPABILITIES]:
        result = CapabilityResult(capability, CAPABILITIES.get(capability, capability), 0, 0)
        for case, mine in grouped[capability]:
            result.cases += 1
            if _passes(case, mine):
                result.passed += 1
            elif len(result.failures) < 5:
                result.failures.append(
                    {
                        "lang": case.lang,
                        "notes": [asdict(n) | {"metadata": None} for n in case.notes],
                        "p": [round(p.p_commercial, 4) for p in mine],
                        "verdicts": [p.verdict for p in mine],
                    }
                )
        results[capability] = result
    return list(results.values())


def markdown(results: Sequence[CapabilityResult]) -> str:
    lines = ["| capability | cases | pass rate |", "|---|---|---|"]
    lines += [f"| {r.description} | {r.cases} | {r.pass_rate:.1%} |" for r in results]
    total, passed = sum(r.cases for r in results), sum(r.passed for r in results)
    lines.append(f"| **all** | **{total}** | **{passed / max(total, 1):.1%}** |")
    return "\n".join(lines)


def save(results: Sequence[CapabilityResult], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = [asdict(r) | {"pass_rate": r.pass_rate} for r in results]
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
