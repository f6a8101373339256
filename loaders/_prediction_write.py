"""The write pass of a prediction load, a chunk of the checked table at a time (see
:mod:`loaders._prediction_scan`): bad rows of a lenient load dropped, taxon and trait IRIs put on,
the rows spilled to Arrow IPC files by ranges of taxon IRIs (:data:`BUCKET_ROWS` rows each, a
taxon never split), from which the Parquet side table (sorted by taxon, image, row, k) and the
taxon summaries (:func:`kg.predictions.summary.summary_parts`) are made one bucket at a time. The
per-image N-Triples of an RDF batch are made per chunk as the chunks pass. Memory: a chunk, a
bucket, and per-row 64-bit image hashes (the image count)."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from loaders._image_rows import ROW_GROUP, SCHEMA
from loaders._prediction_rows import positions
from loaders._table_io import shown

BUCKET_ROWS = 250_000
SPILL_PREFIX = "tkg-pred-"
_LOCK = ".owner.lock"
#: a spill folder without its lock file (made by a version before the lock, or killed between
#: making the folder and locking it) is left alone this long before a sweep removes it
UNLOCKED_GRACE_S = 3600
STORED_CELL = 1000
_OBO = "http://purl.obolibrary.org/obo/"
_SUMMARY_COLS = ["taxon_iri", "trait_iri", "region", "unit", "num", "conf", "value", "trait"]
_ROW_COLS = ["image_iri", "truth", "specimen", "row", "k"]


def _arrow(s: pd.Series) -> pa.Array:
    """A column as Arrow (strings as ``string``, categories decoded, floats as float64)."""
    if s.dtype == float:
        return pa.array(s.to_numpy(dtype=float))
    arr = pa.array(s, from_pandas=True)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):  # no rows
        arr = pa.array([], pa.string())
    return arr.cast(pa.string()) if arr.type != pa.string() else arr


class SpillDir:
    """A load's spill folder ``$TMPDIR/tkg-pred-*``, held with an exclusive ``flock`` on its lock
    file while the load lives. The lock goes with the process however it ends (a SIGKILL too), so
    :func:`sweep` (run when the next one is made) can tell a dead load's folder from a live one."""

    def __init__(self, root: str | None = None) -> None:
        sweep(root)
        self.name = tempfile.mkdtemp(prefix=SPILL_PREFIX, dir=root)
        tmp = os.path.join(self.name, _LOCK + ".new")  # locked before a sweep can see it under its name
        self._fd = os.open(tmp, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(tmp, os.path.join(self.name, _LOCK))

    def cleanup(self) -> None:
        if self._fd < 0:
            return
        shutil.rmtree(self.name, ignore_errors=True)
        os.close(self._fd)
        self._fd = -1


def sweep(root: str | None = None) -> list[str]:
    """Remove the spill folders of prediction loads that died (killed, out of memory) in ``root``
    (default: the temporary directory): a folder whose lock no live process holds; one without a
    lock file once it is :data:`UNLOCKED_GRACE_S` old. Returns the folders removed."""
    base = root or tempfile.gettempdir()
    removed = []
    try:
        names = [n for n in os.listdir(base) if n.startswith(SPILL_PREFIX)]
    except OSError:
        return removed
    for n in names:
        path = os.path.join(base, n)
        lock = os.path.join(path, _LOCK)
        try:
            if not os.path.isdir(path) or os.path.islink(path):
                continue
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            try:
                if time.time() - os.stat(path).st_mtime > UNLOCKED_GRACE_S:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
            except OSError:
                pass
            continue
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live load holds it
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


def buckets_of(taxon_rows: dict[str, int]) -> dict[str, int]:
    """Taxon IRI -> bucket: IRIs in order, about :data:`BUCKET_ROWS` rows a bucket."""
    out: dict[str, int] = {}
    b = n = 0
    for iri in sorted(taxon_rows):
        if n and n + taxon_rows[iri] > BUCKET_ROWS:
            b, n = b + 1, 0
        out[iri] = b
        n += taxon_rows[iri]
    return out


class Pass:
    """One write pass: feed it the chunks (:meth:`add`), then :meth:`finish`."""

    def __init__(self, taxon_rows: dict[str, int], kinds: dict[str, str], bad: np.ndarray, *,
                 rows: bool, raw_of_bad: bool) -> None:
        self.bucket = buckets_of(taxon_rows)
        self.kinds = kinds
        self.bad = bad
        self.rows = rows  # spill the per-image columns too (for the Parquet side table)
        self.raw_of_bad = raw_of_bad
        self.raw: dict[int, dict[str, str]] = {}
        self.tmp = SpillDir()
        self.writers: dict[int, Any] = {}
        self.images: list[np.ndarray] = []
        self.kept = 0
        self.taxa: set[str] = set()
        self.traits: set[str] = set()
        self.units: dict[str, dict[str, int]] = {}  # continuous trait IRI -> unit -> rows

    def kept_frame(self, t: Any) -> pd.DataFrame:
        """A linked chunk's rows that are loaded (bad rows of a lenient load kept aside)."""
        df = t.frame
        if len(self.bad):
            pos = positions(t)
            drop = np.isin(pos, self.bad)
            if drop.any():
                if self.raw_of_bad:
                    for j in np.flatnonzero(drop).tolist():
                        self.raw[int(pos[j])] = {f: shown(str(df[f].iat[j]), STORED_CELL)
                                                 for f in ("row", "image", "taxon", "trait", "value", "truth")}
                df = df[~drop]
        return df.reset_index(drop=True)

    def add(self, df: pd.DataFrame, images: pd.Series | None) -> None:
        """Spill a chunk's kept rows (``images``: their image IRIs, for the side table)."""
        if not len(df):
            return
        self.kept += len(df)
        self.images.append(pd.util.hash_array(df["image"].to_numpy(dtype=object)))
        self.taxa.update(pd.unique(df["taxon_iri"]))
        self.traits.update(pd.unique(df["trait_iri"]))
        cont = df["trait"].map(self.kinds).eq("continuous").to_numpy()
        if cont.any():
            for (tr, u), n in df[cont].groupby(["trait_iri", "unit"], sort=False).size().items():
                d = self.units.setdefault(tr, {})
                d[u] = d.get(u, 0) + int(n)
        cols = {c: _arrow(df[c]) for c in _SUMMARY_COLS}
        cols["cont"] = pa.array(cont)
        if self.rows:
            cols["image_iri"] = _arrow(images)
            for c in ("truth", "specimen"):
                cols[c] = _arrow(df[c])
            cols["row"] = pa.array(df["row"].to_numpy(dtype=np.int64))
            cols["k"] = pa.array(df["k"].to_numpy(dtype=np.int32))
        b = df["taxon_iri"].map(self.bucket).to_numpy()
        order = np.argsort(b, kind="stable")
        bs = b[order]
        whole = pa.table(cols).take(pa.array(order))  # one take; each bucket's rows are then a slice
        starts = np.concatenate([[0], np.flatnonzero(np.diff(bs)) + 1, [len(bs)]])
        for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist()):
            key = int(bs[lo])
            part = whole.slice(lo, hi - lo)
            w = self.writers.get(key)
            if w is None:
                w = self.writers[key] = ipc.new_file(Path(self.tmp.name) / f"{key}.arrow", part.schema)
            w.write_table(part)

    def buckets(self) -> Iterator[pa.Table]:
        """Each bucket's rows (in taxon IRI order of the buckets; within one, in table order)."""
        for w in self.writers.values():
            w.close()
        for key in sorted(self.writers):
            with ipc.open_file(Path(self.tmp.name) / f"{key}.arrow") as r:
                t = r.read_all()
            yield t

    def image_count(self) -> int:
        return int(np.unique(np.concatenate(self.images)).size) if self.images else 0

    def close(self) -> None:
        for w in self.writers.values():
            try:
                w.close()
            except Exception:  # noqa: BLE001 (already closed)
                pass
        self.tmp.cleanup()


