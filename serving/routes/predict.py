"""`POST /v1/predict`: validate and map; the batcher and `Classifier.predict` do the work."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, Request

from notecheck.model.classifier import Prediction
from notecheck.model.review.entries import Entry
from notecheck.serving.deps import (
    PROTECTED,
    BatcherDep,
    ClassifierDep,
    MetricsDep,
    PredictRequestDep,
    SettingsDep,
    unless_disconnected,
)
from notecheck.serving.model_state import Predictor
from notecheck.serving.review.state import review_state
from notecheck.serving.routes.schemas import (
    BATCHED_BODY_ERRORS,
    EnqueuedPublic,
    NoteIn,
    PredictionPublic,
    PredictResponse,
    error_responses,
)
from notecheck.serving.settings import Settings

router = APIRouter(prefix="/v1", dependencies=PROTECTED, tags=["predict"])
LOGGED_TEXT_CHARS = 500  # with NOTECHECK_LOG_TEXT, how much of each note goes into the request log
EMPTY = "text is empty after trimming whitespace"

_errors = error_responses(*BATCHED_BODY_ERRORS)


@router.post("/predict", response_model=PredictResponse, responses=_errors)
async def predict(
    request: Request,
    body: PredictRequestDep,
    model: ClassifierDep,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> PredictResponse:
    """Verdict, P(commercial), moderation action and disclosure for each note, in input order.

    A note whose text is blank gets `error` instead of a verdict; the others are answered normally.
    """
    notes = body.notes
    _note_for_log(request, notes, settings)
    wanted = [i for i, note in enumerate(notes) if note.text.strip()]
    predictions = await unless_disconnected(request, batcher.submit([notes[i].to_note() for i in wanted]))
    metrics.observe_predictions(predictions)
    answers = [PredictionPublic(id=note.id, error=EMPTY) for note in notes]
    for i, prediction in zip(wanted, predictions, strict=True):
        answers[i] = PredictionPublic.from_prediction(notes[i].id, prediction)
    enqueued = None
    if body.enqueue:
        entries = [_entry(notes[i], p) for i, p in zip(wanted, predictions, strict=True)]
        enqueued = await _enqueue(request, entries, model)
    return PredictResponse(model_version=model.metadata.version, predictions=answers, enqueued=enqueued)


async def _enqueue(request: Request, entries: list[Entry], model: Predictor) -> EnqueuedPublic:
    """Queue the review/flag notes (committed before the answer goes out)."""
    queue = await review_state(request).queue()
    boundary, version = model.metadata.thresholds.commercial, model.metadata.version
    result = await asyncio.to_thread(queue.enqueue, entries, boundary, version, "api")
    return EnqueuedPublic(added=result.added, already=result.already, not_queued=result.not_queued)


def _entry(note: NoteIn, prediction: Prediction) -> Entry:
    return Entry(note.to_note(), prediction, exposure=note.exposure, category=note.category)


def _note_for_log(request: Request, notes: Sequence[NoteIn], settings: Settings) -> None:
    """What the request log line may say about this request (text only when NOTECHECK_LOG_TEXT is on)."""
    request.state.n_notes = len(notes)
    if settings.log_text:
        request.state.texts = [n.text[:LOGGED_TEXT_CHARS] for n in notes]
