"""Serving fixtures: the anyio backend and a clean NOTECHECK_* environment (helpers: `serving_support`)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the NOTECHECK_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("NOTECHECK_"):
            monkeypatch.delenv(name)
