"""The API's routers, in the order their routes are matched. `create_app` includes `default_routers()`.

A router module defines `router` (an `APIRouter`); routes under /v1 (and TEI's /predict) take
`dependencies=deps.PROTECTED`.
To serve a new one, add it to `default_routers`.
"""

from __future__ import annotations

from fastapi import APIRouter


def default_routers() -> list[APIRouter]:
    """Every router of the API (imported here, when the app is built, so `notecheck --help` stays fast)."""
    from notecheck.serving.review import pages
    from notecheck.serving.routes import explain, kol, ops, predict, tei

    return [ops.router, predict.router, explain.router, kol.router, tei.router, pages.router]
