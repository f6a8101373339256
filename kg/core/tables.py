"""Side tables: columnar files that hold a graph's bulk rows outside the RDF store (the per-image
rows of a large prediction batch: ``docs/scale.md``, "Per-image rows").

A side table is one file under the store's table directory (:func:`tables_dir`), registered in the
manifest like a graph: an entry of kind ``prediction-rows`` (same name and version as the batch it
belongs to; no quads of its own) whose ``source`` is the file's path relative to that directory,
``sha256``/``byteSize`` the file's, and whose parameters name the batch graph (``batch``), the row
count, the format and the sort order. Where the directory is:

- ``oxigraph:PATH``: ``PATH.tables/`` beside the store (as the tree index cache is ``PATH.cache/``);
  readers of a snapshot (``PATH.snapshots/...``) name the live store, so they read the same files;
- ``oxigraph:`` (in memory): a temporary directory that lives as long as the store object;
- ``sparql:URL``: ``$TRAITKG_TABLES`` when set (a directory every API node and loader shares: a
  shared file system or a mounted bucket), else ``~/.cache/traitkg/tables/<hash of URL>/`` (one
  machine only; another client that lacks the file is told which file is missing).

``$TRAITKG_TABLES`` overrides the directory for every store.

Crash consistency (as :mod:`kg.core.graphs`): the file is written under a temporary name, fsynced
and renamed into place (and the directory fsynced) **before** its manifest entry; the table's entry
is written before the batch's entry, which is the load's commit point. :func:`recover` (run by
:func:`kg.core.recovery.recover`) drops a table entry whose batch is not listed and deletes files no
listed entry names; :func:`drop_tables_of` drops a batch's tables after the batch (entry first, then
the file).

>>> from kg.core.store import open_store
>>> s = open_store("oxigraph:")
>>> tables_dir(s).is_dir(), tables_of(s, "https://w3id.org/traitkg/graph/predictions/x/1")
(True, [])
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kg.core.errors import IntegrityError
from kg.core.faults import crash_point
from kg.core.graphs import (
    MANIFEST,
    GraphRecord,
    check_release_file,
    data_op,
    graph_iri,
    list_graphs,
    rerecord,
    sha256_file,
    utc_now,
)
from kg.core.store import NamedNode, Store

log = logging.getLogger(__name__)

TABLE_KIND = "prediction-rows"
TABLE_LOADER = "predictions"
_TMP = ".tmp-"


def tables_dir(store: Store, *, create: bool = True) -> Path:
    """The directory holding this store's side tables (created when missing unless ``create`` is
    false; see the module)."""
    env = os.environ.get("TRAITKG_TABLES")
    if env:
        d = Path(env)
    elif store.selector.startswith("oxigraph:"):
        path = getattr(store, "path", None)
        if path is not None:
            d = Path(str(path) + ".tables")
        else:
            d = getattr(store, "_traitkg_tables", None)
            if d is None:
                d = Path(tempfile.mkdtemp(prefix="traitkg-tables-"))
                store._traitkg_tables = d  # type: ignore[attr-defined]
                weakref.finalize(store, shutil.rmtree, str(d), True)
    else:
        from kg.core.sources import cache_dir

        key = hashlib.sha256(store.selector.encode()).hexdigest()[:16]
        d = cache_dir() / "tables" / key
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(store: Store, rel: str, write: Callable[[Path], Any]) -> Path:
    """Write a side-table file crash-consistently: ``write(tmp_path)`` fills a temporary file in the
    same directory, which is fsynced and renamed to ``rel`` (and the directory fsynced)."""
    root = tables_dir(store)
    final = root / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{_TMP}{os.getpid()}-{final.name}"
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        crash_point("table:written")
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def register(store: Store, *, batch: str, name: str, version: str, rel: str, rows: int,
             parameters: dict[str, Any] | None = None, source: str = "") -> GraphRecord:
    """The manifest entry of a side-table file already in place (see the module docstring)."""
    path = tables_dir(store) / rel
    sha, size = sha256_file(path)
    now = utc_now()
    rec = GraphRecord(iri=graph_iri(TABLE_KIND, name, version), kind=TABLE_KIND, name=name, version=version,
                      source=rel, sha256=sha, byte_size=size, loader=TABLE_LOADER, loader_version="1",
                      parameters={"batch": batch, "file": rel, "rows": int(rows), "input": source,
                                  **(parameters or {})}, started=now, ended=now, triples=0)
    rerecord(store, rec)
    crash_point("table:recorded")
    return rec


def tables_of(store: Store, batch: str, *, records: list[GraphRecord] | None = None) -> list[GraphRecord]:
    """The side tables registered for a batch graph (IRI)."""
    recs = records if records is not None else list_graphs(store, kind=TABLE_KIND)
    return [r for r in recs if r.kind == TABLE_KIND and r.parameters.get("batch") == batch]


def table_path(store: Store, rec: GraphRecord) -> Path:
    """The file of a side-table entry; a missing file or one of another size is an
    :class:`~kg.core.errors.IntegrityError` naming both."""
    path = tables_dir(store) / rec.parameters.get("file", rec.source)
    try:
        size = path.stat().st_size
    except OSError:
        raise IntegrityError(f"{path}: the per-image rows of {rec.parameters.get('batch')} ({rec.byte_size} bytes, "
                             f"sha256 {rec.sha256[:12]}…) are missing; the store's tables directory must travel "
                             "with it (set TRAITKG_TABLES for a sparql: store)") from None
    if size != rec.byte_size:
        raise IntegrityError(f"{path}: {size} bytes, but the manifest registered {rec.byte_size} "
                             f"(sha256 {rec.sha256[:12]}…); the file was changed or truncated")
    return path


def _remove(store: Store, rec: GraphRecord) -> None:
    quads = [q for s in (rec.iri, rec.iri + "#activity") for q in store.quads(NamedNode(s), None, None, MANIFEST)]
    if quads:
        store.update(data_op("DELETE DATA", quads))
        store.flush()
    (tables_dir(store, create=False) / rec.parameters.get("file", rec.source)).unlink(missing_ok=True)


def drop_tables_of(store: Store, batch: str) -> list[GraphRecord]:
    """Drop the side tables of a batch graph (entry, then file); run after the batch is dropped."""
    out = tables_of(store, batch)
    for rec in out:
        _remove(store, rec)
    return out


def drop_table(store: Store, rec: GraphRecord) -> None:
    """Drop one side table (its entry, then its file)."""
    _remove(store, rec)


def recover(store: Store) -> list[tuple[str, str]]:
    """What a killed load or drop left: entries whose batch is not listed (dropped with their file)
    and files no listed entry names (deleted). Returns ``(entry IRI or file, what)`` pairs."""
    recs = list_graphs(store)
    listed = {r.iri for r in recs}
    done: list[tuple[str, str]] = []
    keep: set[str] = set()
    for r in recs:
        if r.kind != TABLE_KIND:
            continue
        if r.parameters.get("batch") not in listed:
            _remove(store, r)
            done.append((r.iri, "side table of a batch that is not listed; dropped"))
        else:
            keep.add(r.parameters.get("file", r.source))
    if os.environ.get("TRAITKG_TABLES") and not store.selector.startswith("oxigraph:"):
        return done  # a shared directory: other stores' files may live there too
    root = tables_dir(store, create=False)
    for f in sorted(root.rglob("*")) if root.is_dir() else ():
        if f.is_file() and f.relative_to(root).as_posix() not in keep:
            f.unlink(missing_ok=True)
            done.append((str(f), "file no manifest entry names; deleted"))
    return done


def export_tables(store: Store, records: list[GraphRecord], out: Path) -> dict[str, dict[str, Any]]:
    """Copy the side tables among ``records`` into a release directory (``tables/<file>``):
    entry IRI -> ``{"file", "sha256", "bytes"}`` for ``release.json``."""
    done: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.kind != TABLE_KIND:
            continue
        rel = "tables/" + rec.parameters.get("file", rec.source)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(table_path(store, rec), out / rel)
        sha, size = sha256_file(out / rel)
        if sha != rec.sha256:
            raise IntegrityError(f"{table_path(store, rec)}: sha256 {sha[:12]}… is not the registered "
                                 f"{rec.sha256[:12]}…; the file was changed since it was loaded")
        done[rec.iri] = {"file": rel, "sha256": sha, "bytes": size}
    return done


def check_release_tables(src: Path, entries: list[dict[str, Any]]) -> None:
    """Verify the side tables a release lists (present, checksums) before anything is written."""
    for e in entries:
        t = e.get("table")
        if not t:
            continue
        check_release_file(src / t["file"], t["sha256"], t["bytes"])


def import_tables(store: Store, src: Path, entries: list[dict[str, Any]]) -> list[Path]:
    """Copy a release's side tables into the store's table directory (crash-consistently, before
    the manifest is written); returns the files written (the caller deletes them on failure)."""
    written: list[Path] = []
    for e in entries:
        t = e.get("table")
        if not t:
            continue
        rel = t["file"][len("tables/"):]
        written.append(write_file(store, rel, lambda tmp, f=src / t["file"]: shutil.copyfile(f, tmp)))
    return written


__all__ = ["TABLE_KIND", "tables_dir", "write_file", "register", "tables_of", "table_path", "drop_tables_of",
           "drop_table", "recover", "export_tables", "check_release_tables", "import_tables"]
