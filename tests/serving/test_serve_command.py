"""`notecheck serve`: flags over env, a banner saying where and whether auth is on, early one-line errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from serving_support import KEY

from notecheck.cli import main


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """Capture what would be served, (app, options), instead of serving: `uvicorn.run` (several workers)
    and `uvicorn.Server.run` (one)."""
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))

    def server_run(server: uvicorn.Server, sockets: Any = None) -> None:
        c = server.config
        calls.append((c.app, {"host": c.host, "port": c.port, "log_config": c.log_config, "access_log": c.access_log}))

    monkeypatch.setattr(uvicorn.Server, "run", server_run)
    return calls


def test_serve_builds_the_app_and_says_where_it_listens(
    tiny_model_dir: Path, uvicorn_calls: list[Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTECHECK_PORT", "9000")
    monkeypatch.setenv("NOTECHECK_BATCH_MAX_WAIT_MS", "3")
    assert main(["serve", "--model", str(tiny_model_dir), "--port", "8123", "--runtime", "int8"]) == 0
    ((app, kwargs),) = uvicorn_calls
    assert isinstance(app, FastAPI)
    settings = app.state.settings
    assert (settings.port, settings.runtime, settings.batch_max_wait_ms) == (8123, "int8", 3)  # flags beat env
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8123
    # one JSON log format for uvicorn's lines and ours, through a single root handler
    assert kwargs["log_config"]["root"]["handlers"] == ["default"] and not kwargs["access_log"]
    out = capsys.readouterr().out
    assert "model tiny-0" in out and "listening on http://127.0.0.1:8123" in out
    assert "authentication: OFF" in out and "loopback" in out


def test_serve_with_keys_reports_auth_on(
    tiny_model_dir: Path, uvicorn_calls: list[Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTECHECK_API_KEYS", KEY)
    assert main(["serve", "--model", str(tiny_model_dir), "--host", "0.0.0.0"]) == 0
    out = capsys.readouterr().out
    assert "listening on http://0.0.0.0:8000" in out and "authentication: on (1 API key)" in out
    assert KEY not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "0.0.0.0"], "NOTECHECK_API_KEYS"),
        (["--port", "0"], "NOTECHECK_PORT"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_unsafe_or_wrong_flags_exit_2_with_one_line(
    tiny_model_dir: Path, uvicorn_calls: list[Any], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["serve", "--model", str(tiny_model_dir), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("notecheck serve: error:")
    assert uvicorn_calls == []


def test_a_wrong_model_directory_fails_before_serving(
    tmp_path: Path, uvicorn_calls: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--model", str(tmp_path)]) == 2
    assert "notecheck.json" in capsys.readouterr().err and uvicorn_calls == []
    assert main(["serve"]) == 2
    assert "--model" in capsys.readouterr().err


def broken_copy(tiny_model_dir: Path, tmp_path: Path, victim: str, content: bytes) -> Path:
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (model / victim).write_bytes(content)
    return model


def test_a_model_directory_that_cannot_load_fails_before_serving(
    tiny_model_dir: Path, tmp_path: Path, uvicorn_calls: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    model = broken_copy(tiny_model_dir, tmp_path, "config.json", b"{not json")
    assert main(["serve", "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"notecheck serve: error: {model / 'config.json'}: not valid JSON")
    assert uvicorn_calls == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_model_that_fails_to_load_in_the_background_stops_the_server_with_exit_2(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # every file there and readable, so the cheap checks pass; only loading the weights fails
    model = broken_copy(tiny_model_dir, tmp_path, "model.safetensors", b"not safetensors")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTECHECK_")}
    argv = [sys.executable, "-m", "notecheck", "serve", "--model", str(model), "--port", str(free_port())]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 60  # imports and a failed load, not a server waiting forever
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"notecheck serve: error: {model / 'model.safetensors'}: weights do not load")
    assert "Traceback" not in done.stderr and "listening on" in done.stdout


def test_several_workers_get_the_flags_through_the_environment(tiny_model_dir: Path, uvicorn_calls: list[Any]) -> None:
    try:
        assert main(["serve", "--model", str(tiny_model_dir), "--port", "8124", "--workers", "2", "--no-batching"]) == 0
        ((target, kwargs),) = uvicorn_calls
        assert target == "notecheck.serving.app:app_from_env" and kwargs["factory"] and kwargs["workers"] == 2
        from notecheck.serving.app import app_from_env

        settings = app_from_env().state.settings  # what each worker process will build
        assert (settings.port, settings.model_dir, settings.batching) == (8124, tiny_model_dir, False)
    finally:
        for name in [n for n in os.environ if n.startswith("NOTECHECK_")]:
            del os.environ[name]
