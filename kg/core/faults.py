"""A test hook that kills the process at a named point of a write (crash-consistency tests).

``TRAITKG_CRASH_AT=NAME`` (or ``NAME#N``: at its N-th hit) makes :func:`crash_point` send the
process SIGKILL there, as ``kill -9`` would: no clean-up runs, nothing is flushed. Unset (always, in
normal use) it costs two dictionary lookups. Points: ``load:<kind>:start`` (a graph's writer is about
to run), ``load:<kind>:written`` (its data is written, the manifest entry not yet),
``load:<kind>:recorded``, ``bulk`` (after each bulk load into the embedded store: mid-graph when a
graph takes several), ``closure:patching`` (a closure is about to be updated in place),
``import:written`` (a release's graphs are written, its manifest not yet),
``index:<kind>:building`` (this process holds an index file's build lock and is about to build it).

``TRAITKG_STOP_AT=NAME[#N]`` stops the process there instead (SIGSTOP: it hangs without dying, its
locks and files held, until SIGCONT or SIGKILL), for tests of what waits on it.

>>> crash_point("load:tree:start")  # not asked for: nothing happens
"""

from __future__ import annotations

import os
import signal

_hits: dict[tuple[str, str], int] = {}


def crash_point(name: str) -> None:
    """Die here, now, if ``TRAITKG_CRASH_AT`` names this point (and this is the asked-for hit); stop
    here if ``TRAITKG_STOP_AT`` does."""
    for var, sig in (("TRAITKG_CRASH_AT", signal.SIGKILL), ("TRAITKG_STOP_AT", signal.SIGSTOP)):
        want = os.environ.get(var)
        if not want:
            continue
        point, _, nth = want.partition("#")
        if point != name:
            continue
        _hits[var, name] = _hits.get((var, name), 0) + 1
        if _hits[var, name] >= int(nth or 1):
            os.kill(os.getpid(), sig)


__all__ = ["crash_point"]
