"""`POST /v1/kol/check`: one account's KOL authenticity report, the same `KolReport.to_dict()` as the CLI's
`notecheck kol FILE --author ID --json` for the same notes, profile, rules and date.

Predictions go through the app's batcher (`Classifier.predict`); the report is built by `model.kol`.
Engagement thresholds come from the reference distribution of the bundled data, computed once per process
(on the first KOL request, off the event loop), or the fixed defaults when that data is not there; the
report names which. Tests (or a deployment) can set `app.state.kol_reference` (None: fixed defaults).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from notecheck.model.errors import ConfigError
from notecheck.model.kol.check import PlatformRules, Profile, build_report
from notecheck.model.kol.data import bundled_reference
from notecheck.model.kol.dates import FIRST_DATE, LAST_DATE, date_problem
from notecheck.model.kol.engagement import ReferenceDistribution
from notecheck.model.schema import Note
from notecheck.serving.deps import PROTECTED, BatcherDep, ClassifierDep, MetricsDep, SettingsDep, unless_disconnected
from notecheck.serving.routes.schemas import (
    BATCHED_BODY_ERRORS,
    UNIQUE_BY,
    FilledText,
    NoteText,
    RequestBody,
    error_responses,
)
from notecheck.serving.settings import Settings

router = APIRouter(prefix="/v1", dependencies=PROTECTED, tags=["kol"])

MAX_KOL_NOTES = 5000  # the schema's ceiling; the deployment's limit is `Settings.max_kol_notes`
MAX_COMMENTS = 200  # comment texts per note
MAX_COMMENT_CHARS = 2000

Comment = Annotated[str, StringConstraints(max_length=MAX_COMMENT_CHARS)]
Count = Annotated[int, Field(ge=0, strict=True)]  # strict: `true` is not a count (see `RequestBody`)


def _in_range(day: dt.date) -> dt.date:
    problem = date_problem(day)
    if problem is not None:
        raise ValueError(problem)
    return day


#: `FIRST_DATE .. LAST_DATE` (one century) in the schema's words, so that a valid date by the schema is one
#: the server takes (JSON Schema's `format: date` has no range).
CENTURY = rf"^{FIRST_DATE.year // 100}[0-9]{{2}}-"

#: A date the KOL rules accept (`model.kol.dates`): a 422 naming the field otherwise, never a failed report.
Day = Annotated[dt.date, AfterValidator(_in_range), Field(json_schema_extra={"pattern": CENTURY})]
DAYS = f"YYYY-MM-DD, {FIRST_DATE} to {LAST_DATE}"


class KolNoteIn(RequestBody):
    """One of the account's notes, with the engagement numbers the platform shows."""

    model_config = ConfigDict(strict=False)  # lax for dates (JSON strings); counts are strict by their type

    id: str = Field(min_length=1, max_length=200, examples=["n-123"])
    text: FilledText = Field(description="the note body, not blank (at most NOTECHECK_MAX_NOTE_CHARS characters)")
    title: NoteText | None = None
    posted_at: Day | None = Field(None, description=DAYS)
    exposure: Count | None = Field(None, description="views")
    likes: Count | None = None
    collects: Count | None = None
    comments: Count | None = None
    comment_texts: list[Comment] | None = Field(None, max_length=MAX_COMMENTS)

    def to_note(self, author_id: str) -> Note:
        metadata: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("exposure", "likes", "collects", "comments", "comment_texts")
            if getattr(self, name) is not None
        }
        if self.posted_at is not None:
            metadata["posted_at"] = self.posted_at.isoformat()
        return Note(text=self.text, id=self.id, title=self.title or "", author_id=author_id, metadata=metadata)


class KolProfileIn(RequestBody):
    """What is known of the account."""

    followers: Count | None = None
    account_type: str | None = Field(None, max_length=100)
    lang: str | None = Field(None, max_length=20)


