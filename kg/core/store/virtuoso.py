"""Virtuoso's own bulk loader for large graph writes of a ``sparql:`` store (``ld_dir`` + ``rdf_loader_run``).

A Virtuoso reached through ``sparql:URL`` loads big graphs faster from files than from SPARQL or the
Graph Store Protocol (figures in docs/scale.md, "Virtuoso"). The remote store writes such a graph as an
N-Triples file into a directory the server can read (listed in its ``DirsAllowed``), registers it with
``DB.DBA.ld_dir(dir, file, graph)``, runs ``DB.DBA.rdf_loader_run()`` and reads the file's row of
``DB.DBA.LOAD_LIST``: a load the loader refused (its ``ll_error``) or never took up raises
:class:`BulkLoadFailed` with the loader's own message. The loader writes without Virtuoso's
transaction log, so :meth:`VirtuosoBulkLoader.checkpoint` (the store's ``flush``) makes the loaded
data durable before the manifest lists the graph.

Configured explicitly, never guessed: selector options ``isql=HOST:PORT`` (Virtuoso's SQL port, 1111
by default on a server), ``load-dir=DIR`` (where this process writes the files; must be in the
server's ``DirsAllowed``), ``server-dir=DIR`` (the same directory as the server sees it, when it is
mounted elsewhere there) and ``bulk-min=N``; the account from ``$TRAITKG_VIRTUOSO_USER`` and
``$TRAITKG_VIRTUOSO_PASSWORD`` (a user allowed to run the loader: ``dba`` or one granted it). It talks
SQL through Virtuoso's ODBC driver (``pyodbc``; the driver library from ``$TRAITKG_VIRTUOSO_ODBC`` or
Debian's ``libvirtodbc0``), so file names and graph IRIs are bound as parameters, never pasted into SQL.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kg.core.errors import QueryError, StoreUnavailable, TraitKGError, excerpt

log = logging.getLogger(__name__)

#: Environment variables holding the Virtuoso account the bulk loader runs as.
USER_ENV, PASSWORD_ENV, DRIVER_ENV = "TRAITKG_VIRTUOSO_USER", "TRAITKG_VIRTUOSO_PASSWORD", "TRAITKG_VIRTUOSO_ODBC"
#: Where Virtuoso's ODBC driver is found when ``$TRAITKG_VIRTUOSO_ODBC`` does not say.
DRIVERS = ("/usr/lib/x86_64-linux-gnu/odbc/virtodbc_r.so", "/usr/lib/aarch64-linux-gnu/odbc/virtodbc_r.so",
           "/usr/lib/odbc/virtodbc_r.so", "/usr/local/virtuoso-opensource/lib/virtodbc_r.so",
           "/opt/virtuoso-opensource/lib/virtodbc_r.so")
#: Graphs of at least this many triples go through the bulk loader; smaller ones through the Graph Store
#: Protocol, which wins below it (each bulk load pays a directory scan, a loader run and, once per
#: write, a checkpoint). bench/virtuoso_bulk.py, 2 shared cores: bulk/GSP 2.9x at 1,000 triples, 1.06x at
#: 20,000, 0.62x at 100,000, 0.84x at 400,000; they meet between 20,000 and 100,000.
BULK_MIN = 50_000


class BulkLoadFailed(TraitKGError, RuntimeError):
    """Virtuoso's bulk loader refused a file (its message from ``DB.DBA.LOAD_LIST``) or never loaded it."""


def result_set_max_rows(select: Callable[[str], Any], where: str) -> int | None:
    """Virtuoso's ``[SPARQL] ResultSetMaxRows`` (the most rows or triples it puts in one answer), read
    through SPARQL with ``select``; None where the server does not say (its SELECT answers still carry
    the limit in a header; its CONSTRUCT answers then go unchecked) or sets none."""
    q = "SELECT (bif:cfg_item_value(bif:virtuoso_ini_path(), 'SPARQL', 'ResultSetMaxRows') AS ?m) WHERE {}"
    try:
        rows = select(q).rows
    except (QueryError, StoreUnavailable) as exc:
        log.warning("%s: cannot read Virtuoso's ResultSetMaxRows (%s); CONSTRUCT answers cut at it cannot be "
                    "detected", where, exc)
        return None
    value = rows[0][0].value if rows and rows[0][0] is not None else ""
    return int(value) if value.isdigit() and int(value) > 0 else None


def _driver() -> str:
    given = os.environ.get(DRIVER_ENV)
    if given:
        if not Path(given).is_file():
            raise StoreUnavailable(f"${DRIVER_ENV}={excerpt(given)} is not a file (Virtuoso's ODBC driver, virtodbc_r.so)")
        return given
    for path in DRIVERS:
        if Path(path).is_file():
            return path
    raise StoreUnavailable(f"Virtuoso's ODBC driver (virtodbc_r.so) was not found in {', '.join(DRIVERS)}: "
                           f"install libvirtodbc0 or set ${DRIVER_ENV}")


