"""Sources: a local path or a URL (downloaded once into a cache), gzip read transparently.

>>> from pathlib import Path
>>> s = Source.resolve(Path(__file__))
>>> s.format_hint
'py'
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kg.core.errors import ParseError, SourceNotFound, StoreUnavailable, one_line
from kg.core.graphs import sha256_file, slug

log = logging.getLogger(__name__)

#: The largest table cell any loader reads (1 MiB): a longer one is a corrupt or wrong file, refused
#: with its file and line instead of the csv module's "field larger than field limit".
MAX_CELL = 1 << 20
# raised once for the process (the default, 128 KiB, made a long cell a csv.Error traceback in every
# csv.reader); csv_rows turns a longer cell into a ParseError with its file and line
csv.field_size_limit(MAX_CELL)


def cache_dir() -> Path:
    """Where downloads are kept (``$TRAITKG_CACHE`` or ``~/.cache/traitkg``)."""
    return Path(os.environ.get("TRAITKG_CACHE") or Path.home() / ".cache" / "traitkg")


def is_url(text: str) -> bool:
    return str(text).startswith(("http://", "https://", "file://"))


def download(url: str, *, dest_dir: Path | None = None, timeout: float = 60.0,
             progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Fetch ``url`` into the cache (once; later calls reuse the file). Atomic: a partial
    download never appears under the final name."""
    import httpx

    dest_dir = dest_dir or cache_dir() / "downloads"
    dest_dir.mkdir(parents=True, exist_ok=True)
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.parse.unquote(parsed.path))
        if not path.is_file():
            raise SourceNotFound(f"{url}: no such file")
        return path
    name = Path(parsed.path).name or "index"
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    target = dest_dir / f"{digest}-{slug(name)}"
    if target.is_file():
        return target
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as r:
            if r.status_code == 404:
                raise SourceNotFound(f"{url}: 404 not found")
            if r.status_code >= 400:
                raise StoreUnavailable(f"{url}: HTTP {r.status_code}")
            total = int(r.headers.get("content-length") or 0) or None
            done = 0
            with open(tmp, "wb") as fh:
                for chunk in r.iter_bytes(1 << 20):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        tmp.replace(target)
    except httpx.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreUnavailable(f"cannot download {url}: {exc}. Download it by hand and pass the local path, "
                               f"or put it at {target}") from exc
    return target


class _Counting(io.RawIOBase):
    """Wraps a binary stream, reporting bytes read (for progress bars)."""

    def __init__(self, raw: IO[bytes], callback: Callable[[int], None]) -> None:
        self._raw, self._cb = raw, callback

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._cb(len(data))
        return data

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


