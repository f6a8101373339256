"""Running the scale bench's steps: a CLI command in a child process with its own peak RSS (from
``os.wait4``), stderr on a pseudo-terminal (so the CLI draws its progress bars as for a user, and
we can tell whether it did), and the raw pyoxigraph floor of a set of graphs."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
EXE = str(Path(sys.executable).parent / "traitkg")
_BAR = re.compile(rb"\d+%\||\d+(\.\d+)?[kMG]?(it|B|graph|file|row|rows|triple|node)?/s\]")


@dataclass
class Step:
    name: str
    seconds: float
    rss: int  # bytes, peak of the step's process
    bar: bool  # a progress bar was drawn on the terminal
    stdout: str
    graphs: list[str] = field(default_factory=list)  # the graphs the step made or changed
    floor_s: float = float("nan")
    floor_rss: int = 0
    quads: int = 0


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, bool, str]:
    """Run ``cmd``; (seconds, peak RSS bytes, drew a bar, stdout). Raises on a non-zero exit with its stderr."""
    master, slave = pty.openpty()
    # a terminal of 24 x 100 (a fresh pty has 0 columns, on which tqdm draws an empty bar)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    err = bytearray()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            err.extend(chunk)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    # A child forked from this process starts with this process's memory, and the kernel keeps that
    # high-water mark across exec: wait4's peak would never read below the bench's own RSS. GNU time
    # (a small process) forks the command itself, so its figure is the command's own.
    gnu_time = _gnu_time()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile(suffix=".rss") as rss_file:
        t0 = time.perf_counter()
        full = [gnu_time, "-f", "%M", "-o", rss_file.name, *cmd] if gnu_time else cmd
        p = subprocess.Popen(full, stdout=out, stderr=slave, stdin=subprocess.DEVNULL,
                             env={**os.environ, "COLUMNS": "100", **(env or {})})
        os.close(slave)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        peak = ru.ru_maxrss * 1024
        if gnu_time:
            text = Path(rss_file.name).read_text().strip().splitlines()
            if text and text[-1].isdigit():
                peak = int(text[-1]) * 1024
        p.returncode = os.waitstatus_to_exitcode(status)
        t.join(timeout=5)
        os.close(master)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if p.returncode != 0:
        tail = err.decode(errors="replace").replace("\r", "\n").strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {p.returncode}: {' | '.join(tail)}")
    return dt, peak, bool(_BAR.search(bytes(err))), text


def _gnu_time() -> str | None:
    exe = "/usr/bin/time"
    if not os.access(exe, os.X_OK):
        return None
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return exe if "GNU" in (r.stdout + r.stderr) else None


#: a user's installed traitkg runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as in
#: some sandboxes) every step would compile the package's modules again (~0.1-0.15 s of CPU a
#: process, a tenth of a small ontology's load), so the steps may write and reuse it
_BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}


def warm_bytecode(root: Path) -> None:
    """Compile traitkg's packages once, before the timed steps (as an install does)."""
    dirs = [str(root / d) for d in ("kg", "loaders", "ontologies", "api") if (root / d).is_dir()]
    subprocess.run([PY, "-m", "compileall", "-q", *dirs], env={**os.environ, **_BYTECODE},
                   stdout=subprocess.DEVNULL, check=False)


def cli(store: str, *args: str) -> tuple[float, int, bool, str]:
    return run([EXE, "--store", store, *args], env=_BYTECODE)


