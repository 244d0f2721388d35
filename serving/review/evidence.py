"""Word evidence for the note on screen: explained once, when it is first shown, then kept with the item.

Integrated Gradients costs seconds per note on a CPU, too slow to run on every note that is queued but fine for
the one a moderator is about to read. It runs in the same one-at-a-time slot as `/v1/explain`.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request

from notecheck.model.classifier import Classifier
from notecheck.model.explain import Explainer
from notecheck.model.review.queue import ReviewQueue
from notecheck.model.review.tables import ReviewItem
from notecheck.model.schema import Note
from notecheck.serving.deps import explain_slots
from notecheck.serving.model_state import ModelNotReady

log = logging.getLogger(__name__)


def _served(request: Request) -> Classifier | None:
    """The served model when it is ready and can be explained (a `Classifier`), else None."""
    try:
        model = request.app.state.model.serving()[0]
    except ModelNotReady:
        return None
    return model if isinstance(model, Classifier) else None


def _loading(request: Request) -> bool:
    try:
        request.app.state.model.serving()
    except ModelNotReady:
        return True
    return False


async def ensure_evidence(request: Request, queue: ReviewQueue, item: ReviewItem) -> ReviewItem:
    """The item with word evidence: stored, or computed now with the served model (and stored)."""
    method = request.app.state.settings.review_explain_method
    model = _served(request)
    if item.evidence is not None or method == "none" or model is None:
        return item
    note = Note(text=item.text, id=item.note_id, title=item.title, author_id=item.author_id, lang=item.lang)
    try:
        async with explain_slots(request):
            explanation = await asyncio.to_thread(lambda: Explainer(model).explain([note], method, 8)[0])
    except Exception:  # noqa: BLE001 - a note that cannot be explained is still reviewed, by its signals
        log.exception("could not explain review item %s", item.note_id)
        return item
    words = [w.to_dict() for w in explanation.words if w.score != 0]
    version = model.metadata.version
    await asyncio.to_thread(queue.save_evidence, item.id, words, method, version)
    item.evidence, item.explain_method, item.evidence_model = words, method, version  # a detached copy
    return item


def evidence_note(request: Request, item: ReviewItem) -> str:
    """One line under the note saying where its word shading comes from, or why there is none."""
    if item.evidence is not None:
        source = f"word evidence by {item.explain_method} of model {item.evidence_model}"
        if item.evidence_model == item.model_version:
            return source
        return f"{source}; the verdict and P are model {item.model_version}'s, from when the note was queued"
    if request.app.state.settings.review_explain_method == "none":
        return "word evidence is off on this server (NOTECHECK_REVIEW_EXPLAIN_METHOD=none): signals only"
    if _loading(request):
        return "word evidence will appear once the model has loaded: signals only for now"
    if _served(request) is None:
        return "the served model cannot be explained: signals only"
    return "this note could not be explained: signals only"
