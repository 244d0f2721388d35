"""`POST /predict`: the sequence-classification route of text-embeddings-inference (TEI), for its clients and
for `huggingface_hub.InferenceClient(base_url=".../predict").text_classification(...)`.

Same path as `/v1/predict` (route → batcher → `Classifier.predict`), same API keys, limits and error bodies;
only the request and answer shapes are TEI's. Every answer names the model in the `X-Model-Version` header
(TEI's body is a bare list, with no room for it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, ValidatorFunctionWrapHandler, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from notecheck.model.classifier import Prediction
from notecheck.model.schema import CLASSIFIER_LABELS, COMMERCIAL, Note
from notecheck.serving.deps import PROTECTED, BatcherDep, ClassifierDep, MetricsDep, SettingsDep, unless_disconnected
from notecheck.serving.routes.predict import EMPTY, LOGGED_TEXT_CHARS
from notecheck.serving.routes.schemas import BATCHED_BODY_ERRORS, NON_BLANK, RequestBody, error_responses

router = APIRouter(dependencies=PROTECTED, tags=["tei"])
MODEL_VERSION_HEADER = "X-Model-Version"
INPUTS_SHAPE = "a string, a list of strings, or TEI's batch [[string], [string], ...]"
#: What `tei_job` accepts as `inputs`, said in the schema (the model type is looser so that `tei_job` can name
#: each input at fault): texts that are not blank, alone, in a list, or each in a list of its own.
_TEXT: dict[str, Any] = {"type": "string", "pattern": NON_BLANK}
INPUTS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        _TEXT,
        {"type": "array", "items": _TEXT, "minItems": 1},
        {"type": "array", "items": {"type": "array", "items": _TEXT, "minItems": 1, "maxItems": 1}, "minItems": 1},
    ]
}
_P_EDGE = 1e-15  # P is a float64: beyond this distance from 0 or 1 its log-odds are no longer recoverable

_errors = error_responses(
    *BATCHED_BODY_ERRORS, described={422: "invalid field, named by its path (e.g. body.inputs.3)"}
)


class TeiParameters(RequestBody):
    """The `parameters` object of Hugging Face's text-classification task (what `InferenceClient` sends)."""

    function_to_apply: Literal["softmax", "none"] | None = Field(
        default=None, description="softmax: calibrated probabilities (the default); none: raw scores, as `raw_scores`"
    )
    top_k: int | None = Field(default=None, ge=1, description="keep only the k highest-scoring labels")


