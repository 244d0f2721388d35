"""One log format for the server: every line one JSON object, whoever logs it (uvicorn, our modules, libraries).

`uvicorn_log_config()` is a `logging.config.dictConfig` dict for `uvicorn.run(..., log_config=...)`. Every
line has `time` (ISO-8601, UTC), `level`, `logger` and `message`, and `exc_info` (the traceback) when there
was an exception. A record logged with `extra={JSON_FIELDS: {...}}` (the request log's access lines) has
those fields merged in as JSON values, not encoded into `message`:

    {"time": "2025-01-02T03:04:05.678+00:00", "level": "INFO", "logger": "notecheck.access",
     "message": "POST /v1/predict 200", "request_id": "…", "method": "POST", "route": "/v1/predict", …}
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

#: The record attribute whose dict is merged into the JSON line: `log.info(msg, extra={JSON_FIELDS: {...}})`.
JSON_FIELDS = "json_fields"
_UVICORN_ACCESS_ARGS = ("client", "method", "path", "http_version", "status")  # uvicorn.access's message args


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line (newlines in messages and tracebacks are escaped)."""

    def __init__(self, use_colors: bool | None = None) -> None:
        # uvicorn sets `use_colors` on its formatters when asked to (`--no-use-colors`): accepted, meaningless here
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            line.setdefault(key, value)  # the four keys above always mean what they say
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Structured fields of a record: its `JSON_FIELDS` dict, or the parts of a uvicorn access line."""
    fields = getattr(record, JSON_FIELDS, None)
    if isinstance(fields, dict):
        return fields
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        return dict(zip(_UVICORN_ACCESS_ARGS, record.args, strict=True))
    return {}


def uvicorn_log_config(verbose: bool = False) -> dict[str, Any]:
    """A `dictConfig` dict that uvicorn accepts as `log_config=`: every logger writes JSON lines to stderr.

    Levels: uvicorn's startup, error and access lines and our access lines (`notecheck.access`) at INFO;
    our other modules (`notecheck.*`) at INFO when `verbose`, else WARNING; everything else (the root
    logger: transformers, torch…) at WARNING. Only the root logger has a handler; the others propagate to
    it, so each record is written once. Loggers that exist already keep working.

    >>> uvicorn.run(app, log_config=uvicorn_log_config(verbose=True))  # doctest: +SKIP
    """
    ours = "INFO" if verbose else "WARNING"
    formatter = {"()": f"{__name__}.JsonFormatter"}

    def logger(level: str) -> dict[str, Any]:
        return {"level": level, "handlers": [], "propagate": True}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Named like uvicorn's own two, which `uvicorn.Config(use_colors=...)` writes into.
        "formatters": {"default": dict(formatter), "access": dict(formatter)},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": logger("INFO"),
            "uvicorn.error": logger("INFO"),
            "uvicorn.access": logger("INFO"),
            "notecheck": logger(ours),
            "notecheck.access": logger("INFO"),
        },
        "root": {"level": "WARNING", "handlers": ["default"]},
    }