def summaries_and_rows(p: Pass, emit: Callable[[pa.RecordBatch], None] | None,
                       summary: Any = None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The batch's summary frames, made a bucket at a time by ``summary`` (the domain's summary
    functions, :mod:`kg.predictions.summary`: ``summary_parts``, ``combine``, ``targets_from_counts``,
    ``summarise``; None: no summaries); with ``emit``, the side table's row groups
    (:data:`~loaders._image_rows.ROW_GROUP` rows each, sorted) are handed to it as they are made."""
    targets = summary.targets_from_counts(p.units) if summary is not None else {}
    parts = []
    carry: list[pa.Table] = []
    held = 0
    for t in p.buckets():
        if summary is not None:
            df = t.select(_SUMMARY_COLS).to_pandas()
            parts.append(summary.summary_parts(df, t.column("cont").to_numpy(zero_copy_only=False), targets))
            del df
        if emit is None:
            continue
        idx = pc.sort_indices(t, sort_keys=[("taxon_iri", "ascending"), ("image_iri", "ascending"),
                                            ("row", "ascending"), ("k", "ascending")])
        carry.append(t.take(idx))
        held += len(t)
        while held >= ROW_GROUP:
            whole = pa.concat_tables(carry)
            emit(_row_group(whole.slice(0, ROW_GROUP)))
            rest = whole.slice(ROW_GROUP)
            carry, held = [rest], len(rest)
    if emit is not None and held:
        emit(_row_group(pa.concat_tables(carry)))
    if summary is None:
        return None
    if not parts:
        return summary.summarise(pd.DataFrame({c: [] for c in _SUMMARY_COLS}).astype({"num": float, "conf": float}), {})
    return summary.combine(parts)


def _null_empty(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _dict(arr: pa.Array) -> pa.Array:
    return pc.dictionary_encode(arr).cast(pa.dictionary(pa.int32(), pa.string()))


def _row_group(t: pa.Table) -> pa.RecordBatch:
    """A side-table row group (:data:`~loaders._image_rows.SCHEMA`) from sorted spilled rows."""
    cont = t.column("cont").combine_chunks()
    value = pc.if_else(cont, pa.scalar(None, pa.string()), _null_empty(t.column("value")))
    num = t.column("num").combine_chunks()
    num = pc.if_else(pc.or_(pc.invert(cont), pc.is_nan(num)), pa.scalar(None, pa.float64()), num)
    conf = t.column("conf").combine_chunks()
    conf = pc.if_else(pc.is_nan(conf), pa.scalar(None, pa.float64()), conf)
    unit = _null_empty(t.column("unit"))
    unit = pc.binary_join_element_wise(_OBO, pc.replace_substring(unit, ":", "_"), "")
    return pa.RecordBatch.from_arrays([
        _dict(t.column("taxon_iri").combine_chunks()), t.column("image_iri").combine_chunks().cast(pa.string()),
        _dict(t.column("trait_iri").combine_chunks()), _dict(_null_empty(t.column("region"))), value, num, conf,
        _dict(unit), _null_empty(t.column("truth")), _null_empty(t.column("specimen")),
        t.column("row").combine_chunks(), t.column("k").combine_chunks()], schema=SCHEMA)


__all__ = ["BUCKET_ROWS", "Pass", "SpillDir", "buckets_of", "summaries_and_rows", "sweep"]
