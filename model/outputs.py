"""Where results go: an output path is checked before the work that fills it, and a write that fails anyway
raises `OutputError` naming the path, so no command ends in a traceback over a file it could not write.

>>> check_output("scores.jsonl")  # doctest: +SKIP
PosixPath('scores.jsonl')
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from notecheck.model.errors import OutputError


def check_output(path: str | Path) -> Path:
    """`path` as a `Path` when a file can be written there (its folder may still have to be created);
    `OutputError` when it is a directory, when a file stands where a folder must be, or when the folder
    that would hold it is not writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a directory; give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # the nearest folder that exists
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(path, f"cannot create its folder: {folder} is a file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(path, f"folder {folder} is not writable")
    return path


def describe(exc: OSError) -> str:
    """An `OSError` in words, without the path (the caller names it): `Permission denied`."""
    return exc.strerror or str(exc) or type(exc).__name__


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn an `OSError` raised inside the block into `OutputError` naming `path`."""
    try:
        yield
    except OSError as exc:
        raise OutputError(path, f"cannot be written: {describe(exc)}") from exc
