"""Shared fixtures: stores on both backends (a real Oxigraph server on loopback, no mocks),
the toy world in tests/data and the real data in $TRAITKG_SHARED_DATA (default ../shared/data).

Tests that use the ``shared`` fixture are marked ``shared_data``. Without the data they are skipped
(one summary line counts them); with ``TRAITKG_REQUIRE_SHARED_DATA=1`` (CI) missing data fails the run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOY = ROOT / "tests" / "data"

#: The one setting for the real third-party data used by the integration tests and the benches.
SHARED_DATA_ENV = "TRAITKG_SHARED_DATA"
#: Set to 1 (CI does) to make missing shared data fail the run instead of skipping its tests.
REQUIRE_SHARED_DATA_ENV = "TRAITKG_REQUIRE_SHARED_DATA"
SHARED_DATA_DEFAULT = ROOT.parent / "shared" / "data"
_SKIP_TAG = "shared data not found at"


def shared_data_dir() -> Path:
    """``$TRAITKG_SHARED_DATA`` if set, else ``../shared/data`` beside the repository (benches use it too)."""
    value = os.environ.get(SHARED_DATA_ENV)
    return Path(value).expanduser().absolute() if value else SHARED_DATA_DEFAULT


def shared_data_required() -> bool:
    """Whether missing shared data must fail the run (``TRAITKG_REQUIRE_SHARED_DATA=1``)."""
    return os.environ.get(REQUIRE_SHARED_DATA_ENV, "").strip() not in ("", "0")


def shared_data_missing(path: Path) -> str:
    """Why the shared-data tests cannot run, and how to give them the data."""
    if os.environ.get(SHARED_DATA_ENV):
        how = (f"(from {SHARED_DATA_ENV}): point {SHARED_DATA_ENV} at the data, or unset it and put the "
               f"data at {SHARED_DATA_DEFAULT}")
    else:
        how = f"(the default, ../shared/data): put the data there or set {SHARED_DATA_ENV}=/path/to/the/data"
    return f"{_SKIP_TAG} {path} {how} (README, 'Test data')"


SHARED = shared_data_dir()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", f"shared_data: reads the real data in ${SHARED_DATA_ENV} "
                                       "(default ../shared/data); set on every test using the `shared` fixture")


def pytest_sessionstart(session) -> None:
    if shared_data_required() and not SHARED.is_dir():
        raise pytest.UsageError(f"{REQUIRE_SHARED_DATA_ENV}=1 but {shared_data_missing(SHARED)}")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "shared" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and _SKIP_TAG in r.longrepr[2]]
    if skipped:
        n = len(skipped)
        terminalreporter.write_line(f"{n} test{'s' if n != 1 else ''} skipped: {shared_data_missing(SHARED)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _oxigraph_binary() -> str:
    exe = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(exe).exists():
        raise RuntimeError("the `oxigraph` server binary is missing: pip install oxigraph (make setup does)")
    return exe


class LoopbackServer:
    """A server process on loopback, started by a fixture and stopped by it."""

    name = "server"

    def _start(self, cmd: list[str], port: int, *, seconds: float, **kw) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
        deadline = time.time() + seconds
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.proc.stderr.read().decode()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.name} did not start within {seconds:.0f} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class OxigraphServer(LoopbackServer):
    """``oxigraph serve`` on a free loopback port."""

    name = "oxigraph serve"

    def __init__(self, location: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._start([_oxigraph_binary(), "serve", "--location", str(location), "--bind", f"127.0.0.1:{self.port}"],
                    self.port, seconds=30)

    @property
    def selector(self) -> str:
        return f"sparql:{self.url}/query"


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    srv = OxigraphServer(tmp_path_factory.mktemp("oxigraph-server"))
    yield srv
    srv.stop()


_VIRTUOSO_INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
CaseMode = 2
DirsAllowed = ., {d}/load
NumberOfBuffers = 170000
MaxDirtyBuffers = 130000
[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerThreads = 10
Charset = UTF-8
[SPARQL]
ResultSetMaxRows = {max_rows}
MaxQueryExecutionTime = 300
"""


