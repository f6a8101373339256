"""REST routers, one module per resource, discovered (adding a router = adding one file).

A module here defines ``router`` (a FastAPI ``APIRouter``) carrying its own prefix and tags, e.g.
``APIRouter(prefix="/api/v1/taxa", tags=["taxa"])``. Modules whose name starts with ``_`` are
helpers, not routers.

>>> "graphs" in [name for name, _ in discover()]
True
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def discover() -> list[tuple[str, APIRouter]]:
    """(module name, router) for every router module in this package, sorted by name."""
    out = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(mod, "router", None)
        if isinstance(router, APIRouter):
            out.append((info.name, router))
    return out
