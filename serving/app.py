"""The app factory: `create_app(settings, classifier=None, loader=None)`.

The request path is short: route → batcher → `Classifier.predict` → response schema. The factory wires
the shared pieces into `app.state` (settings, metrics, model state), and the routes reach them through
`serving.deps`. Tests inject a classifier (or a slow loader); `notecheck serve` passes neither and the
model is loaded from `NOTECHECK_MODEL_DIR`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, FastAPI

from notecheck.model.errors import ConfigError, NotecheckError
from notecheck.serving.batcher import Batcher
from notecheck.serving.body_limit import BodyLimitMiddleware
from notecheck.serving.error_handlers import install_error_handlers
from notecheck.serving.memory import trim_heap
from notecheck.serving.metrics import Metrics
from notecheck.serving.model_state import Loader, ModelState, Predictor, batcher_config, load_and_warm
from notecheck.serving.openapi import install_openapi
from notecheck.serving.request_log import RequestLogMiddleware
from notecheck.serving.routes import default_routers
from notecheck.serving.security import SecurityHeadersMiddleware, docs_pages
from notecheck.serving.settings import Settings, load_settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    classifier: Predictor | None = None,
    loader: Loader | None = None,
    *,
    routers: Sequence[APIRouter] | None = None,
    on_load_failure: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """Build the API. The model is loaded (by `loader`, default `Classifier.from_pretrained(model_dir)`,
    unless `classifier` is given) and warmed up in the background once the app starts. When that fails,
    the app answers 503 and calls `on_load_failure` with the error (`notecheck serve` stops the server).

    >>> app = create_app(Settings(), classifier=my_classifier)  # doctest: +SKIP
    """
    if classifier is None and loader is None and settings.model_dir is None:
        raise ConfigError("NOTECHECK_MODEL_DIR: not set, so there is no model to serve")
    metrics = Metrics()
    state = ModelState()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bring_up = asyncio.create_task(
            _bring_up(settings, state, metrics, classifier, loader, on_load_failure), name="model-load"
        )
        try:
            yield
        finally:
            bring_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bring_up
            await state.stop()
            metrics.ready.set(0)

    app = FastAPI(
        title="notecheck",
        summary="Tell genuine lifestyle notes from undisclosed advertisements.",
        version=_package_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.model = state
    install_error_handlers(app)
    install_openapi(app, settings)
    for router in default_routers() if routers is None else routers:
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, exempt=docs_pages(app))
    app.add_middleware(RequestLogMiddleware, metrics=metrics)  # added last: outermost
    return app


async def _bring_up(
    settings: Settings,
    state: ModelState,
    metrics: Metrics,
    classifier: Predictor | None,
    loader: Loader | None,
    on_load_failure: Callable[[BaseException], None] | None = None,
) -> None:
    """Load and warm up in a worker thread (the event loop keeps answering /healthz), then start batching."""
    try:
        model = await asyncio.to_thread(load_and_warm, settings, classifier, loader)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - any load failure means "not ready", with the reason
        log.error("model failed to load: %s", exc, exc_info=not isinstance(exc, NotecheckError))
        state.failed(exc)
        if on_load_failure is not None:
            on_load_failure(exc)
        return
    on_idle = trim_heap if settings.malloc_trim else None  # freed memory goes back to the system between bursts
    batcher = Batcher(
        model.predict, batcher_config(settings, model.metadata.max_length), metrics.observe_batch, on_idle
    )
    await batcher.start()
    metrics.watch_queue(lambda: batcher.depth, lambda: batcher.dropped)
    state.ready(model, batcher)
    metrics.ready.set(1)


def _package_version() -> str:
    try:
        return version("notecheck")
    except PackageNotFoundError:
        return "0+unknown"


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory serving.app:app_from_env` (and `notecheck serve --workers N`)."""
    return create_app(load_settings())
