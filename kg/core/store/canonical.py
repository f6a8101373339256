"""One graph as canonical N-Quads in a file, streamed: the bytes :func:`canonical_nquads` would give
(typed literals in canonical form, canonical blank node labels, lines sorted bytewise), with the
sha256, size and line count taken while writing.

The engine writes the graph's N-Triples (``Store.dump(from_graph=...)`` in Rust); an external sort
orders the lines (GNU ``sort`` with ``LC_ALL=C`` when present: bounded buffer, temporary runs on
disk, both cores; else sorted runs in Python merged with :func:`heapq.merge`); the sorted lines get
the graph's name and go to the file through the hash. Sorting N-Triples lines and then appending
the same `` <g>`` to each gives the order of the N-Quads lines: a triple's text is never a prefix
of another's followed by a space, so the appended text never decides a comparison.

Lines naming a blank node (ontologies' OWL axioms) are taken out of the stream on their way to the
sort: the canonicalisation algorithm labels blank nodes from the quads that name them only, so
those lines alone are relabelled in memory (the engine's algorithm, as :func:`canonical_nquads`),
sorted, and merged into the sorted stream. Memory grows with a graph's blank node quads, not with
the graph; graphs without blank nodes hold nothing.

Stores whose engine writes literals in another form (remote endpoints: Virtuoso) take
:func:`canonical_nquads` over the whole graph in memory.
"""

from __future__ import annotations

import bisect
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
    streamed: bool  # False: the graph took the in-memory path (an engine with its own literal forms)
    blank: int = 0  # of the quads, those naming blank nodes (relabelled in memory, the rest streamed)


