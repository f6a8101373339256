"""Routes with a fast path: an :class:`~fastapi.routing.APIRoute` whose endpoint carries ``fast``,
a function of the ASGI scope that returns the answer's JSON bytes when it can answer without
FastAPI's per-request machinery (dependency injection, parameter and answer validation, encoding),
or ``None`` for anything else: that request takes the route's own handler, with its validation
errors and answers. The route stays what it was for the OpenAPI document and the routes table.

A fast function must give the bytes the route's own handler would give for the same request (its
tests compare them), and must return ``None`` rather than raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

#: A fast path: the ASGI scope (its ``path_params`` and ``app`` filled) -> JSON bytes, or None.
Fast = Callable[[Scope], "bytes | None"]


def fast_path(fn: Fast) -> Callable[[Any], Any]:
    """Give an endpoint a fast path (the route must be a :class:`FastRoute`)."""
    def mark(endpoint: Any) -> Any:
        endpoint.fast = fn
        return endpoint
    return mark


class FastRoute(APIRoute):
    """An API route that first asks its endpoint's ``fast`` function (GET only)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast: Fast | None = getattr(self.endpoint, "fast", None)
        if fast is not None and scope["method"] == "GET":
            body = fast(scope)
            if body is not None:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", str(len(body)).encode()),
                                        (b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": body})
                return
        await super().handle(scope, receive, send)
