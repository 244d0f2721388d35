"""`POST /v1/explain`: why each note got its verdict (word evidence that is true of the model, rule signals).

Explanations are CPU heavy (Integrated Gradients runs the model ~24 times per note), so they run in a worker
thread, one request at a time per process, and never through the prediction batcher: a burst of explain
requests slows explanations, not `/v1/predict`. At most `MAX_EXPLAIN_NOTES` notes per request.
`?format=html` answers a standalone HTML page with each note highlighted.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from notecheck.model.classifier import Classifier
from notecheck.model.explain import TARGET, Explainer, Explanation, ExplanationError
from notecheck.model.highlight import html_page
from notecheck.model.options import ExplainMethod
from notecheck.model.schema import Action, Verdict
from notecheck.serving.deps import (
    PROTECTED,
    ClassifierDep,
    SettingsDep,
    check_note_limits,
    explain_slots,
    unless_disconnected,
)
from notecheck.serving.routes.predict import EMPTY
from notecheck.serving.routes.schemas import NoteIn, RequestBody, error_responses

router = APIRouter(prefix="/v1", dependencies=PROTECTED, tags=["explain"])
MAX_EXPLAIN_NOTES = 64  # the schema's ceiling; the deployment's limit is `Settings.max_explain_notes`


class ExplainRequest(RequestBody):
    """Up to `NOTECHECK_MAX_EXPLAIN_NOTES` notes (8); `method` picks the attribution (see `model.explain`),
    `top_k` how many evidence words."""

    notes: list[NoteIn] = Field(min_length=1, max_length=MAX_EXPLAIN_NOTES)
    method: ExplainMethod = "ig"
    top_k: int = Field(8, ge=1, le=64)


class EvidencePublic(BaseModel):
    """A word of the note as sent (`text == <field>[start:end]`) and its score in calibrated log-odds."""

    start: int
    end: int
    text: str
    field: Literal["title", "text"]
    score: float


class SignalPublic(BaseModel):
    """A rule signal (disclosure marker, purchase funnel, price, product, call to action) in the note as sent."""

    kind: Literal["disclosure", "funnel", "price", "product", "call_to_action", "giveaway"]
    start: int
    end: int
    text: str
    field: Literal["title", "text"]
    detail: str


class ExplanationPublic(BaseModel):
    """One note's answer. Every key is always present; a blank note has `error` set and the rest null/empty."""

    id: str
    verdict: Verdict | None = None
    p_commercial: float | None = None
    action: Action | None = None
    method: str
    model_version: str
    evidence: list[EvidencePublic] = Field(default_factory=list)  # strongest first
    signals: list[SignalPublic] = Field(default_factory=list)
    completeness_gap: float | None = None  # IG: how far the scores' sum is from f(note) - f(baseline)
    error: str | None = None

    @classmethod
    def from_explanation(cls, note_id: str, e: Explanation) -> ExplanationPublic:
        p = e.prediction
        return cls(
            id=note_id,
            verdict=p.verdict,
            p_commercial=round(p.p_commercial, 6),
            action=p.action,
            method=e.method,
            model_version=e.model_version,
            evidence=[EvidencePublic(**w.to_dict()) for w in e.evidence],
            signals=[SignalPublic(**s.to_dict()) for s in e.signals],  # type: ignore[arg-type]
            completeness_gap=None if e.completeness_gap is None else round(e.completeness_gap, 6),
        )


class ExplainResponse(BaseModel):
    model_version: str
    method: str
    target: str  # what the scores explain
    explanations: list[ExplanationPublic]


def limited_explain_request(body: ExplainRequest, settings: SettingsDep) -> ExplainRequest:
    if len(body.notes) > settings.max_explain_notes:
        msg = f"at most {settings.max_explain_notes} notes per explain request, got {len(body.notes)}"
        raise RequestValidationError([{"loc": ("body", "notes"), "msg": msg, "type": "too_long"}])
    check_note_limits(body.notes, settings)
    return body


ExplainRequestDep = Annotated[ExplainRequest, Depends(limited_explain_request)]
_errors = error_responses(
    400,
    401,
    413,
    422,
    501,
    503,
    described={
        422: "invalid field, named by its path (e.g. body.notes); a method the model cannot do (body.method)",
        501: "the served model cannot be explained",
    },
)
_errors[200] = {"content": {"text/html": {}}, "description": "JSON, or an HTML page with ?format=html"}


@router.post("/explain", response_model=ExplainResponse, responses=_errors)
async def explain(
    request: Request,
    body: ExplainRequestDep,
    model: ClassifierDep,
    format: Annotated[Literal["json", "html"], Query(description="json (default) or html")] = "json",
) -> Response | ExplainResponse:
    """Verdict, P(commercial), action, the top evidence words and the rule signals of each note, in order.

    Scores are the words' shares of the note's calibrated log-odds of commercial (see `target`).
    """
    if not isinstance(model, Classifier):
        raise HTTPException(501, "the served model cannot be explained")
    notes = body.notes
    wanted = [i for i, note in enumerate(notes) if note.text.strip()]
    explainer = Explainer(model)
    work = _explain(request, explainer, [notes[i].to_note() for i in wanted], body.method, body.top_k)
    explanations = await unless_disconnected(request, work)
    if format == "html":
        return HTMLResponse(_page(notes, wanted, explanations))
    version = model.metadata.version
    answers = [ExplanationPublic(id=n.id, method=body.method, model_version=version, error=EMPTY) for n in notes]
    for i, e in zip(wanted, explanations, strict=True):
        answers[i] = ExplanationPublic.from_explanation(notes[i].id, e)
    return ExplainResponse(model_version=version, method=body.method, target=TARGET, explanations=answers)


async def _explain(
    request: Request, explainer: Explainer, notes: list[Any], method: str, top_k: int
) -> list[Explanation]:
    """Explain in a worker thread, at most `CONCURRENT_EXPLANATIONS` at a time in this process."""
    async with explain_slots(request):
        try:
            return await asyncio.to_thread(explainer.explain, notes, method, top_k)
        except ExplanationError as exc:
            raise RequestValidationError([{"loc": ("body", "method"), "msg": str(exc), "type": "value_error"}]) from exc


def _page(notes: Sequence[NoteIn], wanted: list[int], explanations: list[Explanation]) -> str:
    blank = [n.id for i, n in enumerate(notes) if i not in wanted]
    footer = f"<p>not explained ({EMPTY}): {html.escape(', '.join(blank))}</p>" if blank else ""
    return html_page(explanations, footer=footer)