def graph_list(store: str) -> dict[str, int]:
    """IRI -> triples of every graph in the manifest."""
    out = subprocess.run([EXE, "--store", store, "graphs", "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    return {r["iri"]: int(r["triples"]) for r in json.loads(out)}


_FLOOR = r"""
import sys, time, resource, json, pyoxigraph as ox
src, dst, graphs = sys.argv[1], sys.argv[2], sys.argv[3:]
t_dump = time.perf_counter()
s = ox.Store.read_only(src) if hasattr(ox.Store, "read_only") else ox.Store(src)
import os
if len(graphs) == 1 and graphs != ["*"]:
    # one graph: its N-Triples are bulk-loaded into that graph as they are (no rewrite to N-Quads)
    path, fmt, to = dst + ".nt", ox.RdfFormat.N_TRIPLES, ox.NamedNode(graphs[0])
    s.dump(path, fmt, from_graph=to)
else:
    path, fmt, to = dst + ".nq", ox.RdfFormat.N_QUADS, None
    with open(path, "wb") as fh:
        if graphs == ["*"]:
            s.dump(fh, fmt)
        else:
            for g in graphs:  # N-Triples of one graph -> N-Quads naming it, in blocks (memory flat in the graph)
                nt = dst + ".nt"
                s.dump(nt, ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(g))
                gi = (" <" + g + "> .\n").encode()
                carry = b""
                with open(nt, "rb") as src_fh:
                    while block := src_fh.read(1 << 22):
                        block = carry + block
                        cut = block.rfind(b"\n") + 1
                        carry = block[cut:]
                        fh.write(block[:cut].replace(b" .\n", gi))
                os.unlink(nt)
del s
t_dump = time.perf_counter() - t_dump
t0 = time.perf_counter()
r = ox.Store(dst)
if to is None:
    r.bulk_load(path=path, format=fmt)
else:
    r.bulk_load(path=path, format=fmt, to_graph=to)
r.flush()
dt = time.perf_counter() - t0
os.unlink(path)
n = len(r)
print(json.dumps({"seconds": dt, "quads": n, "dump_seconds": t_dump}))
"""


def floor(store_dir: Path, graphs: list[str], work: Path) -> tuple[float, int, int, int]:
    """Raw pyoxigraph ``bulk_load`` of ``graphs`` (their quads as traitkg stored them, or ``["*"]``:
    the whole store) into a fresh on-disk store, in a child process: (seconds of the bulk load,
    peak RSS of that process, quads, size of the fresh store in bytes)."""
    dst = Path(tempfile.mkdtemp(dir=work, prefix="floor-"))
    target = dst / "store"
    _, rss, _, out = run([PY, "-c", _FLOOR, str(store_dir), str(target), *graphs])
    res = json.loads(out.strip().splitlines()[-1])
    FLOOR_DUMP_S[0] = res.get("dump_seconds", float("nan"))
    size = du(target)
    FLOOR_COMPRESSION.clear()
    FLOOR_COMPRESSION.update(sst_compression(target))
    subprocess.run(["rm", "-rf", str(dst)], check=True)
    return res["seconds"], rss, res["quads"], size


#: seconds the last floor spent dumping its graphs to a file (untimed in the floor; printed beside it)
FLOOR_DUMP_S: list[float] = [float("nan")]

#: :func:`sst_compression` of the last floor store, read before it was removed
FLOOR_COMPRESSION: dict[str, int] = {}


_DUMP = r"""
import sys, time, pyoxigraph as ox
s = ox.Store.read_only(sys.argv[1]) if hasattr(ox.Store, "read_only") else ox.Store(sys.argv[1])
t0 = time.perf_counter()
with open(sys.argv[2], "wb") as fh:
    s.dump(fh, ox.RdfFormat.N_QUADS)
print(time.perf_counter() - t0)
"""


def raw_dump(store_dir: Path, out: Path) -> tuple[float, int]:
    """A raw ``Store.dump`` of the whole store as N-Quads (the peer of `traitkg export`)."""
    _, rss, _, text = run([PY, "-c", _DUMP, str(store_dir), str(out)])
    return float(text.strip().splitlines()[-1]), rss


def du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


#: the ``rocksdb.compression`` table property: keys are prefix-compressed, so it is stored as the
#: tail ``ression`` after ``rocksdb.comparator``'s entry, followed by its value
_SST_COMPRESSION = re.compile(rb"ression(NoCompression|LZ4HC|LZ4|Snappy|ZSTD|Zlib|BZip2|Xpress)")


def sst_compression(path: Path) -> dict[str, int]:
    """Bytes of a RocksDB directory's SST files by the compression each was written with (the
    ``rocksdb.compression`` table property, read from the file's tail), e.g. ``{"LZ4": ...,
    "NoCompression": ...}``; files whose property is not found count as ``"?"``."""
    out: dict[str, int] = {}
    for f in Path(path).glob("*.sst"):
        try:
            size = f.stat().st_size
            with open(f, "rb") as fh:
                fh.seek(max(0, size - (64 << 10)))
                tail = fh.read()
        except OSError:
            continue
        m = _SST_COMPRESSION.search(tail)
        kind = m.group(1).decode() if m else "?"
        out[kind] = out.get(kind, 0) + size
    return out


_PARQUET_FLOOR = r"""
import sys, time, json, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
t0 = time.perf_counter()
pq.write_table(t, sys.argv[2], compression="zstd", row_group_size=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": t.num_rows}))
"""


def parquet_floor(path: Path, work: Path, row_group: int = 100_000) -> tuple[float, int]:
    """The side-table half of a side-store step's floor: a raw ``pyarrow.parquet.write_table`` of
    the rows the step wrote (read back from its file into memory first, not timed), zstd, the
    same row groups, in a child process: (seconds of the write, rows). A side-store step's floor is
    this plus :func:`floor` of the RDF graphs the step wrote."""
    out = Path(tempfile.mkdtemp(dir=work, prefix="pqfloor-")) / "t.parquet"
    _, _, _, text = run([PY, "-c", _PARQUET_FLOOR, str(path), str(out), str(row_group)])
    res = json.loads(text.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", str(out.parent)], check=True)
    return res["seconds"], res["rows"]
