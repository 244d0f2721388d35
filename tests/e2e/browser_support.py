"""A real server for browser and crash tests: uvicorn in a thread on a free port, or `notecheck serve` in a
child process; and the system Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{base} never became ready")


@contextlib.contextmanager
def threaded_server(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_process(model_dir: Path, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`notecheck serve` as a child process; yields (base URL, process)."""
    port = free_port()
    args = [sys.executable, "-m", "notecheck", "serve", "--model", str(model_dir), "--port", str(port)]
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def chromium_path() -> str:
    """Debian's chromium; `make test` installs it. Outside CI its absence skips with the reason."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no system Chromium (`make test` installs Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found
