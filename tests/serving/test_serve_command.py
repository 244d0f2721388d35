"""`notecheck serve`: flags over env, a banner saying where and whether auth is on, early one-line errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from serving_support import KEY

from notecheck.cli import main


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """Capture `uvicorn.run` instead of serving."""
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
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
