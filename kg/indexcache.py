"""Derived indices kept on disk beside the store: one ``.npz`` per index kind and set of graph versions.

A process that needs an index (the phenotype index, the trait calls, the term index, a tree's
arrays) reads it from ``<store path>.cache/<kind>/<key>.npz`` (``$TRAITKG_CACHE/<kind>/`` if set;
the user cache for a ``sparql:`` store) instead of rebuilding it from the store's triples. The
key is the sha256 of the graphs the index is read from (IRI, version, checksum, size) and the
index's format number, so a new graph version (a new phenotype matrix, a closure refresh) gives a
new key and the old file is simply no longer asked for. Files are written to a temporary name and
renamed into place: a reader sees a whole file or none. A missing file is built by one process at
a time (:func:`load_or_build`): processes starting at once (``serve --warm --workers N``) wait for
the first one's file instead of each building the same one. A file that cannot be read, or was written by another format, is
rebuilt, never trusted. Arrays only (a member holding Python objects is refused): strings travel
as one UTF-8 blob plus offsets. A file is mapped, not read (:func:`load_mapped`).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> s = StringTable()
>>> ids = s.ids(["b", "a", "b", "é"])
>>> _ = save(d / "x.npz", {"ids": ids, **s.arrays()}, kind="demo", fmt=1)
>>> got = load(d / "x.npz", kind="demo", fmt=1)
>>> strings(got)[got["ids"]].tolist()
['b', 'a', 'b', 'é']
>>> load(d / "x.npz", kind="demo", fmt=2) is None  # another format: not trusted
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from kg.core.faults import crash_point
from kg.core.graphs import GraphRecord
from kg.core.store import Store
from kg.indexlock import build_lock, lock_path, note

log = logging.getLogger(__name__)
T = TypeVar("T")


def cache_dir(store: Store, kind: str) -> Path | None:
    """Where indices of ``kind`` for this store are kept (``None``: an in-memory store, no files).
    A snapshot reader (``traitkg serve --workers N``) shares the files of the store it copies."""
    env = os.environ.get("TRAITKG_CACHE")
    if env:
        return Path(env) / kind
    path = getattr(store, "path", None)
    if store.selector.startswith("oxigraph:"):
        return Path(str(path) + ".cache") / kind if path else None
    from kg.core.sources import cache_dir as user_cache

    return user_cache() / kind


def graphs_key(records: Iterable[GraphRecord], fmt: int, *extra: str) -> str:
    """The key of an index read from ``records``: changes with any graph's IRI, version, checksum
    or size, with the format number and with ``extra`` (parameters of the index)."""
    h = hashlib.sha256(f"format {fmt}\n".encode())
    for r in sorted(records, key=lambda r: r.iri):
        h.update(f"{r.iri}\t{r.version}\t{r.sha256}\t{r.triples}\t{r.byte_size}\n".encode())
    for x in extra:
        h.update(f"{x}\n".encode())
    return h.hexdigest()[:40]


def path_for(store: Store, kind: str, key: str) -> Path | None:
    d = cache_dir(store, kind)
    return d / f"{key}.npz" if d is not None else None


def save(path: Path, arrays: dict[str, np.ndarray], *, kind: str, fmt: int, meta: dict[str, Any] | None = None) -> Path:
    """Write ``arrays`` (and a JSON ``meta`` with the kind and format) as one ``.npz``, atomically."""
    note(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps({**(meta or {}), "kind": kind, "format": fmt})), **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: Path | None, *, kind: str, fmt: int) -> dict[str, Any] | None:
    """The arrays of an index file (``meta`` under ``"__meta__"`` as a dict), or ``None`` when it is
    missing, unreadable, or of another kind or format (logged: the caller rebuilds it). The arrays
    are mapped from the file, read-only (:func:`load_mapped`)."""
    if path is None or not path.is_file():
        return None
    try:
        out: dict[str, Any] = load_mapped(path)  # mapped, not read: the pages a start touches, shared
        meta = json.loads(str(out.pop("__meta__")))
        if meta.get("kind") != kind or meta.get("format") != fmt:
            log.info("%s: %s index format %s, expected %s; rebuilding", path, kind, meta.get("format"), fmt)
            return None
        out["__meta__"] = meta
        return out
    except Exception as exc:  # a damaged file is rebuilt, never trusted
        log.warning("%s index cache %s unreadable (%s); rebuilding", kind, path, exc)
        return None


def try_save(path: Path | None, arrays: dict[str, np.ndarray], *, kind: str, fmt: int,
             meta: dict[str, Any] | None = None) -> None:
    """:func:`save`, where a failure (read-only disk, no space) is logged, not raised: the index is
    still in memory and the next process builds it again."""
    if path is None:
        return
    try:
        save(path, arrays, kind=kind, fmt=fmt, meta=meta)
    except OSError as exc:
        log.warning("cannot write %s index cache %s: %s", kind, path, exc)


@dataclass
class Built(Generic[T]):
    """What a build function of :func:`load_or_build` gives: the index for this process, and the
    arrays (and meta) to keep in its file (``arrays=None``: nothing worth keeping, e.g. an empty
    store)."""

    value: T
    arrays: dict[str, np.ndarray] | None = None
    meta: dict[str, Any] | None = None


def load_or_build(path: Path | None, *, kind: str, fmt: int, read: Callable[[dict[str, Any]], T],
                  build: Callable[[], Built[T]],
                  complete: Callable[[dict[str, Any]], dict[str, np.ndarray] | None] | None = None) -> T:
    """The index kept in ``path``: ``read(arrays)`` of its file, else ``build()``'s value, its
    arrays written to the file. One process builds a missing file at a time: the others wait for
    :func:`kg.indexlock.build_lock`, then read the file the builder wrote. Where the lock cannot be taken (no
    cache directory, a read-only one) the index is built in memory, as each process did before.

    ``complete(arrays)`` gives the members an older file of this format lacks (``None`` when it has
    them all; it must be cheap then): they are added to the file under the same lock, by one
    process, and the others read the completed file."""
    note(path)
    got = load(path, kind=kind, fmt=fmt)
    if got is not None and complete is not None and complete(got) is not None:
        got = _completed(path, kind=kind, fmt=fmt, complete=complete)
    if got is None:
        with build_lock(path, kind) as held:
            got = load(path, kind=kind, fmt=fmt) if held else None  # written while this process waited?
            if got is None:
                crash_point(f"index:{kind}:building")
                t0 = time.perf_counter()
                made = build()
                if made.arrays is not None:
                    try_save(path, made.arrays, kind=kind, fmt=fmt, meta=made.meta)
                    log.info("%s index %s: built and written in %.1f s", kind, path, time.perf_counter() - t0)
                return made.value
            if complete is not None and complete(got) is not None:  # an older file written meanwhile
                got = _complete_held(path, got, kind=kind, fmt=fmt, complete=complete)
    try:
        return read(got)  # read after the lock is let go: other processes read the file meanwhile
    except (KeyError, IndexError, ValueError) as exc:  # a member missing or of another shape: never trusted
        log.warning("%s index %s unreadable (%s: %s); rebuilding", kind, path, type(exc).__name__, exc)
        made = build()
        if made.arrays is not None:
            try_save(path, made.arrays, kind=kind, fmt=fmt, meta=made.meta)
        return made.value


def _completed(path: Path | None, *, kind: str, fmt: int,
               complete: Callable[[dict[str, Any]], dict[str, np.ndarray] | None]) -> dict[str, Any] | None:
    """The file's arrays with the members ``complete`` adds, written by whichever process holds
    the build lock first (the others find them written when they get it); ``None`` when the file
    went meanwhile (the caller builds it)."""
    with build_lock(path, kind):
        got = load(path, kind=kind, fmt=fmt)
        if got is None or complete(got) is None:
            return got
        return _complete_held(path, got, kind=kind, fmt=fmt, complete=complete)


def _complete_held(path: Path | None, got: dict[str, Any], *, kind: str, fmt: int,
                   complete: Callable[[dict[str, Any]], dict[str, np.ndarray] | None]) -> dict[str, Any]:
    extra = complete(got) or {}
    out = {**got, **extra}
    meta = {k: v for k, v in got["__meta__"].items() if k not in ("kind", "format")}
    try_save(path, {k: v for k, v in out.items() if k != "__meta__"}, kind=kind, fmt=fmt, meta=meta)
    log.info("%s index %s: completed with %s", kind, path, ", ".join(sorted(extra)))
    return out


def prune(root: Path, keep: Collection[Path]) -> list[tuple[Path, int]]:
    """Remove the index files under the cache directory ``root`` (``<kind>/<key>.npz``) that are not
    in ``keep``, and the lock files of those removed that no process holds; returns each removed
    file with its size. A file being written (a temporary name) is left alone, and so is a lock a
    builder holds (its file, written later, goes at the next prune).

    A process that has a removed file mapped (a server started on an older store state) keeps
    reading it: removing a file removes its name, and the kernel keeps its pages until the last
    mapping or descriptor goes (Linux, and POSIX for ``unlink``); its disk space is freed then."""
    import fcntl

    keep = {Path(p).resolve() for p in keep}
    out: list[tuple[Path, int]] = []
    for p in sorted(root.glob("*/*.npz")):
        if p.parent.name.startswith(".") or p.resolve() in keep:
            continue
        try:
            size = p.stat().st_size
            p.unlink()
        except FileNotFoundError:  # removed meanwhile
            continue
        out.append((p, size))
        lock = lock_path(p)
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises where a builder holds it: left
            lock.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(fd)
    return out


# --------------------------------------------------------------------------- strings and lists

class StringTable:
    """Interns strings to ids while an index is written (``None`` is id -1)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def id(self, s: str | None) -> int:
        if s is None:
            return -1
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.index)
        return i

    def ids(self, items: Iterable[str | None]) -> np.ndarray:
        """The ids of ``items`` (interned in order of first appearance, as :meth:`id` one by one)."""
        items = items if isinstance(items, list) else list(items)
        index = self.index
        for s in dict.fromkeys(items):  # each distinct string once, in order of first appearance
            if s not in index:
                self.id(s)
        return np.fromiter(map(index.get, items, repeat(-1)), dtype=np.int64, count=len(items))

    def arrays(self, prefix: str = "strings") -> dict[str, np.ndarray]:
        return pack_strings(list(self.index), prefix)

    def lists(self, lists: Sequence[Iterable[str]]) -> tuple[np.ndarray, np.ndarray]:
        """A list of string collections as (offsets, ids): collection ``i`` is ``ids[off[i]:off[i+1]]``.
        A set is written sorted (``None`` last), not in its iteration order, which changes with each
        process's hash seed: the same collections give the same file in every process."""
        lists = [xs if isinstance(xs, (list, tuple)) else _sorted_set(xs) if isinstance(xs, (set, frozenset))
                 else list(xs) for xs in lists]
        lens = np.zeros(len(lists) + 1, dtype=np.int64)
        lens[1:] = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        return np.cumsum(lens), self.ids(list(chain.from_iterable(lists)))