class VirtuosoBulkLoader:
    """One SQL connection to a Virtuoso server and a load directory it reads.

    ``path()`` names a fresh file in the load directory; ``load(path, graph)`` bulk-loads it into
    ``graph`` and removes it; ``checkpoint()`` makes the loads durable (once, however many ran)."""

    def __init__(self, isql: str, load_dir: str, *, server_dir: str | None = None, bulk_min: int = BULK_MIN) -> None:
        host, _, port = isql.rpartition(":")
        if not host or not port.isdigit():
            raise StoreUnavailable(f"isql= wants HOST:PORT (Virtuoso's SQL port, e.g. 127.0.0.1:1111), got {excerpt(isql)}")
        user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
        if not user or password is None:
            raise StoreUnavailable(f"isql={isql} asks for Virtuoso's bulk loader: set ${USER_ENV} and ${PASSWORD_ENV} "
                                   "to an account allowed to run it (traitkg never guesses credentials)")
        self.load_dir = Path(load_dir).absolute()
        if not self.load_dir.is_dir() or not os.access(self.load_dir, os.W_OK):
            raise StoreUnavailable(f"load-dir={excerpt(load_dir)} is not a directory this process can write")
        self.server_dir = server_dir or str(self.load_dir)
        self.bulk_min = bulk_min
        self.isql = f"{host}:{port}"
        self._lock = threading.Lock()
        self._pending = False  # loaded since the last checkpoint
        self.files = 0  # files the bulk loader took (the rest of the writes went through SPARQL)
        import pyodbc  # local: only a store configured for Virtuoso's bulk loader needs ODBC

        self._odbc = pyodbc
        try:
            self._conn = pyodbc.connect(f"DRIVER={_driver()};HOST={self.isql};UID={user};PWD={password}",
                                        autocommit=True, timeout=10)
        except pyodbc.Error as exc:
            raise StoreUnavailable(f"cannot log in to Virtuoso at {self.isql} as {user!r}: {self._message(exc)}") from exc
        # Virtuoso's narrow driver speaks UTF-8 (IRIs with non-ASCII characters stay intact)
        self._conn.setencoding(encoding="utf-8")
        self._conn.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
        self._conn.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8")

    @staticmethod
    def _message(exc: Exception) -> str:
        text = str(exc.args[1] if len(exc.args) > 1 else exc)
        return " ".join(text.replace("[OpenLink][Virtuoso iODBC Driver][Virtuoso Server]", "").split())

    def _sql(self, sql: str, *params: Any) -> list[tuple]:
        cur = self._conn.cursor()
        try:
            cur.execute(sql, *params)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        except self._odbc.Error as exc:
            raise BulkLoadFailed(f"Virtuoso at {self.isql}: {self._message(exc)}") from exc
        finally:
            cur.close()

    def path(self) -> Path:
        """A new file name in the load directory (unique across processes and hosts)."""
        return self.load_dir / f"traitkg-{uuid.uuid4().hex}.nt"

    def load(self, path: Path, graph: str) -> None:
        """Bulk-load the N-Triples file ``path`` (in the load directory) into ``graph``; the file is
        removed either way. On failure the graph may hold part of the file: the caller drops it."""
        self.load_many([(path, graph)])

    def load_many(self, files: list[tuple[Path, str]]) -> None:
        """Bulk-load N-Triples files of the load directory, each into its graph, in ONE loader run (each
        run pays a scan and the loader's start: a batch of small graphs loads as one); the files are
        removed either way. Raises :class:`BulkLoadFailed` for the first file the loader refused or
        never took up, once the run has ended; the graphs may then hold part of their files: the
        caller drops them."""
        server = {path: f"{self.server_dir.rstrip('/')}/{path.name}" for path, _ in files}
        states: dict[Path, list[tuple]] = {}
        try:
            with self._lock:
                self._pending = True  # even a failed load may have written part of a file
                try:
                    for path, graph in files:
                        self._sql("DB.DBA.ld_dir(?, ?, ?)", self.server_dir, path.name, graph)
                    self._sql("DB.DBA.rdf_loader_run()")
                    states = {path: self._state(server[path]) for path, _ in files}
                finally:
                    for path, _ in files:
                        self._sql("DELETE FROM DB.DBA.LOAD_LIST WHERE ll_file = ?", server[path])
        finally:
            for path, _ in files:
                path.unlink(missing_ok=True)
        for path, graph in files:
            rows = states[path]
            if not rows:
                raise BulkLoadFailed(f"Virtuoso at {self.isql} found no {path.name} in {self.server_dir}: is "
                                     "server-dir= the load directory as the server sees it?")
            state, error = rows[0]
            if error:
                raise BulkLoadFailed(f"Virtuoso's bulk loader refused the data for {graph}: {' '.join(str(error).split())}")
            if state != 2:
                raise BulkLoadFailed(f"Virtuoso's bulk loader did not load {server[path]} into {graph} (state {state}): "
                                     "can the server read the load directory?")
        self.files += len(files)

    def _state(self, server_file: str) -> list[tuple]:
        """The file's LOAD_LIST row once no loader holds it: another session's ``rdf_loader_run`` may have
        taken it up (state 1) while ours found nothing left to do."""
        deadline = time.monotonic() + float(os.environ.get("TRAITKG_LOAD_TIMEOUT", "3600"))
        while True:
            rows = self._sql("SELECT ll_state, ll_error FROM DB.DBA.LOAD_LIST WHERE ll_file = ?", server_file)
            if not rows or rows[0][0] != 1 or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)

    def checkpoint(self) -> None:
        """Make what the bulk loader wrote durable (it writes without the transaction log)."""
        with self._lock:
            if self._pending:
                self._sql("checkpoint")
                self._pending = False

    def close(self) -> None:
        self._conn.close()