class VirtuosoServer(LoopbackServer):
    """Debian's Virtuoso 7 (``virtuoso-t``) on free loopback ports, its SPARQL user allowed to
    update; the graphs it holds of its own are remembered so that clearing leaves them alone."""

    name = "virtuoso-t"

    def __init__(self, location: Path, *, max_rows: int = 10_000_000) -> None:
        exe = shutil.which("virtuoso-t")
        if not exe or not shutil.which("isql-vt"):
            raise RuntimeError("Virtuoso is missing: apt-get install virtuoso-opensource (make system-deps does)")
        self.sql, self.port = free_port(), free_port()
        self.load_dir = location / "load"  # in DirsAllowed: Virtuoso's bulk loader reads files from here
        self.load_dir.mkdir()
        ini = location / "virtuoso.ini"
        ini.write_text(_VIRTUOSO_INI.format(d=location, sql=self.sql, http=self.port, max_rows=max_rows))
        self.max_rows = max_rows  # [SPARQL] ResultSetMaxRows: every answer is cut there
        self.url = f"http://127.0.0.1:{self.port}"
        self._start([exe, "+foreground", "+configfile", str(ini)], self.port, seconds=90, cwd=location)
        subprocess.run(["isql-vt", f"127.0.0.1:{self.sql}", "dba", "dba",
                        'exec=GRANT SPARQL_UPDATE TO "SPARQL";'], check=True, capture_output=True, timeout=60)
        self.system_graphs = set(self._graphs())

    def _graphs(self) -> list[str]:
        from kg.core.store import open_store

        s = open_store(self.selector)
        try:
            return [r[0].value for r in s.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").rows]
        finally:
            s.close()

    @property
    def selector(self) -> str:
        return f"sparql:{self.url}/sparql"

    #: the account of a fresh Virtuoso database (this fixture's own server), for its bulk loader
    credentials = {"TRAITKG_VIRTUOSO_USER": "dba", "TRAITKG_VIRTUOSO_PASSWORD": "dba"}

    def bulk_selector(self, bulk_min: int = 0) -> str:
        """The selector that loads graphs of ``bulk_min`` triples or more through Virtuoso's bulk loader
        (needs :attr:`credentials` in the environment)."""
        return f"{self.selector},isql=127.0.0.1:{self.sql},load-dir={self.load_dir},bulk-min={bulk_min}"

    def clear(self) -> None:
        from kg.core.store import open_store

        s = open_store(self.selector)
        for g in set(self._graphs()) - self.system_graphs:
            s.drop_graph(g)
        s.close()


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory):
    srv = VirtuosoServer(tmp_path_factory.mktemp("virtuoso"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def virtuoso_capped(tmp_path_factory):
    """A second Virtuoso whose answers are cut at 50 rows (``ResultSetMaxRows = 50``; Debian's ini: 10,000)."""
    srv = VirtuosoServer(tmp_path_factory.mktemp("virtuoso-capped"), max_rows=50)
    yield srv
    srv.stop()


def _clear_remote(selector: str) -> None:
    from kg.core.store import open_store

    s = open_store(selector)
    s.update("DROP SILENT ALL")
    s.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server),
                        pytest.param("virtuoso", marks=pytest.mark.server)])
def store(request, tmp_path):
    """A fresh, empty store on each backend: embedded on-disk pyoxigraph, a real Oxigraph server
    and a real Virtuoso 7 server (the seam works with any SPARQL 1.1 endpoint, not just ours)."""
    from kg.core.store import open_store

    if request.param == "embedded":
        s = open_store(f"oxigraph:{tmp_path / 'store'}")
    elif request.param == "server":
        srv = request.getfixturevalue("oxigraph_server")
        _clear_remote(srv.selector)
        s = open_store(srv.selector)
    else:
        srv = request.getfixturevalue("virtuoso_server")
        srv.clear()
        s = open_store(srv.selector)
    yield s
    s.close()


@pytest.fixture
def kg(store):
    """A KnowledgeGraph over each backend."""
    from kg import KnowledgeGraph

    return KnowledgeGraph(store)


@pytest.fixture
def mem_kg():
    """A KnowledgeGraph over a fresh in-memory store (fast unit tests)."""
    from kg import KnowledgeGraph

    return KnowledgeGraph.open("oxigraph:")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real third-party data (``shared_data_dir()``). Tests using it are skipped where it is
    missing, and fail instead under ``TRAITKG_REQUIRE_SHARED_DATA=1`` (CI)."""
    if not SHARED.is_dir():
        if shared_data_required():
            pytest.fail(f"{REQUIRE_SHARED_DATA_ENV}=1 but {shared_data_missing(SHARED)}", pytrace=False)
        pytest.skip(shared_data_missing(SHARED))
    return SHARED


@pytest.fixture(scope="session")
def toy() -> Path:
    return TOY