def _sorted_set(xs: set[str | None] | frozenset[str | None]) -> list[str | None]:
    return sorted(xs, key=lambda x: (x is None, x or ""))


def pack_strings(items: Sequence[str], prefix: str = "strings") -> dict[str, np.ndarray]:
    """Strings as one UTF-8 blob and their character offsets (any character, NUL included)."""
    off = np.zeros(len(items) + 1, dtype=np.int64)
    if items:
        np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=len(items)), out=off[1:])
    blob = "".join(items).encode("utf-8", "surrogatepass")
    return {f"{prefix}_blob": np.frombuffer(blob, dtype=np.uint8), f"{prefix}_off": off}


def unpack_strings(arrays: dict[str, Any], prefix: str = "strings") -> list[str]:
    text = arrays[f"{prefix}_blob"].tobytes().decode("utf-8", "surrogatepass")
    off = arrays[f"{prefix}_off"].tolist()
    return [text[a:b] for a, b in zip(off[:-1], off[1:])]


def strings(arrays: dict[str, Any], prefix: str = "strings") -> np.ndarray:
    """The string table as an object array with ``None`` appended, so that ``table[ids]`` maps
    id -1 to ``None``."""
    s = unpack_strings(arrays, prefix)
    out = np.empty(len(s) + 1, dtype=object)
    out[:-1] = s
    out[-1] = None
    return out


