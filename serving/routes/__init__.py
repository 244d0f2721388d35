"""The API's routers. `create_app` includes `default_routers()`: one router module per feature.

A router module defines `router` (an `APIRouter`); routes under /v1 take `dependencies=deps.PROTECTED`.
To serve a new one, add its module to `ROUTER_MODULES`. As with the CLI's commands, a listed module that
is not installed is skipped (an import error inside one that is present still fails loudly).
"""

from __future__ import annotations

import importlib
import importlib.util

from fastapi import APIRouter

#: Router modules, in the order their routes are matched.
ROUTER_MODULES: tuple[str, ...] = (
    "serving.routes.ops",
    "serving.routes.predict",
    "serving.explain_routes",
    "serving.kol_routes",
)


def default_routers() -> list[APIRouter]:
    """The `router` of every available module in `ROUTER_MODULES`."""
    routers = []
    for name in ROUTER_MODULES:
        if importlib.util.find_spec(name) is not None:
            routers.append(importlib.import_module(name).router)
    return routers
