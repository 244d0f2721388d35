"""`notecheck serve`: the prediction API under uvicorn.

Deployment settings come from `NOTECHECK_*` environment variables (see `serving.settings`); the flags
below override them. API keys are only read from `NOTECHECK_API_KEYS`, never from flags, which other
users of the machine could see in the process list.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

HELP = "serve the HTTP prediction API (POST /v1/predict, /healthz, /readyz, /v1/info, /metrics)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="model directory (default: $NOTECHECK_MODEL_DIR)")
    parser.add_argument("--host", help="bind address (default 127.0.0.1; others need NOTECHECK_API_KEYS)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        default=None,
        help="serve without API keys on a non-loopback address (only behind a proxy that authenticates)",
    )
    parser.add_argument("--runtime", choices=["fp32", "bf16", "int8"], help="inference precision (default fp32)")
    parser.add_argument(
        "--no-batching", action="store_true", default=None, help="score each request alone (for benchmarks)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes, each with its own model copy and batcher (default 1)"
    )


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags set (None: not given, the environment or the default decides)."""
    return {
        "model_dir": args.model,
        "host": args.host,
        "port": args.port,
        "allow_unauthenticated": args.allow_unauthenticated,
        "runtime": args.runtime,
        "batching": False if args.no_batching else None,
    }


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from notecheck.model.errors import ConfigError
    from notecheck.model.metadata import ModelMetadata
    from notecheck.serving.app import create_app
    from notecheck.serving.request_log import configure_access_log
    from notecheck.serving.settings import load_settings

    overrides = overrides_from_args(args)
    settings = load_settings(**overrides)
    if settings.model_dir is None:
        raise ConfigError("no model to serve: pass --model DIR or set NOTECHECK_MODEL_DIR")
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    meta = ModelMetadata.load(settings.model_dir)  # a wrong directory fails here, in one line, not in a worker
    print(f"notecheck serve: model {meta.version} from {settings.model_dir} (runtime {settings.runtime})")
    print(f"listening on {url(settings.host, settings.port)} with {args.workers} worker(s)")
    print(f"authentication: {settings.auth_summary()}")
    configure_access_log()
    common: dict[str, Any] = {"host": settings.host, "port": settings.port, "access_log": False}
    if args.workers == 1:
        uvicorn.run(create_app(settings), **common)
        return 0
    # Worker processes build their own app from the environment: hand the flags on through it.
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"NOTECHECK_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    uvicorn.run("notecheck.serving.app:app_from_env", factory=True, workers=args.workers, **common)
    return 0
