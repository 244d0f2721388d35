"""`notecheck serve`: the prediction API under uvicorn.

Deployment settings come from `NOTECHECK_*` environment variables (see `serving.settings`); the flags
below override them. API keys are only read from `NOTECHECK_API_KEYS`, never from flags, which other
users of the machine could see in the process list.

A model directory that cannot be served ends the command with exit code 2 and one line: at once when the
cheap checks of `model.model_dir` find it wrong, and, with one worker, as soon as the background load
fails (the server shuts down instead of answering 503 forever). A slow load that succeeds is waited for
with `/healthz` answering and `/readyz` saying 503 until the model is warm.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer

from notecheck.model.options import DEFAULT_RUNTIME, Runtime


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    model: Annotated[
        Path | None, typer.Option(metavar="DIR", help="model directory (default: $NOTECHECK_MODEL_DIR)")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="bind address (default: 127.0.0.1; others need NOTECHECK_API_KEYS)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port (default: 8000)")] = None,
    allow_unauthenticated: Annotated[
        bool | None,
        typer.Option(
            "--allow-unauthenticated",
            help="serve without API keys on a non-loopback address (only behind a proxy that authenticates)",
        ),
    ] = None,
    runtime: Annotated[
        Runtime | None, typer.Option(help=f"inference precision (default: $NOTECHECK_RUNTIME, else {DEFAULT_RUNTIME})")
    ] = None,
    no_batching: Annotated[
        bool, typer.Option("--no-batching", help="score each request alone (for benchmarks)")
    ] = False,
    workers: Annotated[int, typer.Option(help="processes, each with its own model copy and batcher")] = 1,
) -> None:
    """Serve the HTTP prediction API (/v1/predict, /healthz, /metrics...) and the /review workspace."""
    import uvicorn

    from notecheck.model.errors import ConfigError
    from notecheck.model.model_dir import inspect_model_dir
    from notecheck.serving.logs import uvicorn_log_config
    from notecheck.serving.memory import configure_allocator
    from notecheck.serving.settings import load_settings

    # None: not given, the environment or the default decides
    overrides: dict[str, Any] = {
        "model_dir": model,
        "host": host,
        "port": port,
        "allow_unauthenticated": allow_unauthenticated,
        "runtime": runtime,
        "batching": False if no_batching else None,
    }
    settings = load_settings(**overrides)
    # before torch loads and starts its threads: fewer malloc heaps, a bounded oneDNN kernel cache
    configure_allocator(settings.malloc_arena_max)
    if settings.model_dir is None:
        raise ConfigError("no model to serve: pass --model DIR or set NOTECHECK_MODEL_DIR")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    meta = inspect_model_dir(settings.model_dir)  # a wrong directory fails here, in one line, not in a worker
    print(f"notecheck serve: model {meta.version} from {settings.model_dir} (runtime {settings.runtime})")
    print(f"listening on {url(settings.host, settings.port)} with {workers} worker(s)")
    print(f"authentication: {settings.auth_summary()}")
    print(f"review workspace: {url(settings.host, settings.port)}/review (queue: {review_database(settings)})")
    verbose = logging.getLogger("notecheck").isEnabledFor(logging.INFO)  # `-v` was given
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # notecheck.access logs every request, with its id and latency
        "log_config": uvicorn_log_config(verbose=verbose),  # one JSON object per line, ours and uvicorn's
    }
    if workers == 1:
        serve_one(settings, common)
        return
    # Worker processes build their own app from the environment: hand the flags on through it.
    if settings.session_secret is None:  # one secret for all workers, or review sessions work on one only
        os.environ["NOTECHECK_SESSION_SECRET"] = secrets.token_urlsafe(32)
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"NOTECHECK_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    uvicorn.run("notecheck.serving.app:app_from_env", factory=True, workers=workers, **common)


def review_database(settings: Any) -> str:
    """Where the review queue is, as a deployer would look for it (a SQLite file by its absolute path)."""
    from notecheck.model.review.db import describe_url

    return describe_url(settings.database_url)


def serve_one(settings: Any, options: dict[str, Any]) -> None:
    """Run one server process; when its model fails to load, shut it down and raise the load error."""
    import uvicorn

    from notecheck.model.errors import ModelLoadError, NotecheckError
    from notecheck.serving.app import create_app

    failures: list[BaseException] = []

    def stop(exc: BaseException) -> None:
        failures.append(exc)
        server.should_exit = True  # uvicorn's own graceful shutdown, as on SIGTERM

    server = uvicorn.Server(uvicorn.Config(create_app(settings, on_load_failure=stop), **options))
    server.run()
    if failures:
        error = failures[0]
        if isinstance(error, NotecheckError):
            raise error
        raise ModelLoadError(settings.model_dir, f"the model failed to load: {error}") from error
