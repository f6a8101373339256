"""The phenotype index's cells as read from its file (:mod:`kg.traits.cached`): a sequence of
:class:`~kg.phenoindex.CellRec` made only for what is asked, and the two tables trait queries read
from the cells (a taxon's cells; a state's taxa), from the arrays for an index read from its file,
else from the list of cells.

>>> from kg.phenoindex import CellRec, PhenotypeIndex

_STATE_TAXA = ("st_state", "st_off", "st_taxon")
>>> idx = PhenotypeIndex(cells=[CellRec("t1", "o1", ["s1", "s2"], "single"), CellRec("t2", "o2", ["s1"], "single")])
>>> state_taxa(idx)
{'s1': ['t1', 't2'], 's2': ['t1']}
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from kg.core.bulk import gc_paused
from kg.phenoindex import CellRec, PhenotypeIndex

_STATE_TAXA = ("st_state", "st_off", "st_taxon")


class CellTable(Sequence[CellRec]):
    """The index's cells read from its file, as a read-only sequence of :class:`CellRec` that makes
    them only for what is asked: one position, one taxon's cells (:meth:`of_taxon`), or every cell
    at once for a walk over all of them (then kept). Equal to a list of the same cells. The file
    may also keep each state's taxa (:meth:`state_taxa_arrays`)."""

    def __init__(self, t: np.ndarray, a: dict[str, Any]) -> None:
        self._t = t
        self._taxon, self._otu, self._kind = a["cell_taxon"], a["cell_otu"], a["cell_kind"]
        self._off, self._states = a["cell_off"], a["cell_states"]
        self._st = {k: a[k] for k in _STATE_TAXA} if all(k in a for k in _STATE_TAXA) else None
        self._all: list[CellRec] | None = None
        self._by_taxon: np.ndarray | None = None
        self._lock = threading.Lock()

    def _make(self, rows: np.ndarray) -> list[CellRec]:
        t, off = self._t, self._off
        lo, hi = off[rows].tolist(), off[rows + 1].tolist()
        states = t[self._states].tolist() if len(rows) == len(self) else None
        return [CellRec(tx, otu, states[a:b] if states is not None else t[self._states[a:b]].tolist(), kind)
                for tx, otu, kind, a, b in zip(t[self._taxon[rows]].tolist(), t[self._otu[rows]].tolist(),
                                               t[self._kind[rows]].tolist(), lo, hi)]

    def __len__(self) -> int:
        return len(self._taxon)

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The cells as arrays: (the string table, each cell's taxon id, kind id, offsets into the
        states, the states' ids): cell ``i`` scores ``states[off[i]:off[i + 1]]``."""
        return self._t, self._taxon, self._kind, self._off, self._states

    def __getitem__(self, i: Any) -> Any:
        if self._all is not None:
            return self._all[i]
        if isinstance(i, slice):
            return self._make(np.arange(len(self))[i])
        n = len(self)
        if not -n <= i < n:
            raise IndexError("cell index out of range")
        return self._make(np.asarray([i % n]))[0]

    def materialised(self) -> list[CellRec]:
        """Every cell as a list (made once, in bulk)."""
        if self._all is None:
            with self._lock:
                if self._all is None:
                    with gc_paused():
                        self._all = self._make(np.arange(len(self)))
        return self._all

    def __iter__(self) -> Iterator[CellRec]:
        return iter(self.materialised())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CellTable) and other is self:
            return True
        return isinstance(other, Sequence) and len(other) == len(self) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def _taxon_order(self) -> np.ndarray:
        if self._by_taxon is None:
            self._by_taxon = np.argsort(self._taxon, kind="stable")  # a taxon's cells in their order
        return self._by_taxon

    def of_taxon(self, ti: int) -> list[CellRec]:
        """The cells of the taxon with string id ``ti``, in the index's order."""
        order = self._taxon_order()
        lo, hi = np.searchsorted(self._taxon[order], [ti, ti + 1])
        return self._make(order[lo:hi])

    def state_taxa(self) -> dict[str, list[str]]:
        """State IRI -> the taxa of the cells that score it, each once, in the cells' order (what
        :func:`state_taxa` makes from a list), from the arrays (from the file when it keeps them)."""
        a = self._st if self._st is not None else self.state_taxa_arrays()
        t = self._t
        names, off = t[a["st_taxon"]].tolist(), a["st_off"].tolist()
        return {s: names[lo:hi] for s, lo, hi in zip(t[a["st_state"]].tolist(), off[:-1], off[1:])}

    def state_taxa_arrays(self) -> dict[str, np.ndarray]:
        """:meth:`state_taxa` as string ids: each state once, in the order of its first cell
        (``st_state``), and its taxa (``st_taxon[st_off[i]:st_off[i + 1]]``)."""
        counts = np.diff(self._off)
        taxon = np.repeat(np.asarray(self._taxon, dtype=np.int64), counts)  # the taxon of each (cell, state) entry
        st = np.asarray(self._states, dtype=np.int64)
        n = len(self._t)
        _, first = np.unique(st * n + taxon, return_index=True)  # each (state, taxon) pair's first entry
        _, st_first = np.unique(st, return_index=True)
        rank = np.empty(n, dtype=np.int64)
        rank[st[st_first]] = np.argsort(np.argsort(st_first, kind="stable"), kind="stable")  # states by first use
        order = first[np.lexsort((first, rank[st[first]]))]
        _, bounds = np.unique(rank[st[order]], return_index=True)
        return {"st_state": st[order[bounds]], "st_off": np.r_[bounds, len(order)].astype(np.int64),
                "st_taxon": taxon[order]}


class CellsByTaxon(Mapping[str, list[CellRec]]):
    """``taxon -> [CellRec]`` over a :class:`CellTable` (a taxon's cells made when asked, kept)."""

    def __init__(self, table: CellTable) -> None:
        self._table = table
        self._ids = {s: i for i, s in enumerate(table._t[:-1].tolist())}
        self._made: dict[str, list[CellRec]] = {}

    def __getitem__(self, taxon: str) -> list[CellRec]:
        got = self._made.get(taxon)
        if got is None:
            ti = self._ids.get(taxon) if isinstance(taxon, str) else None
            got = self._table.of_taxon(ti) if ti is not None else []
            self._made[taxon] = got
        if not got:
            raise KeyError(taxon)
        return got

    def _taxa(self) -> list[str]:
        uniq, first = np.unique(self._table._taxon, return_index=True)
        return self._table._t[uniq[np.argsort(first, kind="stable")]].tolist()

    def __iter__(self) -> Iterator[str]:
        return iter(self._taxa())

    def __len__(self) -> int:
        return len(np.unique(self._table._taxon))


def cells_by_taxon(idx: PhenotypeIndex) -> Mapping[str, list[CellRec]]:
    """Taxon IRI -> its cells, in the index's order: lazily over the arrays when the index was read
    from its file (a service start makes no cell), else a dict."""
    if isinstance(idx.cells, CellTable):
        return CellsByTaxon(idx.cells)
    by: dict[str, list[CellRec]] = defaultdict(list)
    for cell in idx.cells:
        by[cell.taxon].append(cell)
    return dict(by)


def state_taxa(idx: PhenotypeIndex) -> dict[str, list[str]]:
    """State IRI -> the taxa of the cells that score it (each once, in the cells' order)."""
    if isinstance(idx.cells, CellTable):
        return idx.cells.state_taxa()
    by: dict[str, dict[str, None]] = defaultdict(dict)
    for cell in idx.cells:
        for s in cell.states:
            by[s][cell.taxon] = None
    return {s: list(t) for s, t in by.items()}
