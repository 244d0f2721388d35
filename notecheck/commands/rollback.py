"""`notecheck rollback`: make the previously promoted model current again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def rollback(
    registry: Annotated[Path, typer.Option(metavar="DIR", help="model registry directory")],
    reason: Annotated[str, typer.Option(help="recorded in the registry's history")] = "manual rollback",
) -> None:
    """Make the model promoted before the current one current again."""
    from notecheck.training.registry import Registry

    models = Registry(registry)
    before = models.current_version()
    after = models.rollback(reason)
    print(f"rolled back from {before} to {after}")
    print(f"current {after}")
