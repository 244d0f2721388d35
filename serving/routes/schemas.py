"""Request and response bodies of the HTTP API, named by role: `…Request` comes in, `…Public` goes out.

The per-deployment limits (notes per request, characters per note) are checked by `serving.deps` against
`Settings`, so they follow `NOTECHECK_MAX_*` instead of being frozen into the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from notecheck.model.classifier import Prediction
from notecheck.model.schema import Action, Note, Rating, Verdict, lone_surrogate


def _valid_unicode(value: str) -> str:
    at = lone_surrogate(value)
    if at is not None:
        raise ValueError(f"not valid Unicode: a lone surrogate at character {at}")
    return value


#: Note text as the model can read it: a lone surrogate (`"\\ud800"` in JSON) is refused here with a 422
#: naming the field, so it never reaches a batch shared with other clients' notes.
NoteText = Annotated[str, AfterValidator(_valid_unicode)]

#: What the schema says a text with something to read matches: one character Python's `str.strip()` keeps
#: (a JSON Schema validator with another regex flavour may differ on a few control characters).
NON_BLANK = r"\S"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("empty text: only whitespace")
    return value


#: Schema extension on an array of objects: the property whose value no two items share (JSON Schema's
#: `uniqueItems` compares whole items, so it cannot say "each note id once").
UNIQUE_BY = "x-unique-by"

#: A note text that must have something to read (a 422 naming the field otherwise); its schema says so.
FilledText = Annotated[
    NoteText, AfterValidator(_not_blank), Field(min_length=1, json_schema_extra={"pattern": NON_BLANK})
]


class RequestBody(BaseModel):
    """A request body: unknown keys are refused, and numbers and flags are the types the schema says (strict:
    `true` is not the count 1, `0` is not false, `"7"` is not 7), with JSON Schema's integers (7.0 is 7)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers_are_integers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in data.items()}
        return data


class NoteIn(RequestBody):
    """One note to check. `id` is the caller's, echoed back so answers can be matched."""

    id: str = Field(min_length=1, max_length=200, examples=["n-123"])
    text: NoteText = Field(description="the note body (at most NOTECHECK_MAX_NOTE_CHARS characters, 20000 by default)")
    title: NoteText | None = Field(None, description="the note title, if it has one")
    author_id: str | None = Field(None, max_length=200)
    lang: Literal["zh", "en"] | None = None
    exposure: int | None = Field(None, ge=0, le=10**12, description="how many times the note was seen (review order)")
    category: str | None = Field(None, max_length=64, description="the note's topic, for the review stats")

    def to_note(self) -> Note:
        return Note(text=self.text, id=self.id, title=self.title or "", author_id=self.author_id, lang=self.lang)


class PredictRequest(RequestBody):
    """Up to NOTECHECK_MAX_NOTES_PER_REQUEST notes (64 by default); answers come back in the same order."""

    notes: list[NoteIn] = Field(min_length=1)
    enqueue: bool = Field(False, description="put the notes answered `review` or `flag` into the review queue")


class MarkerPublic(BaseModel):
    """A disclosure marker: `text == <field>[start:end]` of the note as sent."""

    start: int
    end: int
    text: str
    strength: Literal["strong", "weak"]
    field: Literal["title", "text"]


class DisclosurePublic(BaseModel):
    rating: Rating
    reason: str
    markers: list[MarkerPublic]


class SignalEffectPublic(BaseModel):
    """How much one signal group the note shows moved its P (log-odds, and P with vs without it)."""

    feature: str
    logit: float
    p_delta: float


class PredictionPublic(BaseModel):
    """One note's answer. Every key is always present: a note that could not be scored has `error` set and
    the score fields null; a scored note has `error` null."""

    id: str
    verdict: Verdict | None = None
    p_commercial: float | None = None  # calibrated on the model and the note's rule signals together
    p_model: float | None = None  # the model's own calibrated P, before the signals
    signal_effects: list[SignalEffectPublic] | None = None  # which signals moved P, largest first
    action: Action | None = None
    disclosure: DisclosurePublic | None = None
    truncated: bool | None = None  # the model saw only the start of the note
    n_tokens: int | None = None
    error: str | None = None

    @classmethod
    def from_prediction(cls, note_id: str, p: Prediction) -> PredictionPublic:
        d = p.disclosure
        return cls(
            id=note_id,
            verdict=p.verdict,
            p_commercial=round(p.p_commercial, 6),
            p_model=round(p.p_commercial if p.p_model is None else p.p_model, 6),
            signal_effects=[SignalEffectPublic(**e.to_dict()) for e in p.signal_effects],
            action=p.action,
            disclosure=DisclosurePublic(
                rating=d.rating,
                reason=d.reason,
                markers=[MarkerPublic(**m.to_dict()) for m in d.markers],  # type: ignore[arg-type]
            ),
            truncated=p.truncated,
            n_tokens=p.n_tokens,
        )


class EnqueuedPublic(BaseModel):
    """What `"enqueue": true` did: notes newly queued for review, and those already in the queue (by id)."""

    added: int
    already: int
    not_queued: int  # answered `allow` (or an id too long to queue)


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[PredictionPublic]
    enqueued: EnqueuedPublic | None = None  # only when the request asked for it


class ThresholdsPublic(BaseModel):
    commercial: float
    review: float
    flag: float


class LimitsPublic(BaseModel):
    max_notes_per_request: int
    max_note_chars: int
    max_body_bytes: int


class InfoPublic(BaseModel):
    """What is being served: enough for a client to interpret scores and to respect the limits."""

    model_version: str
    base_model: str
    backend: str
    labels: list[str]  # the classifier's classes, in id order
    verdicts: list[str]
    thresholds: ThresholdsPublic
    temperature: float
    max_length: int  # tokens the model reads; longer notes come back `truncated`
    runtime: str
    limits: LimitsPublic


class FieldErrorPublic(BaseModel):
    """One invalid field: `field` is the dotted path, e.g. `body.notes.3.text`."""

    field: str
    msg: str
    type: str


class ErrorPublic(BaseModel):
    """Every error body: a sentence, or one entry per invalid field."""

    detail: str | list[FieldErrorPublic]


#: Every error status the API answers, and why. A route lists the ones it can answer with `error_responses`,
#: so its OpenAPI documents each status the server may send, from this one table.
ERROR_STATUSES: dict[int, str] = {
    400: "malformed JSON, or a body that is not UTF-8 (field `body`)",
    401: "missing or invalid API key",
    413: "body over NOTECHECK_MAX_BODY_BYTES",
    422: "invalid field, named by its path (e.g. body.notes.3.text)",
    429: "queue full: retry after the Retry-After header's seconds",
    501: "the served model cannot do this",
    503: "model not ready: retry after the Retry-After header's seconds",
}


def error_responses(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that answers these error statuses, each with an `ErrorPublic` body;
    `described` gives a status a description of its own on this route.

    >>> sorted(error_responses(401, 503))
    [401, 503]
    """
    described = described or {}
    return {
        status: {"model": ErrorPublic, "description": described.get(status, ERROR_STATUSES[status])}
        for status in statuses
    }


#: What a route that reads a JSON body and goes through the prediction batcher can answer.
BATCHED_BODY_ERRORS = (400, 401, 413, 422, 429, 503)


class HealthPublic(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None
