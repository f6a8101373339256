"""One graph as canonical N-Quads in a file, streamed: the bytes :func:`canonical_nquads` would give
(typed literals in canonical form, canonical blank node labels, lines sorted bytewise), with the
sha256, size and line count taken while writing, in memory that does not grow with the graph.

The engine writes the graph's N-Triples (``Store.dump(from_graph=...)`` in Rust); an external sort
orders the lines (GNU ``sort`` with ``LC_ALL=C`` when present: bounded buffer, temporary runs on
disk, both cores; else sorted runs in Python merged with :func:`heapq.merge`); the sorted lines get
the graph's name and go to the file through the hash. Sorting N-Triples lines and then appending
the same `` <g>`` to each gives the order of the N-Quads lines: a triple's text is never a prefix
of another's followed by a space, so the appended text never decides a comparison.

Stores whose engine writes literals in another form (remote endpoints: Virtuoso), and graphs with
blank nodes (their labels need the canonicalisation algorithm over the whole graph: ontologies'
OWL axioms, not the graphs that grow with the data), take :func:`canonical_nquads` in memory.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from kg.core.store.base import RdfFormat, Store

#: bytes of lines sorted in memory at once (GNU sort's buffer; a Python run)
SORT_BUFFER = 256 << 20
BLOCK = 1 << 20


@dataclass
class GraphFile:
    """What was written: sha256 of the file, its size in bytes, and its quads (= lines)."""

    sha256: str
    bytes: int
    quads: int
    streamed: bool  # False: the graph took the in-memory path (blank nodes, or a non-canonical engine)


class _Sink:
    """Sorted N-Triples lines in, the graph's N-Quads lines out to ``fh`` through sha256."""

    def __init__(self, fh: IO[bytes], graph: str, progress: Callable[[int], None] | None) -> None:
        self.fh, self.suffix = fh, f" <{graph}> .\n".encode()
        self.sha, self.size, self.lines, self.blank = hashlib.sha256(), 0, 0, False
        self.progress = progress

    def write_lines(self, block: bytes) -> None:
        """``block``: whole N-Triples lines."""
        # a blank subject starts a line; a blank object follows the predicate's IRI (``> _:``, which a
        # literal may hold too: then the graph takes the slow path, still right)
        if not self.blank and (block.startswith(b"_:") or b"\n_:" in block or b"> _:" in block):
            self.blank = True
        out = block.replace(b" .\n", self.suffix)  # the only unescaped newline of a line is its last byte
        self.sha.update(out)
        self.fh.write(out)
        self.size += len(out)
        n = block.count(b"\n")
        self.lines += n
        if self.progress:
            self.progress(n)


def _gnu_sort() -> str | None:
    exe = shutil.which("sort")
    if exe is None:
        return None
    try:
        v = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if "GNU coreutils" in v else None


def _sorted_gnu(exe: str, dump: Callable[[IO[bytes]], None], tmp: Path) -> Iterator[bytes]:
    """The engine's dump piped into GNU sort (which reads while the engine writes, on the other core)."""
    cmd = [exe, "-S", str(SORT_BUFFER // 1024) + "K", f"--parallel={max(1, os.cpu_count() or 1)}",
           "-T", str(tmp)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "LC_ALL": "C"})
    assert p.stdin is not None and p.stdout is not None and p.stderr is not None
    err = bytearray()
    t = threading.Thread(target=lambda: err.extend(p.stderr.read()), daemon=True)  # type: ignore[union-attr]
    t.start()
    try:
        try:
            dump(p.stdin)
        finally:
            p.stdin.close()
        while block := p.stdout.read(BLOCK):
            yield block
    finally:
        p.stdout.close()
        rc = p.wait()
        t.join()
    if rc != 0:
        raise OSError(f"sort exited {rc}: {err.decode(errors='replace').strip()[-500:]}")


class _Runs(io.RawIOBase):
    """A writable file that cuts what it is given into sorted runs of at most ``SORT_BUFFER`` bytes."""

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self.tmp, self.buf, self.runs = tmp, bytearray(), []  # type: ignore[var-annotated]

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def,override]
        self.buf += b
        if len(self.buf) >= SORT_BUFFER:
            self.spill(final=False)
        return len(b)

    def spill(self, final: bool) -> None:
        cut = len(self.buf) if final else self.buf.rfind(b"\n") + 1
        if cut == 0:
            return
        lines = bytes(self.buf[:cut]).splitlines(keepends=True)
        del self.buf[:cut]
        lines.sort()
        f = tempfile.TemporaryFile(dir=self.tmp)
        f.write(b"".join(lines))
        f.seek(0)
        self.runs.append(f)


def _sorted_python(dump: Callable[[IO[bytes]], None], tmp: Path) -> Iterator[bytes]:
    runs = _Runs(tmp)
    dump(runs)  # type: ignore[arg-type]
    runs.spill(final=True)
    try:
        out: list[bytes] = []
        size = 0
        for line in heapq.merge(*runs.runs):
            out.append(line)
            size += len(line)
            if size >= BLOCK:
                yield b"".join(out)
                out, size = [], 0
        if out:
            yield b"".join(out)
    finally:
        for f in runs.runs:
            f.close()


def write_canonical_graph(store: Store, graph: str, path: str | Path, *,
                          progress: Callable[[int], None] | None = None) -> GraphFile:
    """Write ``graph`` of ``store`` to ``path`` as canonical N-Quads (see the module's doc);
    ``progress(n)`` is told of every ``n`` quads written."""
    from kg.core.store import canonical_nquads

    path = Path(path)
    told = 0
    dump_triples = getattr(store, "dump_triples", None)
    if dump_triples is not None and getattr(store, "canonical_literals", False):
        exe = _gnu_sort()
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".sort-") as tmp, open(path, "wb") as fh:
            sink = _Sink(fh, graph, progress)
            blocks = (_sorted_gnu(exe, lambda out: dump_triples(graph, out), Path(tmp)) if exe
                      else _sorted_python(lambda out: dump_triples(graph, out), Path(tmp)))
            carry = b""
            for block in blocks:
                block = carry + block
                cut = block.rfind(b"\n") + 1
                carry = block[cut:]
                if cut:
                    sink.write_lines(block[:cut])
            if carry:
                raise OSError(f"dump of {graph} ended inside a line")
            if not sink.blank:
                return GraphFile(sink.sha.hexdigest(), sink.size, sink.lines, True)
            told = sink.lines
    # blank nodes (or an engine with its own literal forms): the whole graph in memory
    buf = io.BytesIO()
    store.dump_graph(graph, buf)
    data = canonical_nquads(ox.parse(buf.getvalue(), format=RdfFormat.N_QUADS))
    del buf
    path.write_bytes(data)
    n = data.count(b"\n")
    if progress and n > told:
        progress(n - told)
    return GraphFile(hashlib.sha256(data).hexdigest(), len(data), n, False)


__all__ = ["GraphFile", "write_canonical_graph", "SORT_BUFFER"]
