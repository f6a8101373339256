"""Reading and checking a prediction table in chunks of :data:`CHUNK_ROWS` records, so that a
load's memory follows the chunk and the batch's compact per-taxon and per-trait state, not the table
(see docs/scale.md, "Where the memory of a prediction load goes").

:func:`scan` is the first pass: every check a row can have alone (empty cells, image ids,
confidences, units), the counts that decide each trait's kind, the batch fields read from columns,
the distinct taxon names and trait labels (for linking), and a 64-bit hash of each row's (image,
trait, region). :meth:`Scan.finish` then runs the checks that need the whole table (a continuous
trait's values are numbers; no two rows share an identity; after linking, every taxon and trait is
known) in a second pass, which reads the table again only when the first pass says a chunk can hold
such a row (a continuous trait with values that are not numbers, a repeated hash, an unknown name).
Every problem is known before anything is written. :meth:`Scan.chunks` gives the writer the
checked chunks again: the first pass keeps each chunk's frame in a spill folder as Arrow IPC (a
fraction of the time it takes to read and convert the table again), read back memory-mapped; a table
of one chunk is read once and kept in memory. :meth:`Scan.close` removes the spill folder.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from kg.core.errors import ParseError
from kg.core.sources import Source
from loaders._prediction_rows import (
    add_stats,
    check_identity,
    check_kinds,
    check_rows,
    identity_hashes,
    kinds_of,
    merged,
    odd_values,
)
from loaders._prediction_table import (
    BATCH_FIELDS,
    ROW_FIELDS,
    Mapping,
    PredictionTable,
    add_lines,
    resolve_columns,
    table_format,
)
from loaders._prediction_write import SpillDir
from loaders._table_io import iter_table, refuse_undecoded, undecoded

CHUNK_ROWS = 250_000  # records of the source table per chunk


#: the dtype ``astype(str)`` gives (Arrow-backed strings): a column read as it needs only its gaps filled
_STR = pd.Series([""]).astype(str).dtype


def _as_str(s: pd.Series) -> pd.Series:
    if s.dtype == _STR:  # (a Parquet table's strings) not through Python objects and back
        return s.fillna("") if s.hasnans else s
    if s.dtype == object and all(isinstance(x, str) for x in s.iloc[:100]):
        return s.fillna("").astype(str)
    return s.astype(object).where(s.notna(), "").astype(str)


def frame_of(raw: pd.DataFrame, cols: dict[str, str], m: Any, row0: int) -> tuple[pd.DataFrame, int]:
    """One prediction per frame row of a chunk of records (the first is record ``row0 + 1``):
    ``row``, ``k`` (the trait's column in a wide row) and the row fields as stripped strings;
    returns (frame, value cells a wide table left empty)."""
    raw = raw.reset_index(drop=True)  # a later chunk's index starts past 0: columns are assigned by label
    rownum = np.arange(row0 + 1, row0 + len(raw) + 1)
    parts = []
    for k, spec in enumerate(m.traits or [None]):
        part = pd.DataFrame({"row": rownum, "k": k})  # k: the trait's column in a wide row (its IRI's segment)
        for f in ROW_FIELDS:
            if spec is not None and f == "value":
                part[f] = _as_str(raw[spec.column])
            elif spec is not None and f == "trait":
                part[f] = spec.trait
            elif spec is not None and f == "unit" and spec.unit:
                part[f] = spec.unit
            elif f in cols:
                part[f] = _as_str(raw[cols[f]])
            elif f in m.constants:
                part[f] = m.constants[f]
            else:
                part[f] = ""
        if spec is not None:
            part["vcol"] = spec.column
        parts.append(part)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for f in ("image", "taxon", "trait", "value", "unit", "truth", "region"):
        df[f] = df[f].str.strip()
    empty = 0
    if m.traits:  # an empty cell of a wide table is a measurement not taken, not a bad row
        blank = (df["value"] == "").to_numpy()
        empty = int(blank.sum())
        if empty:
            df = df[~blank].reset_index(drop=True)
    if m.image_id == "basename":
        df["image"] = df["image"].str.rsplit("/", n=1).str[-1]
    elif m.image_id == "stem":
        df["image"] = df["image"].str.rsplit("/", n=1).str[-1].str.rsplit(".", n=1).str[0]
    return df, empty


@dataclass
class Scan:
    """What the first pass over a table found (see the module docstring)."""

    src: Source
    mapping: Any
    fmt: str
    encoding: str | None
    chunk: int | None
    columns: dict[str, str] = field(default_factory=dict)  # field -> the header's name of its column
    rows: int = 0
    frames: int = 0  # frame rows (predictions, bad ones included)
    empty_cells: int = 0
    batch: dict[str, str] = field(default_factory=dict)
    problems: list = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    stats: dict[str, list[int]] = field(default_factory=dict)
    taxa: dict[str, int] = field(default_factory=dict)  # taxon name -> frame rows, in the order met
    traits: dict[str, int] = field(default_factory=dict)
    units: dict[str, str | None] = field(default_factory=dict)
    repeated: np.ndarray | None = None  # identity hashes met more than once
    table: Any = None  # the whole table (a PredictionTable) when it was one chunk
    n_chunks: int = 0
    spill: Any = None  # the spill folder of the checked chunks (a SpillDir), when they were all kept
    kept: list | None = field(default_factory=list)  # per kept chunk: (records, empty cells, pos0); None: not kept

    # ------------------------------------------------------------------ kept chunks
    def _keep(self, t: Any) -> None:
        """Keep a checked chunk's frame in the spill folder (Arrow IPC); a frame Arrow cannot
        hold stops the keeping (the chunks are then read from the source again)."""
        if self.kept is None:
            return
        if self.spill is None:
            self.spill = SpillDir()
            weakref.finalize(self, self.spill.cleanup)
        try:
            tab = pa.Table.from_pandas(t.frame, preserve_index=False)
            with ipc.new_file(f"{self.spill.name}/chunk-{len(self.kept)}.arrow", tab.schema) as w:
                w.write_table(tab)
        except (pa.ArrowException, TypeError, ValueError, OSError):
            self.kept = None
            return
        self.kept.append((t.rows, t.empty_cells, t.pos0))

    def _kept_tables(self) -> Iterator[Any]:
        m = self.mapping
        for i, (rows, empty, pos0) in enumerate(self.kept):
            with ipc.open_file(pa.memory_map(f"{self.spill.name}/chunk-{i}.arrow")) as r:
                df = r.read_all().to_pandas()
            yield PredictionTable(df, [], rows, {}, {}, m, self.fmt, self.src.origin, columns=self.columns,
                                  empty_cells=empty, pos0=pos0)

    def _again(self) -> Iterator[Any]:
        """The checked chunks again (without the first pass's problems): kept, or read anew."""
        if self.kept is not None and self.spill is not None and len(self.kept) == self.n_chunks:
            yield from self._kept_tables()
            return
        for t in self._tables(check=False):
            t.problems = []
            yield t

    def close(self) -> None:
        """Remove the kept chunks (the scan reads the source again if asked for its chunks after)."""
        if self.spill is not None:
            self.spill.cleanup()
            self.spill = None
        self.kept = None

    # ------------------------------------------------------------------ reading
    def _tables(self, check: bool, bad: dict[str, tuple[int, str, int]] | None = None) -> Iterator[Any]:
        """The chunks as PredictionTables (``pos0``: the first frame row's position in the table),
        checked row by row (problems on each chunk's table). ``bad``: cells of used columns that
        did not decode are counted there (once one is met, the chunks are only counted)."""
        m = self.mapping
        row0 = pos0 = 0
        used: list[str] = []
        for raw in iter_table(self.src, self.fmt, delimiter=m.delimiter, encoding=self.encoding, chunk=self.chunk):
            raw.columns = [str(c) for c in raw.columns]
            if not self.columns:
                self.columns = resolve_columns(m, list(raw.columns), self.src)
                used = list(dict.fromkeys([*self.columns.values(), *(s.column for s in m.traits)]))
            if bad is not None:
                for col, (i, value, n) in undecoded(raw, used, self.fmt).items():
                    first = bad.get(col)
                    bad[col] = (first[0], first[1], first[2] + n) if first else (i, value, n)
                if bad:
                    row0 += len(raw)
                    continue
            df, empty = frame_of(raw, self.columns, m, row0)
            t = PredictionTable(df, [], len(raw), {}, {}, m, self.fmt, self.src.origin, columns=self.columns,
                                empty_cells=empty, pos0=pos0)
            t.raw = raw if check else None  # type: ignore[attr-defined]
            t.stats = check_rows(t, self.units if check else dict(self.units))  # type: ignore[attr-defined]
            yield t
            row0 += len(raw)
            pos0 += len(df)

    def chunks(self) -> Iterator[Any]:
        """The table again, chunk by chunk (its kept frame when it was one chunk), for the writer."""
        if self.table is not None:
            yield self.table
            return
        yield from self._again()

    # ------------------------------------------------------------------ passes
    def first_pass(self) -> None:
        m = self.mapping
        bad: dict[str, tuple[int, str, int]] = {}
        batch: dict[str, dict[str, None]] = {}
        hashes: list[np.ndarray] = []
        last = None
        for t in self._tables(check=True, bad=bad):
            raw = t.raw
            for f in BATCH_FIELDS:
                if f in self.columns:
                    seen = batch.setdefault(f, {})
                    for v in pd.unique(_as_str(raw[self.columns[f]]).str.strip()):
                        if v and len(seen) < 6:
                            seen[v] = None
            t.raw = None
            self.rows += t.rows
            self.frames += len(t.frame)
            self.empty_cells += t.empty_cells
            self.problems += t.problems
            add_stats(self.stats, t.stats)
            for name, n in t.frame["taxon"].value_counts(sort=False).items():
                self.taxa[name] = self.taxa.get(name, 0) + int(n)
            for tr in pd.unique(t.frame["trait"]):
                self.traits[tr] = 1
            hashes.append(identity_hashes(t.frame))
            self.n_chunks += 1
            if last is not None and not bad:
                self._keep(last)
            last = t
        used = list(dict.fromkeys([*self.columns.values(), *(s.column for s in m.traits)]))
        for col in [c for c in used if c in bad]:
            i, value, n = bad[col]
            refuse_undecoded(col, i + 1, value, n, self.src, self.fmt, delimiter=m.delimiter, encoding=self.encoding)
        for f, vals in batch.items():
            if len(vals) > 1:
                shown = list(vals)
                raise ParseError(f"column {self.columns[f]!r} ({f}) holds several values ({', '.join(shown[:5])}): "
                                 "a batch is one model version; split the table", source=self.src.origin, value=shown[0])
            if vals:
                self.batch[f] = next(iter(vals))
        declared = {t.trait: t.kind for t in m.traits if t.kind}
        declared.update(m.kinds)
        self.kinds = kinds_of(self.stats, declared)
        h = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        h = np.sort(h[h != 0])
        self.repeated = np.unique(h[1:][h[1:] == h[:-1]])
        if self.n_chunks == 1:
            last.kinds = self.kinds
            last.batch = self.batch
            self.table = last
        elif last is not None:
            self._keep(last)

    def finish(self, link: Any = None) -> None:
        """The checks that need the whole table (and, with ``link(table)``, the linking problems
        of each chunk; ``link(None)`` says whether any name is unknown); problems merged and sorted."""
        need = odd_values(self.stats, self.kinds) or len(self.repeated) or link is not None
        if self.table is None and link is not None and not link(None):  # no name is unknown: no rows to find
            link = None
            need = odd_values(self.stats, self.kinds) or len(self.repeated)
        if self.table is not None:
            t = self.table
            t.problems = list(self.problems)
            check_kinds(t, self.kinds)
            check_identity(t)
            if link is not None:
                link(t)
            self.problems = t.problems
        elif need:
            cands = []
            for t in self._again():
                check_kinds(t, self.kinds)
                if len(self.repeated):
                    sel = np.isin(identity_hashes(t.frame), self.repeated)
                    if sel.any():
                        cands.append(t.frame[sel].assign(pos=np.flatnonzero(sel) + t.pos0))
                if link is not None:
                    link(t)
                self.problems += t.problems
            if cands:
                ct = PredictionTable(pd.concat(cands, ignore_index=True), [], 0, {}, {}, self.mapping, self.fmt,
                                     self.src.origin, columns=self.columns)
                check_identity(ct)
                self.problems += ct.problems
        self.problems[:] = merged(self.problems)
        if self.table is not None:
            self.table.problems = self.problems


def parse(path: str | Path | Source, mapping: Mapping | dict[str, Any] | None = None, *,
          fmt: str | None = None, encoding: str | None = None) -> PredictionTable:
    """Read and check a whole prediction table (pure: no store; the loader reads large tables in
    chunks, :mod:`loaders._prediction_scan`, with the same checks). A missing column, or bytes that
    do not decode in a column the mapping uses, raise :class:`~kg.core.errors.ParseError`; problems
    with single rows are collected in ``problems``. ``encoding`` overrides the mapping's.

    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "p.csv"
    >>> _ = p.write_text("image_id,taxon,trait,value,conf\\nark:/89609/x/1,Danio rerio,UBERON:2000251,present,0.9\\n"
    ...                  "ark:/89609/x/2,Danio rerio,UBERON:2000251,absent,1.7\\n")
    >>> t = parse(p, {"confidence": "conf"})
    >>> len(t.frame), [str(x) for x in t.problems]
    (2, ["row 2 (line 3), column 'conf': '1.7' is outside [0, 1] (a confidence)"])
    >>> tmp.cleanup()
    """
    sc = scan_table(path, mapping, fmt=fmt, encoding=encoding, chunk=None)
    sc.finish()
    table = sc.table
    add_lines(table, sc.src, encoding=sc.encoding)
    return table


def scan_table(path: str | Path | Source, mapping: Mapping | dict[str, Any] | None = None, *,
               fmt: str | None = None, encoding: str | None = None, chunk: int | None = CHUNK_ROWS) -> Scan:
    """The first pass over a table in chunks of ``chunk`` records (``None``: the whole table as one
    chunk, kept), see :mod:`loaders._prediction_scan`."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    m = mapping if isinstance(mapping, Mapping) else Mapping.from_dict(mapping)
    return scan(src, m, table_format(src, fmt), encoding or m.encoding, chunk=chunk)


def scan(src: Source, mapping: Any, fmt: str, encoding: str | None, *, chunk: int | None = CHUNK_ROWS) -> Scan:
    """The first pass over a table (see :class:`Scan`)."""
    s = Scan(src, mapping, fmt, encoding, chunk)
    s.first_pass()
    return s


__all__ = ["CHUNK_ROWS", "Scan", "scan", "scan_table", "parse", "frame_of"]