@dataclass
class Source:
    """A resolved input file: where it came from, its checksum and how to open it."""

    path: Path
    origin: str  # the path or URL the user gave
    sha256: str
    size: int

    @classmethod
    def resolve(cls, ref: str | Path, **download_kw) -> Source:
        text = str(ref)
        if is_url(text):
            path = download(text, **download_kw)
            origin = text
        else:
            path = Path(text).expanduser()
            if not path.exists():
                raise SourceNotFound(f"{path}: no such file")
            if not path.is_file():
                raise SourceNotFound(f"{path}: not a file")
            origin = str(path.resolve())
        sha, size = sha256_file(path)
        return cls(path, origin, sha, size)

    @property
    def gzipped(self) -> bool:
        with open(self.path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"

    @property
    def stem(self) -> str:
        """File name without compression and format suffixes: ``uberon.owl.gz`` -> ``uberon``."""
        name = self.path.name
        if name.endswith(".gz"):
            name = name[:-3]
        return name.rsplit(".", 1)[0] if "." in name else name

    @property
    def format_hint(self) -> str:
        """The format extension, ignoring ``.gz``: ``uberon.owl.gz`` -> ``owl``."""
        name = self.path.name[:-3] if self.path.name.endswith(".gz") else self.path.name
        return name.rsplit(".", 1)[-1].lower() if "." in name else ""

    @contextmanager
    def open(self, progress: Callable[[int], None] | None = None) -> Iterator[IO[bytes]]:
        """Open for binary reading, decompressing gzip; ``progress(n)`` gets compressed bytes read."""
        raw: IO[bytes] = open(self.path, "rb")
        try:
            stream: IO[bytes] = raw
            if progress:
                stream = io.BufferedReader(_Counting(raw, progress), 1 << 20)  # type: ignore[arg-type]
            if self.gzipped:
                stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
            yield stream
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            if isinstance(exc, (EOFError, gzip.BadGzipFile)) or "gzip" in str(exc).lower() \
                    or "Compressed file" in str(exc):
                raise ParseError(f"truncated or corrupt gzip data ({exc})", source=str(self.path)) from exc
            raise
        finally:
            raw.close()

    @contextmanager
    def pipe(self, progress: Callable[[int], None] | None = None) -> Iterator[str | IO[bytes]]:
        """A path the store's parser reads natively (outside the GIL), fed the decompressed bytes
        by a thread: decompression runs beside the parse instead of inside its read calls. Where
        there are no ``/dev/fd`` paths, the stream of :meth:`open` instead. Errors of the feed
        (truncated gzip) are raised when the block ends, before any error of the reader."""
        import threading

        if not os.path.isdir("/dev/fd"):
            with self.open(progress) as fh:
                yield fh
            return
        r, w = os.pipe()
        _widen_pipe(w)
        failed: list[BaseException] = []
        stop = threading.Event()

        def feed() -> None:
            try:
                with self.open(progress) as fh, open(w, "wb", buffering=0, closefd=True) as out:
                    while not stop.is_set():
                        block = fh.read(1 << 20)
                        if not block:
                            break
                        out.write(block)
            except BrokenPipeError:
                pass  # the reader stopped (its own error is raised)
            except BaseException as exc:  # re-raised in the caller's thread
                failed.append(exc)

        t = threading.Thread(target=feed, name=f"feed {self.path.name}", daemon=True)
        t.start()
        try:
            try:
                yield f"/dev/fd/{r}"
            finally:
                # the reader may have stopped early (an error) and still hold its own copy of the
                # pipe: the feeder stops after its current block, which is drained here
                stop.set()
                while os.read(r, 1 << 20):
                    pass
                os.close(r)
                t.join()
        except BaseException:
            if failed:
                raise failed[0] from None
            raise
        if failed:
            raise failed[0]

    def xml_root(self) -> Any:
        """The root element of an XML file (lxml; comments dropped, large documents allowed);
        malformed XML raises :class:`ParseError` with the file, line and column."""
        from lxml import etree

        try:
            with self.open() as fh:
                return etree.parse(fh, etree.XMLParser(remove_comments=True, huge_tree=True)).getroot()
        except etree.XMLSyntaxError as exc:
            line, col = exc.position if getattr(exc, "position", None) else (exc.lineno, None)
            raise ParseError(f"malformed XML: {one_line(exc.msg, 200)}", source=str(self.path), line=line,
                             column=col) from None
        except OSError as exc:  # lxml's read errors (e.g. an encoding it cannot switch to), not a missing file
            if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
                raise
            raise ParseError(f"unreadable XML: {one_line(str(exc), 200)}", source=str(self.path)) from None

    def read_text(self, encoding: str = "utf-8") -> str:
        with self.open() as fh:
            data = fh.read()
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ParseError(f"not valid {encoding} text", source=str(self.path), line=line) from exc


def _widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Give a pipe a 1 MiB buffer where the system allows (Linux): the parser at the other end reads
    what the pipe holds, and a parser that re-scans a long token on every read (pyoxigraph's Turtle
    lexer does) took 25 s instead of 2 to refuse a 20 MiB line through the default 64 KiB pipe."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass


def sniff_delimiter(text: str, candidates: str = ",\t") -> str:
    r"""The candidate that occurs most often in the first line (the first candidate on a tie).

    >>> sniff_delimiter("order\tfamily,genus\tspecies")
    '\t'
    """
    first = text.split("\n", 1)[0]
    return max(candidates, key=lambda d: (first.count(d), -candidates.index(d)))


def csv_rows(text: str | Iterable[str], *, source: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    r"""The rows of CSV/TSV text (a string, or its lines as a text stream opened with
    ``newline=""``), each with the line it starts on (quoted cells may span lines).
    Every table loader reads through here: a cell longer than :data:`MAX_CELL`, a NUL byte or an
    unclosed quote raises :class:`ParseError` with the file and line, never ``csv.Error``.

    >>> [(line, row) for line, row in csv_rows('a,b\n"x\ny",z\n', source="t.csv")]
    [(1, ['a', 'b']), (2, ['x\ny', 'z'])]
    """
    if csv.field_size_limit() != MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text, delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise ParseError(f"a cell longer than {MAX_CELL >> 20} MiB (a table cell holds at most that; "
                                 "is this the right file?)", source=source, line=start) from None
            if "NUL" in str(exc):
                raise ParseError("a NUL byte: this is binary data, not a text table", source=source,
                                 line=start) from None
            raise ParseError(f"malformed table: {exc}", source=source, line=start) from None
        yield start, row
        start = reader.line_num + 1