class KolCheckRequest(RequestBody):
    """An account's notes (1 to 500) and what else is known of it; `rules` overrides `PlatformRules` fields."""

    model_config = ConfigDict(strict=False)  # lax for the date (a JSON string); `rules` are checked below

    author_id: str = Field(min_length=1, max_length=200)
    profile: KolProfileIn | None = None
    notes: list[KolNoteIn] = Field(
        min_length=1,
        max_length=MAX_KOL_NOTES,
        description="the account's notes, each `id` once (a repeated id is refused with 422)",
        json_schema_extra={UNIQUE_BY: "id"},
    )
    rules: Annotated[dict[str, Any], WithJsonSchema(PlatformRules.json_schema())] | None = Field(
        None, examples=[{"min_followers": 10000}]
    )
    as_of: Day | None = Field(None, description=f"reference date, {DAYS} (default: the newest posted_at)")


_errors = error_responses(
    *BATCHED_BODY_ERRORS,
    described={422: "invalid field, named by its path (e.g. body.notes.3.text, body.rules.min_followers)"},
)


_bundled: list[ReferenceDistribution | None] = []  # computed once per process, on first use
_bundled_lock = threading.Lock()


def bundled_reference_once() -> ReferenceDistribution | None:
    with _bundled_lock:
        if not _bundled:
            _bundled.append(bundled_reference())
        return _bundled[0]


async def get_reference(request: Request) -> ReferenceDistribution | None:
    """`app.state.kol_reference` when set (None there means the fixed defaults), else the bundled data's."""
    state = request.app.state
    if not hasattr(state, "kol_reference"):
        state.kol_reference = await asyncio.to_thread(bundled_reference_once)
    return state.kol_reference  # type: ignore[no-any-return]


def checked_rules(rules: dict[str, Any] | None) -> PlatformRules:
    """`PlatformRules` with the request's overrides, or HTTP 422 naming each bad key (`body.rules.<key>`)."""
    errors = []
    for key, value in (rules or {}).items():
        try:
            PlatformRules.from_dict({key: value})
        except ConfigError as exc:
            reason = str(exc).split(": ", 1)[-1]
            errors.append({"loc": ("body", "rules", key), "msg": reason, "type": "value_error"})
    if errors:
        raise RequestValidationError(errors)
    try:
        return PlatformRules.from_dict(rules)
    except ConfigError as exc:
        raise RequestValidationError([{"loc": ("body", "rules"), "msg": str(exc), "type": "value_error"}]) from exc


def check_notes(body: KolCheckRequest, settings: Settings) -> None:
    """HTTP 422 for over-long texts and repeated note ids, each named by its path (blank texts: `FilledText`)."""
    errors: list[dict[str, Any]] = []
    if len(body.notes) > settings.max_kol_notes:
        msg = f"at most {settings.max_kol_notes} notes per account, got {len(body.notes)}"
        errors.append({"loc": ("body", "notes"), "msg": msg, "type": "too_long"})
    seen: set[str] = set()
    for i, note in enumerate(body.notes):
        for name in ("text", "title"):
            value = getattr(note, name) or ""
            if len(value) > settings.max_note_chars:
                msg = f"at most {settings.max_note_chars} characters, got {len(value)}"
                errors.append({"loc": ("body", "notes", i, name), "msg": msg, "type": "string_too_long"})
        if note.id in seen:
            errors.append({"loc": ("body", "notes", i, "id"), "msg": f"repeated id '{note.id}'", "type": "value_error"})
        seen.add(note.id)
    if errors:
        raise RequestValidationError(errors)


@router.post("/kol/check", responses=_errors)
async def kol_check(
    request: Request,
    body: KolCheckRequest,
    model: ClassifierDep,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The account's KOL authenticity report: undisclosed-ad share with its 95% interval, disclosure
    compliance, credit score, brand-partner eligibility, engagement signals and an overall grade."""
    rules = checked_rules(body.rules)
    check_notes(body, settings)
    request.state.n_notes = len(body.notes)
    notes = [n.to_note(body.author_id) for n in body.notes]
    reference = await get_reference(request)
    predictions = await unless_disconnected(request, batcher.submit(notes))
    metrics.observe_predictions(predictions)
    profile = None
    if body.profile is not None:
        profile = Profile(body.author_id, body.profile.followers, body.profile.account_type, body.profile.lang)
    report = await asyncio.to_thread(
        build_report,
        body.author_id,
        notes,
        predictions,
        profile=profile,
        rules=rules,
        reference=reference,
        as_of=body.as_of,
        model_version=model.metadata.version,
    )
    return report.to_dict()
