"""Routes with a fast path: an :class:`~fastapi.routing.APIRoute` whose endpoint carries ``fast``,
a function of the ASGI scope that returns the answer's JSON bytes when it can answer without
FastAPI's per-request machinery (dependency injection, parameter and answer validation, encoding),
or ``None`` for anything else: that request takes the route's own handler, with its validation
errors and answers. The route stays what it was for the OpenAPI document and the routes table.

A fast function must give the bytes the route's own handler would give for the same request (its
tests compare them), and must return ``None`` rather than raise.

:class:`FastPaths` asks the fast functions before routing at all: FastAPI's router tries the
routes of each included router in turn, which on a small answer costs more than the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

#: A fast path: the ASGI scope (its ``path_params`` and ``app`` filled) -> JSON bytes, or None.
Fast = Callable[[Scope], "bytes | None"]


def fast_path(fn: Fast) -> Callable[[Any], Any]:
    """Give an endpoint a fast path (the route must be a :class:`FastRoute`)."""
    def mark(endpoint: Any) -> Any:
        endpoint.fast = fn
        return endpoint
    return mark


async def _send_json(send: Send, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _ask(fast: Fast, scope: Scope) -> bytes | None:
    try:
        return fast(scope)
    except Exception:  # the route's handler answers instead, with its own errors
        log.exception("fast path of %s failed; the route's handler answers", scope.get("path"))
        return None


class FastRoute(APIRoute):
    """An API route that first asks its endpoint's ``fast`` function (GET only)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast: Fast | None = getattr(self.endpoint, "fast", None)
        if fast is not None and scope["method"] == "GET" and not scope.get("traitkg.fast_tried"):
            body = _ask(fast, scope)
            if body is not None:
                await _send_json(send, body)
                return
        await super().handle(scope, receive, send)


class FastPaths:
    """ASGI middleware: a GET whose path is one of ``routes`` (routes with a fast path) asks that
    route's fast function before the app routes it; anything it does not answer is routed as
    usual (and not asked again). Only for routes no route before them can match: their paths
    start with their own fixed prefix (``/api/v1/trees/``, ``/api/v1/taxa/.../traits``...), which
    the routes tried earlier do not share."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Iterable[Any]]) -> None:
        self.app = app
        self._routes = routes
        self._fast: list[tuple[Any, Fast]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            if self._fast is None:
                self._fast = [(r, r.endpoint.fast) for r in self._routes()
                              if isinstance(r, FastRoute) and getattr(r.endpoint, "fast", None) is not None]
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            for route, fast in self._fast:
                m = route.path_regex.match(path)
                if m is None:
                    continue
                conv = route.param_convertors
                child = {**scope, "path_params": {k: conv[k].convert(v) for k, v in m.groupdict().items()}}
                body = _ask(fast, child)
                if body is not None:
                    await _send_json(send, body)
                    return
                scope["traitkg.fast_tried"] = True
                break
        await self.app(scope, receive, send)
