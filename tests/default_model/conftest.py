"""Checks of the *trained* default model, run by `make demo` after training (`--model-dir runs/default`).

They need the model `notecheck demo` trains (about 40 minutes on 2 CPU cores), so `make test` leaves this
folder out; `make demo` runs it and fails when the trained model breaks a pinned verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest) -> Path:
    return Path(request.config.getoption("--model-dir"))
