"""notecheck: tell genuine lifestyle notes from undisclosed advertisements (Chinese and English).

`from notecheck import Notecheck` is the Python API (`notecheck/api.py`); `notecheck ...` the command line;
`notecheck serve` the HTTP API. All three call the same core, `notecheck.model`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notecheck.api import Notecheck, Results

__all__ = ["Notecheck", "Results"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `notecheck --help` never pays for torch.
    if name in __all__:
        from notecheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'notecheck' has no attribute {name!r}")
