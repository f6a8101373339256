"""REST routers, one module per resource, discovered (adding a router = adding one file).

A module here defines ``router`` (a FastAPI ``APIRouter``) carrying its own prefix and tags, e.g.
``APIRouter(prefix="/api/v1/taxa", tags=["taxa"])``. Modules whose name starts with ``_`` are
helpers, not routers. Routers are included by ``ORDER`` (default 100), then name: a module
adding ``/api/v1/taxa/{ref}/traits`` sets a lower ``ORDER`` than ``taxa``'s catch-all ``{ref}``.

>>> "graphs" in [name for name, _ in discover()]
True
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def discover() -> list[tuple[str, APIRouter]]:
    """(module name, router) for every router module in this package, sorted by name."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(mod, "router", None)
        if isinstance(router, APIRouter):
            found.append((getattr(mod, "ORDER", 100), info.name, router))
    return [(name, router) for _, name, router in sorted(found, key=lambda x: (x[0], x[1]))]
