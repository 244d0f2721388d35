"""`serving.logs`: one JSON object per line from uvicorn, our modules, the root logger and the access log."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from serving_support import FakeClassifier, running

from notecheck.serving.app import create_app
from notecheck.serving.logs import JsonFormatter
from notecheck.serving.request_log import ACCESS_LOGGER, access_log, configure_access_log
from notecheck.serving.settings import Settings

KEYS = {"time", "level", "logger", "message"}

# Run in a fresh interpreter: dictConfig rewires the whole process's logging.
EMIT = """
import logging, sys
import uvicorn
from notecheck.serving.logs import JSON_FIELDS, uvicorn_log_config

uvicorn.Config("x:app", log_config=uvicorn_log_config(verbose=sys.argv[1] == "verbose"), use_colors=False)
logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200)
fields = {"ts": "t", "request_id": "r1", "method": "POST", "route": "/v1/predict", "status": 200, "n_notes": 2}
logging.getLogger("notecheck.access").info("%s %s %d", "POST", "/v1/predict", 200, extra={JSON_FIELDS: fields})
logging.getLogger("notecheck.serving.x").info("model ready: 模型\\nsecond line")
logging.getLogger("notecheck.serving.x").warning("queue is deep")
logging.getLogger("transformers").info("library chatter")
logging.getLogger("transformers").warning("library warning")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("notecheck.serving.x").exception("batch failed")
"""


def emitted(mode: str) -> list[dict[str, Any]]:
    """Every stderr line of `EMIT` parsed as JSON (fails on a line that is not one JSON object)."""
    done = subprocess.run([sys.executable, "-c", EMIT, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    for line in lines:
        assert isinstance(line, dict) and set(line) >= KEYS, line
        assert line["time"].endswith("+00:00") and "T" in line["time"]
    return lines


def test_every_logger_writes_one_json_object_per_line() -> None:
    lines = emitted("quiet")
    by_logger = {line["logger"]: line for line in lines}
    assert [line["message"] for line in lines] == [
        "Started server process [42]",
        '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200',
        "POST /v1/predict 200",
        "queue is deep",
        "library warning",
        "batch failed",
    ]  # our modules' and libraries' INFO lines only when verbose
    access = by_logger["notecheck.access"]
    assert access["level"] == "INFO" and access["request_id"] == "r1" and access["status"] == 200
    assert access["n_notes"] == 2 and access["ts"] == "t"  # merged as JSON values, not a string in `message`
    uvicorn_access = by_logger["uvicorn.access"]
    assert (uvicorn_access["method"], uvicorn_access["path"], uvicorn_access["status"]) == ("GET", "/healthz", 200)
    failure = lines[-1]
    assert failure["level"] == "ERROR" and failure["exc_info"].startswith("Traceback")
    assert "ZeroDivisionError" in failure["exc_info"] and "exc_info" not in by_logger["uvicorn.error"]


def test_verbose_adds_our_info_lines_only() -> None:
    messages = {(line["logger"], line["message"]) for line in emitted("verbose")}
    assert ("notecheck.serving.x", "model ready: 模型\nsecond line") in messages
    assert ("transformers", "library chatter") not in messages


@pytest.mark.anyio
async def test_the_request_logs_fields_are_merged_into_the_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running(create_app(Settings(), classifier=FakeClassifier())) as client:
        caplog.clear()
        await client.post("/v1/predict", json={"notes": [{"id": "a", "text": "周末去公园"}]})
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "POST /v1/predict 200" and line["logger"] == ACCESS_LOGGER
    assert line["route"] == "/v1/predict" and line["status"] == 200 and line["n_notes"] == 1
    assert len(line["request_id"]) == 32 and line["latency_ms"] > 0


def test_configure_access_log_writes_json_lines() -> None:
    saved = access_log.handlers[:], access_log.level, access_log.propagate
    stream = io.StringIO()
    try:
        configure_access_log(stream)
        access_log.info("%s %s %d", "GET", "/healthz", 200, extra={"json_fields": {"status": 200}})
    finally:
        access_log.handlers[:], access_log.level, access_log.propagate = saved
    line = json.loads(stream.getvalue())
    assert line["message"] == "GET /healthz 200" and line["status"] == 200 and set(line) >= KEYS
