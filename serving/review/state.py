"""The review workspace's per-app state: the session signer and the queue (connected on first use, in a worker
thread, because connecting runs the migrations)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from fastapi import HTTPException
from starlette.requests import Request

from notecheck.model.errors import ConfigError
from notecheck.model.review.db import connect, label
from notecheck.model.review.priority import ReviewPriority
from notecheck.model.review.queue import ReviewQueue
from notecheck.serving.review.sessions import SessionSigner
from notecheck.serving.settings import Settings

log = logging.getLogger(__name__)


class ReviewState:
    def __init__(self, settings: Settings) -> None:
        secret = settings.session_secret.get_secret_value() if settings.session_secret else None
        self.signer = SessionSigner(secret)
        self.settings = settings
        self._queue: ReviewQueue | None = None
        self._lock = asyncio.Lock()

    async def queue(self) -> ReviewQueue:
        """The queue, connected (and migrated) on first use; 503 naming the database when it cannot be."""
        async with self._lock:
            if self._queue is None:
                try:
                    engine = await asyncio.to_thread(connect, self.settings.database_url)
                except ConfigError as exc:
                    log.error("review queue unavailable: %s", exc)
                    raise HTTPException(503, f"the review queue is unavailable: {exc}") from exc
                self._queue = ReviewQueue(
                    engine, priority(self.settings), dt.timedelta(seconds=self.settings.review_lease_s)
                )
                log.info("review queue on %s", label(engine))
            return self._queue


def priority(settings: Settings) -> ReviewPriority:
    return ReviewPriority(
        uncertainty_weight=settings.review_uncertainty_weight,
        reach_weight=settings.review_reach_weight,
        full_reach_exposure=settings.review_full_reach_exposure,
        audit_share=settings.review_audit_share,
        unknown_reach=settings.review_unknown_reach,
    )


def review_state(request: Request) -> ReviewState:
    """The app's review state, made on first use (the factory stays unaware of the workspace)."""
    state = request.app.state
    if getattr(state, "review", None) is None:
        state.review = ReviewState(state.settings)
    return state.review  # type: ignore[no-any-return]