class _Sink:
    """The graph's sorted N-Quads lines in, to ``fh`` through sha256, counting bytes and lines."""

    def __init__(self, fh: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self.fh, self.sha, self.size, self.lines = fh, hashlib.sha256(), 0, 0
        self.progress = progress

    def write(self, out: bytes) -> None:
        self.sha.update(out)
        self.fh.write(out)
        self.size += len(out)
        n = out.count(b"\n")
        self.lines += n
        if self.progress:
            self.progress(n)


def _has_blank(line: bytes) -> bool:
    """Whether an N-Triples line names a blank node: its subject (``_:x <p> ...``) or its object
    (after the subject and the predicate, neither of which holds a space); a quoted triple as the
    object is checked as a whole."""
    if line.startswith(b"_:"):
        return True
    parts = line.split(b" ", 2)
    return len(parts) == 3 and (parts[2].startswith(b"_:") or (parts[2].startswith(b"<<") and b"_:" in parts[2]))


class _Split(io.RawIOBase):
    """A writable file for the engine's N-Triples: lines naming no blank node go on to ``out`` (the
    sort), the others are kept (bytes) for the canonicalisation algorithm."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__()
        self.out, self.carry, self.blank = out, b"", bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def,override]
        data = self.carry + bytes(b) if self.carry else bytes(b)
        cut = data.rfind(b"\n") + 1
        self.carry = data[cut:]
        if cut:
            block = data[:cut] if cut < len(data) else data
            if b"_:" not in block:  # the usual block: no blank node, not even in a literal
                self.out.write(block)
            else:
                keep = []
                for line in block[:-1].split(b"\n"):
                    if _has_blank(line):
                        self.blank += line
                        self.blank += b"\n"
                    else:
                        keep.append(line)
                if keep:
                    self.out.write(b"\n".join(keep) + b"\n")
        return len(b)

    def finish(self) -> None:
        if self.carry:
            raise OSError("the engine's dump ended inside a line")
        self.out.flush()


def _canonical_blank_lines(ntriples: bytes, graph: str) -> list[bytes]:
    """The triples naming blank nodes, in ``graph``, relabelled by the canonicalisation algorithm
    (that of :func:`canonical_nquads`; the engine's literals are already canonical): N-Quads lines,
    sorted. The labels depend only on the quads that name blank nodes, so the graph's other quads
    need not be held."""
    ds = ox.Dataset(ox.parse(ntriples.replace(b" .\n", f" <{graph}> .\n".encode()), format=RdfFormat.N_QUADS))
    ds.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    text = ox.serialize(ds, format=RdfFormat.N_QUADS) or b""
    del ds
    lines = [line + b"\n" for line in text[:-1].split(b"\n")] if text else []
    lines.sort()
    return lines


def _merged(blocks: Iterator[bytes], extra: list[bytes]) -> Iterator[bytes]:
    """Blocks of sorted lines with the sorted lines ``extra`` merged in, still in blocks."""
    i, n = 0, len(extra)
    for block in blocks:
        if i < n and extra[i] < block[block.rfind(b"\n", 0, -1) + 1:]:
            lines = [line + b"\n" for line in block[:-1].split(b"\n")]
            j = bisect.bisect_left(extra, lines[-1], i)
            block = b"".join(heapq.merge(lines, extra[i:j]))
            i = j
        yield block
    if i < n:
        yield b"".join(extra[i:])


def _gnu_sort() -> str | None:
    exe = shutil.which("sort")
    if exe is None:
        return None
    try:
        v = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if "GNU coreutils" in v else None


def _sorted_gnu(exe: str, dump: Callable[[IO[bytes]], None], tmp: Path,
                then: Callable[[], None] = lambda: None) -> Iterator[bytes]:
    """The engine's dump piped into GNU sort (which reads while the engine writes, on the other
    core); ``then()`` runs once the dump has ended, while the sort finishes."""
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
        then()
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


def _sorted_python(dump: Callable[[IO[bytes]], None], tmp: Path,
                   then: Callable[[], None] = lambda: None) -> Iterator[bytes]:
    runs = _Runs(tmp)
    dump(runs)  # type: ignore[arg-type]
    runs.spill(final=True)
    then()
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
    dump_triples = getattr(store, "dump_triples", None)
    if dump_triples is not None and getattr(store, "canonical_literals", False):
        exe = _gnu_sort()
        suffix = f" <{graph}> .\n".encode()
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".sort-") as tmp, open(path, "wb") as fh:
            split: list[_Split] = []
            blank: list[bytes] = []

            def dump(out: IO[bytes]) -> None:
                sp = _Split(out)
                split.append(sp)
                with io.BufferedWriter(sp, BLOCK) as buffered:  # the engine writes 8 KB at a time
                    dump_triples(graph, buffered)
                sp.finish()

            def relabel() -> None:  # the dump has ended (the sort goes on): the blank node lines are known
                if split[0].blank:
                    blank.extend(_canonical_blank_lines(bytes(split[0].blank), graph))
                    split[0].blank = bytearray()

            blocks = (_sorted_gnu(exe, dump, Path(tmp), relabel) if exe
                      else _sorted_python(dump, Path(tmp), relabel))
            sink = _Sink(fh, progress)
            quads = _nquads(blocks, suffix, graph)
            first = next(quads, None)  # runs the dump and the relabelling
            for out in _merged(quads if first is None else _chain(first, quads), blank):
                sink.write(out)
            return GraphFile(sink.sha.hexdigest(), sink.size, sink.lines, True, len(blank))
    # an engine with its own literal forms: the whole graph in memory
    buf = io.BytesIO()
    store.dump_graph(graph, buf)
    data = canonical_nquads(ox.parse(buf.getvalue(), format=RdfFormat.N_QUADS))
    del buf
    path.write_bytes(data)
    n = data.count(b"\n")
    if progress and n:
        progress(n)
    return GraphFile(hashlib.sha256(data).hexdigest(), len(data), n, False)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _nquads(blocks: Iterator[bytes], suffix: bytes, graph: str) -> Iterator[bytes]:
    """Sorted N-Triples blocks (cut anywhere) as blocks of whole N-Quads lines naming ``graph``."""
    carry = b""
    for block in blocks:
        block = carry + block
        cut = block.rfind(b"\n") + 1
        carry = block[cut:]
        if cut:
            # the only unescaped newline of a line is its last byte
            yield block[:cut].replace(b" .\n", suffix)
    if carry:
        raise OSError(f"dump of {graph} ended inside a line")


__all__ = ["GraphFile", "write_canonical_graph", "SORT_BUFFER"]
