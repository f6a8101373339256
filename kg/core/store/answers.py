"""A remote endpoint's answer read as it arrives, and checked to be whole.

:class:`Body` turns a streamed HTTP response into the file pyoxigraph's parsers read, so a caller
that stops early (a result limit) never downloads the rest. Virtuoso writes blank nodes in SPARQL
JSON results as ``nodeID://b10006``, which is not a valid label; the body rewrites them on the way
(labels are scoped to one answer, so renaming is safe).

Virtuoso cuts every answer at its ``[SPARQL] ResultSetMaxRows`` (10,000 in Debian's virtuoso.ini)
and still answers 200. Measured on Virtuoso 7.2 (``tests/kg/test_remote_answers.py``): a SELECT
answer of that many rows carries ``X-SPARQL-MaxRows: N`` (also when it is exactly whole at N rows);
a CONSTRUCT answer is cut at N triples with no header at all. :func:`check_whole` raises
:class:`~kg.core.errors.AnswerTruncated` for an answer that reached the limit, so a partial answer
is never taken for the whole one. An "anytime" answer (Virtuoso's partial result after its time
limit, ``X-SQL-State``) is refused the same way.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping

from kg.core.errors import AnswerTruncated

MAX_ROWS_HEADER = "x-sparql-maxrows"
#: Virtuoso's blank node in SPARQL JSON results; one binding never spans a line in its output
_BNODE = re.compile(rb'("type"[ \t]*:[ \t]*"bnode"[ \t]*,[ \t]*"value"[ \t]*:[ \t]*")nodeID://')
_OWN_LIMIT = re.compile(r"\bLIMIT\s+(\d+)", re.IGNORECASE)


def portable_bnodes(content: bytes) -> bytes:
    r"""SPARQL JSON results with Virtuoso's blank node labels made valid labels.

    >>> portable_bnodes(b'{"x": { "type": "bnode", "value": "nodeID://b1" }, "y": {"value": "nodeID://b1"}}')
    b'{"x": { "type": "bnode", "value": "nodeID_b1" }, "y": {"value": "nodeID://b1"}}'
    """
    return _BNODE.sub(rb"\1nodeID_", content) if b"nodeID://" in content else content


class Body(io.RawIOBase):
    """The bytes of a streamed HTTP response as a read-only file; ``bnodes=True`` rewrites Virtuoso's
    blank node labels in its SPARQL JSON results a line at a time (Virtuoso writes a row a line), so a
    label cut between two chunks is still found. Other servers' answers pass as they arrive (Oxigraph
    writes a whole answer on one line)."""

    def __init__(self, chunks: Iterator[bytes], *, bnodes: bool = False) -> None:
        self._chunks = chunks
        self._bnodes = bnodes
        self._buf = b""
        self._carry = b""  # the last, unfinished line, held until its end arrives (bnodes only)
        self._done = False

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        for chunk in self._chunks:
            if not self._bnodes:
                self._buf = chunk
                return True
            text = self._carry + chunk
            cut = text.rfind(b"\n") + 1
            self._carry = text[cut:]
            if cut:
                self._buf = portable_bnodes(text[:cut])
                return True
        if self._carry:
            self._buf, self._carry = portable_bnodes(self._carry), b""
            return True
        self._done = True
        return False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            if self._done or not self._more():
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def own_limit(sparql: str) -> int | None:
    """The query's own top-level LIMIT (written after its last ``}``), if it has one.

    >>> own_limit("SELECT ?s WHERE { { SELECT ?s WHERE { ?s ?p ?o } LIMIT 3 } } LIMIT 10 OFFSET 2")
    10
    >>> own_limit("SELECT ?s WHERE { { SELECT ?s WHERE { ?s ?p ?o } LIMIT 3 } }") is None
    True
    """
    m = _OWN_LIMIT.search(sparql[sparql.rfind("}") + 1:])
    return int(m.group(1)) if m else None


def check_whole(where: str, headers: Mapping[str, str], got: int, sparql: str, *, max_rows: int | None, what: str) -> None:
    """Raise :class:`AnswerTruncated` when an answer of ``got`` rows or triples may have been cut by the
    server: ``got`` reached its row limit (``max_rows``, or the ``X-SPARQL-MaxRows`` header), unless the
    query's own LIMIT already stops it there; or the server says the answer is partial (``X-SQL-State``)."""
    state = headers.get("x-sql-state")
    if state:
        raise AnswerTruncated(f"{where} answered a partial result ({state}: {headers.get('x-sql-message') or 'time limit'}); "
                              "the partial answer was not used: raise the server's time limit or narrow the query")
    cap = headers.get(MAX_ROWS_HEADER)
    limit = int(cap) if cap and cap.isdigit() else max_rows
    if limit is None or got < limit:
        return
    own = own_limit(sparql)
    if own is not None and own <= limit:
        return
    raise AnswerTruncated(f"{where} cut the answer at its row limit ({limit:,} {what}; Virtuoso: [SPARQL] "
                          "ResultSetMaxRows in virtuoso.ini): the partial answer was not used; raise the limit above "
                          "the largest answer traitkg reads, or add a LIMIT to the query")
