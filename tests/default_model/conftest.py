"""Checks of the *trained* default model: `make check-default` after `make demo` (`--model-dir runs/default`).

They need the model `notecheck demo` trains (about 45 minutes on 2 CPU cores), so `make test` leaves this
folder out; `make check-default` fails when the trained model breaks a pinned verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest) -> Path:
    return Path(request.config.getoption("--model-dir"))
