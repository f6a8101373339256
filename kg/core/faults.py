"""A test hook that kills the process at a named point of a write (crash-consistency tests).

``TRAITKG_CRASH_AT=NAME`` (or ``NAME#N``: at its N-th hit) makes :func:`crash_point` send the
process SIGKILL there, as ``kill -9`` would: no clean-up runs, nothing is flushed. Unset (always, in
normal use) it costs one dictionary lookup. Points: ``load:<kind>:start`` (a graph's writer is about
to run), ``load:<kind>:written`` (its data is written, the manifest entry not yet),
``load:<kind>:recorded``, ``bulk`` (after each bulk load into the embedded store: mid-graph when a
graph takes several), ``closure:patching`` (a closure is about to be updated in place),
``import:written`` (a release's graphs are written, its manifest not yet).

>>> crash_point("load:tree:start")  # not asked for: nothing happens
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Die here, now, if ``TRAITKG_CRASH_AT`` names this point (and this is the asked-for hit)."""
    want = os.environ.get("TRAITKG_CRASH_AT")
    if not want:
        return
    point, _, nth = want.partition("#")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["crash_point"]
