"""The build lock of an index file kept beside the store (:mod:`kg.indexcache`): one process builds
a missing file at a time (an exclusive ``flock`` on ``<cache>/.locks/<kind>.<file>.lock``), the
others wait for it, for a bounded time (``$TRAITKG_INDEX_WAIT``), then read the file it wrote.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with build_lock(d / "demo" / "k.npz", "demo") as held:
...     held
True
>>> lock_path(d / "demo" / "k.npz").name
'demo.k.npz.lock'
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kg.core.errors import ValidationError, excerpt

log = logging.getLogger("kg.indexcache")  # the index files' one logger: their build, wait and completion lines


#: How long a process waits for another one building the same index file, by default (seconds).
DEFAULT_WAIT = 600.0


def wait_limit() -> float:
    """Seconds a process waits for another process building the index file it needs
    (``$TRAITKG_INDEX_WAIT``, default :data:`DEFAULT_WAIT`); past it, it builds the file itself."""
    raw = os.environ.get("TRAITKG_INDEX_WAIT")
    if raw is None or raw.strip() == "":
        return DEFAULT_WAIT
    try:
        v = float(raw)
    except ValueError:
        v = -1.0
    if not v >= 0 or v == float("inf"):
        raise ValidationError(f"TRAITKG_INDEX_WAIT={excerpt(raw)}: expected a number of seconds, 0 or more")
    return v


_asking: list[set[Path]] = []  # the sets of :func:`asked_for` blocks open now


@contextmanager
def asked_for() -> Iterator[set[Path]]:
    """The index files this process reads, builds or writes inside the block (their paths): what
    the store's current graphs ask for, when the block is ``traitkg index``'s run of the warm
    start's parts (``--prune`` keeps these and removes the others)."""
    got: set[Path] = set()
    _asking.append(got)
    try:
        yield got
    finally:
        _asking.remove(got)


def note(path: Path | None) -> None:
    """Record that ``path`` was asked for (see :func:`asked_for`)."""
    if path is not None:
        for got in _asking:
            got.add(Path(path))


@contextmanager
def build_lock(path: Path | None, kind: str) -> Iterator[bool]:
    """Held while this process builds the index file ``path``: an exclusive ``flock`` on its
    :func:`lock_path` (the lock file stays; it holds nothing but the last holder's pid). Yields
    whether it is held: ``False`` where it cannot be taken (no path, a cache directory this process
    cannot write, a file system without locks), and the caller builds without it.

    The kernel lets go of a ``flock`` when its holder's file is closed, and so when the holder
    exits however it exits: a builder killed mid-build (SIGKILL, out of memory) leaves no file and
    no lock, and the next process takes the lock and builds (tests/kg/test_index_build_lock.py).
    A builder that hangs without dying (stopped, deadlocked, stuck on a disk) keeps its lock: a
    waiter waits :func:`wait_limit` seconds for it, then logs a warning naming the holder's pid
    and yields ``False`` (it builds the file itself; the file is written by renaming, so whichever
    of the two writes last leaves a whole file of the same content)."""
    note(path)
    fd = _open_lock(path)
    if fd is None:
        yield False
        return
    held = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            t0 = time.perf_counter()
            limit = wait_limit()
            log.info("%s index %s: waiting for the process building it (pid %s), at most %g s", kind, path,
                     _holder(fd), limit)
            held = _wait_for(fd, t0 + limit)
            if held:
                log.info("%s index %s: waited %.1f s for its builder", kind, path, time.perf_counter() - t0)
            else:
                log.warning("%s index %s: its builder (pid %s) held it for more than %g s "
                            "(TRAITKG_INDEX_WAIT); building it here", kind, path, _holder(fd), limit)
        except OSError as exc:  # e.g. a file system without locks: build without one
            log.warning("cannot lock %s index %s (%s); building it without a lock", kind, path, exc)
        if held:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:  # opened read-only: the pid is only for the waiters' log line
                pass
        yield held
    finally:
        os.close(fd)  # lets go of the lock


def _wait_for(fd: int, deadline: float) -> bool:
    """Take the ``flock`` on ``fd`` by the ``deadline`` (``time.perf_counter``), polling: whether taken."""
    pause = 0.01
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.25)


def lock_path(path: Path) -> Path:
    """The lock file of the index file ``<cache>/<kind>/<name>``: ``<cache>/.locks/<kind>.<name>.lock``
    (beside the kinds' directories, not in them: a kind's directory holds its index files only)."""
    return path.parent.parent / ".locks" / f"{path.parent.name}.{path.name}.lock"


def _open_lock(path: Path | None) -> int | None:
    if path is None:
        return None
    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError:
        try:  # a lock file another user made: a read-only descriptor takes a flock as well
            return os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.debug("no build lock for %s (%s): building without one", path, exc)
            return None


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip() or "?"
    except (OSError, UnicodeDecodeError):
        return "?"