def split(table: np.ndarray, off: np.ndarray, ids: np.ndarray) -> list[list[Any]]:
    """The lists written by :meth:`StringTable.lists`, as lists of strings."""
    vals = table[ids].tolist()
    o = off.tolist()
    return [vals[a:b] for a, b in zip(o[:-1], o[1:])]


def load_mapped(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed ``.npz`` (what :func:`numpy.savez` writes) mapped from the file,
    not read: a process starts without copying hundreds of megabytes, and processes that map one
    file share its pages. The arrays are read-only. Raises on anything but whole stored members."""
    import io
    import mmap
    import struct
    import zipfile

    note(path)
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"{path}: member {info.filename} is not a stored .npy")
            h = info.header_offset
            if view[h:h + 4] != b"PK\x03\x04":
                raise ValueError(f"{path}: bad local header of {info.filename}")
            name_len, extra_len = struct.unpack("<HH", view[h + 26:h + 30])
            start = h + 30 + name_len + extra_len
            data = view[start:start + info.file_size]
            if len(data) != info.file_size:
                raise ValueError(f"{path}: {info.filename} is cut short")
            f = io.BytesIO(data[:65536].tobytes())
            major, _ = np.lib.format.read_magic(f)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if major == 1
                                     else np.lib.format.read_array_header_2_0(f))
            if dtype.hasobject:
                raise ValueError(f"{path}: {info.filename} holds Python objects")
            count = int(np.prod(shape)) if shape else 1
            arr = np.frombuffer(data, dtype=dtype, count=count, offset=f.tell())
            out[info.filename[:-4]] = arr.reshape(shape, order="F" if fortran else "C")
    return out
