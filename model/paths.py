"""Where the clone's bundled files are, so default runs and the README's commands work from any directory.

`data/notes` or `runs/default` given on the command line (or as a default) mean the working directory's when
it has them, else the clone's.

A clone (or an editable install) has `data/` and, after `make demo`, `runs/default/` beside the packages; a
wheel has neither, and then the defaults are plain paths relative to the working directory.
"""

from __future__ import annotations

from pathlib import Path

#: The clone the package runs from.
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The bundled notes, profiles, split and samples.
BUNDLED_DATA = REPO_ROOT / "data"


def bundled_path(value: str | Path) -> str:
    """A relative default (`data/notes`, `runs/default`): as given when it exists from the working directory,
    else the clone's own when that exists, else as given.

    >>> bundled_path("/abs/path")
    '/abs/path'
    """
    path = Path(value)
    if path.is_absolute() or path.exists() or not (REPO_ROOT / path).exists():
        return str(value)
    return str(REPO_ROOT / path)
