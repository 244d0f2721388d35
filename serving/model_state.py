"""The served model's life: loading, warming up, ready (with its batcher), failed, stopped.

Loading and the warm-up prediction run in a background thread started by the app's lifespan, so
`/healthz` answers at once and `/readyz` turns 200 only when a first prediction has really run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from notecheck.model.classifier import Classifier, Prediction
from notecheck.model.errors import ConfigError, ModelLoadError, NotecheckError
from notecheck.model.metadata import ModelMetadata
from notecheck.model.schema import Note
from notecheck.serving.batcher import Batcher, BatcherConfig
from notecheck.serving.settings import Settings

log = logging.getLogger(__name__)

Status = Literal["loading", "ready", "failed", "stopped"]
WARM_UP = [Note(text="Warm-up 预热: 今天去了新开的咖啡店，拿铁一般。Honest review, not sponsored.", id="warm-up")]


class Predictor(Protocol):
    """What serving needs of a model: `Classifier` is one; tests inject fakes with the same shape."""

    metadata: ModelMetadata

    def predict(self, notes: Sequence[Note | str]) -> list[Prediction]: ...


Loader = Callable[[Settings], Predictor]


class ModelNotReady(NotecheckError):
    """The model is still loading, failed to load, or the server is stopping (HTTP 503)."""

    def __init__(self, status: Status, reason: str | None = None) -> None:
        self.status = status
        super().__init__(f"model {status}" + (f": {reason}" if reason else ""))


def default_loader(settings: Settings) -> Classifier:
    """`Classifier.from_pretrained(NOTECHECK_MODEL_DIR, runtime=NOTECHECK_RUNTIME)`, batches padded to
    multiples of `NOTECHECK_PAD_MULTIPLE` tokens."""
    if settings.model_dir is None:
        raise ConfigError("NOTECHECK_MODEL_DIR: not set, so there is no model to serve")
    return Classifier.from_pretrained(settings.model_dir, runtime=settings.runtime, pad_multiple=settings.pad_multiple)


def load_and_warm(settings: Settings, classifier: Predictor | None, loader: Loader | None) -> Predictor:
    """Load (unless a classifier was given) and run one prediction, so the first request is not the slow
    one (lazy initialisation, allocator growth) and a model that cannot predict never reports ready."""
    started = time.perf_counter()
    model = classifier if classifier is not None else (loader or default_loader)(settings)
    loaded = time.perf_counter()
    out = model.predict(WARM_UP)
    if len(out) != len(WARM_UP):
        where = settings.model_dir or "(injected model)"
        raise ModelLoadError(where, f"warm-up predict returned {len(out)} results for 1 note")
    log.info(
        "model %s ready: loaded in %.2fs, warm-up prediction in %.2fs",
        model.metadata.version,
        loaded - started,
        time.perf_counter() - loaded,
    )
    return model


def batcher_config(settings: Settings, max_length: int) -> BatcherConfig:
    """The batcher's settings: a note never counts for more tokens than the model reads."""
    return BatcherConfig(
        max_tokens=settings.batch_max_tokens,
        max_wait_s=settings.batch_max_wait_ms / 1000,
        max_notes=settings.batch_max_notes,
        queue_max_notes=settings.queue_max_notes,
        token_cap=max_length,
        coalesce=settings.batching,
        idle_s=settings.malloc_trim_idle_ms / 1000,
    )


@dataclass
class ModelState:
    """Shared through `app.state.model`; routes read it through `serving.deps`."""

    status: Status = "loading"
    classifier: Predictor | None = None
    batcher: Batcher | None = None
    error: str | None = None

    def ready(self, classifier: Predictor, batcher: Batcher) -> None:
        self.classifier, self.batcher, self.status = classifier, batcher, "ready"

    def failed(self, exc: BaseException) -> None:
        self.status, self.error = "failed", str(exc) or type(exc).__name__

    def serving(self) -> tuple[Predictor, Batcher]:
        """The ready classifier and its batcher, or `ModelNotReady`."""
        if self.status != "ready" or self.classifier is None or self.batcher is None:
            raise ModelNotReady(self.status, self.error)
        return self.classifier, self.batcher

    async def stop(self) -> None:
        self.status = "stopped"
        if self.batcher is not None:
            await self.batcher.stop()