class TeiPredictRequest(RequestBody):
    """TEI's `/predict` body, plus Hugging Face's `parameters`. Texts are notes' bodies (no title)."""

    inputs: Annotated[str | list[str] | list[list[str]], WithJsonSchema(INPUTS_SCHEMA)] = Field(
        description="one text, a list of texts, or TEI's batch form [[text], ...] (text pairs are refused)",
        examples=["新买的面霜用了一周，感觉还不错"],
    )
    raw_scores: bool = Field(default=False, description="the model's own logits instead of calibrated probabilities")
    truncate: bool | None = Field(
        default=None,
        description="false: refuse a text longer than the model reads; true or absent: score its start",
    )
    truncation_direction: Literal["right", "left", "Right", "Left"] = Field(
        default="right", description="only right truncation exists (the model reads a note's start); left is refused"
    )
    parameters: TeiParameters | None = Field(
        default=None, description="Hugging Face inference parameters; when present, every answer is a list per input"
    )

    @field_validator("inputs", mode="wrap")
    @classmethod
    def _one_error_for_inputs(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One clear error at `body.inputs` instead of one per member of the union."""
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("inputs_type", f"expected {INPUTS_SHAPE}") from None


class LabelScorePublic(BaseModel):
    """One label of the classifier and its score."""

    label: str = Field(examples=["commercial"])
    score: float = Field(examples=[0.93])


@dataclass(frozen=True)
class TeiJob:
    """A validated request: the texts to score and how to answer."""

    texts: list[str]
    single: bool  # `inputs` was one string: errors name `body.inputs`, not `body.inputs.0`
    per_input: bool  # answer one list per input (a batch, or a Hugging Face client), else one flat list
    raw: bool
    top_k: int | None
    truncate: bool
    left: bool


def tei_job(body: TeiPredictRequest, settings: SettingsDep) -> TeiJob:
    """The texts and options of a request, or HTTP 422 naming each field at fault (e.g. `body.inputs.3`)."""
    single = isinstance(body.inputs, str)
    items: list[str | list[str]] = [body.inputs] if isinstance(body.inputs, str) else list(body.inputs)
    params = body.parameters or TeiParameters()
    errors: list[dict[str, Any]] = []
    if not items:
        errors.append(_error(("body", "inputs"), "at least one input", "too_short"))
    if len(items) > settings.max_notes_per_request:
        msg = f"at most {settings.max_notes_per_request} inputs per request, got {len(items)}"
        errors.append(_error(("body", "inputs"), msg, "too_long"))
    texts = []
    for i, item in enumerate(items):
        loc: tuple[Any, ...] = ("body", "inputs") if single else ("body", "inputs", i)
        if isinstance(item, list) and len(item) != 1:
            msg = "text pairs are not supported: the model reads one note" if len(item) == 2 else "expected [text]"
            errors.append(_error(loc, msg, "value_error"))
            continue
        text = item if isinstance(item, str) else item[0]
        if len(text) > settings.max_note_chars:
            msg = f"at most {settings.max_note_chars} characters, got {len(text)}"
            errors.append(_error(loc, msg, "string_too_long"))
        elif not text.strip():
            errors.append(_error(loc, EMPTY, "string_too_short"))
        texts.append(text)
    raw = body.raw_scores or params.function_to_apply == "none"
    if body.raw_scores and params.function_to_apply == "softmax":
        where = ("body", "parameters", "function_to_apply")
        errors.append(_error(where, "softmax contradicts raw_scores: true", "value_error"))
    if errors:
        raise RequestValidationError(errors)
    return TeiJob(
        texts=texts,
        single=single,
        per_input=not single or body.parameters is not None,
        raw=raw,
        top_k=params.top_k,
        truncate=body.truncate is not False,
        left=body.truncation_direction.lower() == "left",
    )


TeiJobDep = Annotated[TeiJob, Depends(tei_job)]


@router.post(
    "/predict",
    response_model=list[LabelScorePublic] | list[list[LabelScorePublic]],
    responses=_errors,
    summary="Classify texts (text-embeddings-inference compatible)",
)
async def tei_predict(
    request: Request,
    response: Response,
    job: TeiJobDep,
    model: ClassifierDep,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> list[LabelScorePublic] | list[list[LabelScorePublic]]:
    """TEI's `/predict`: for each text, the classifier's labels (`genuine`, `commercial`) with scores,
    highest first.

    **Scores.** By default, the calibrated probabilities `/v1/predict` reports: `commercial` is exactly its
    `p_commercial` (the model and the note's rule signals, calibrated together) and `genuine` is 1 minus it.
    These are the probabilities the verdict is decided from. With `raw_scores: true` (or Hugging Face's
    `function_to_apply: "none"`), the model's own logits: before the calibration temperature and without
    the rule signals, centred on zero (softmax of them is the model's uncalibrated P; the offset both logits
    share changes no probability and is not kept). The moderation verdict (genuine, disclosed_ad,
    undisclosed_ad) needs the disclosure rules too: ask `/v1/predict` for it.

    **Shape.** `inputs` as one string: one list, as TEI answers. A list of strings, or TEI's batch form
    `[[text], ...]`: one list per text, in input order (TEI would read a 2-string list as a text pair;
    pairs are refused here). When the request carries `parameters` (Hugging Face's text-classification
    task, which `InferenceClient.text_classification` always sends), every answer is a list per input, as
    that client expects. `parameters.top_k` keeps the k highest labels.

    **Truncation.** The model reads the start of a note (`max_length` tokens, see `/v1/info`).
    `truncate: false` refuses longer texts with 422, and `truncation_direction: "left"` is refused for them,
    each naming the input (`body.inputs.3`); texts that fit are scored whatever these say.
    """
    request.state.n_notes = len(job.texts)
    if settings.log_text:
        request.state.texts = [t[:LOGGED_TEXT_CHARS] for t in job.texts]
    notes = [Note(text=t) for t in job.texts]
    predictions = await unless_disconnected(request, batcher.submit(notes))
    _check_truncation(job, predictions, model.metadata.max_length)
    metrics.observe_predictions(predictions)
    response.headers[MODEL_VERSION_HEADER] = model.metadata.version
    temperature = model.metadata.temperature
    answers = [label_scores(p, temperature, job.raw)[: job.top_k] for p in predictions]
    return answers if job.per_input else answers[0]


def label_scores(p: Prediction, temperature: float, raw: bool) -> list[LabelScorePublic]:
    """The classifier's labels with calibrated probabilities, or centred raw logits; highest first."""
    if raw:
        half = max(temperature, 1e-6) * _log_odds(p.p_commercial if p.p_model is None else p.p_model) / 2
        commercial, other = half, -half
    else:
        commercial, other = p.p_commercial, 1.0 - p.p_commercial
    scores = [
        LabelScorePublic(label=label, score=round(commercial if i == COMMERCIAL else other, 6))
        for i, label in enumerate(CLASSIFIER_LABELS)
    ]
    return sorted(scores, key=lambda s: s.score, reverse=True)


def _log_odds(p: float) -> float:
    p = min(max(p, _P_EDGE), 1.0 - _P_EDGE)
    return math.log(p) - math.log1p(-p)


def _check_truncation(job: TeiJob, predictions: list[Prediction], max_length: int) -> None:
    """HTTP 422 for each input the model only read the start of, when the request did not allow that."""
    if job.truncate and not job.left:
        return
    errors = []
    for i, p in enumerate(predictions):
        if not p.truncated:
            continue
        loc = ("body", "inputs") if job.single else ("body", "inputs", i)
        if not job.truncate:
            msg = f"{p.n_tokens} tokens, over the {max_length} the model reads; send truncate: true to score its start"
        else:
            msg = f"{p.n_tokens} tokens, over the {max_length} the model reads, and only its start can be kept"
        errors.append(_error(loc, msg, "too_long"))
    if errors:
        raise RequestValidationError(errors)


def _error(loc: tuple[Any, ...], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}
