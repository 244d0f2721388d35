"""Typed errors. They are raised early and turned into one-line messages at the edges (CLI, HTTP)."""

from __future__ import annotations

from pathlib import Path


class NotecheckError(Exception):
    """Base class of every error notecheck raises on purpose (CLI exit code 2, HTTP 4xx)."""


class DatasetError(NotecheckError):
    """A row of a user's data file is unusable: names the file, the row (1-based line) and the field."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        what = f" field '{field}'" if field else ""
        super().__init__(f"{where}:{what} {reason}".replace(": ", ": ", 1))

    def __reduce__(self) -> tuple[type, tuple[str, int | None, str | None, str]]:
        # pickled when crossing process boundaries (Ray workers); the default needs a one-argument init
        return (DatasetError, (self.path, self.line, self.field, self.reason))


class ModelLoadError(NotecheckError):
    """A model directory is missing a file, or a file is corrupt; names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (ModelLoadError, (self.path, self.reason))


class OutputError(NotecheckError):
    """A result file or folder cannot be written where asked (a directory in the way, no such folder, no
    permission, a full disk); names the path."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (OutputError, (self.path, self.reason))


class ConfigError(NotecheckError):
    """A run or deployment setting is invalid; names the setting."""


def first_line(exc: BaseException) -> str:
    """A library exception's message, first line only, so the errors quoting it stay one line."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
