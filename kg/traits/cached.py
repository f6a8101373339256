"""The phenotype index and the trait calls kept on disk (:mod:`kg.indexcache`): built once per set
of phenotype and closure graph versions, read back by every later process in a fraction of the
time a build takes (the build reads millions of closure quads; the file is integer arrays and one
string table).

The key of both files is the phenotype graphs and the closure graphs the index reads (IRI,
version, checksum, size) with the file's format; the calls' key also carries the inference rules'
version. A new or reloaded phenotype graph, or a refreshed closure, gives new keys: the next
process builds and writes new files. Old files stay until the cache directory is cleared.

>>> from kg import KnowledgeGraph
>>> open_index(KnowledgeGraph.open("oxigraph:").store).taxa
{}
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from kg import indexcache as ic
from kg.core.bulk import gc_paused
from kg.core.graphs import GraphRecord, list_graphs
from kg.core.store import Store
from kg.phenoindex import GraphPart, Pheno, PhenotypeIndex
from kg.traits.calls import ABSENT, PRESENT, Call, compute_calls
from kg.traits.cell_table import CellTable
from kg.traits.inference_graph import RULES

INDEX_FORMAT = 1
CALLS_FORMAT = 1


def dependencies(store: Store) -> tuple[list[GraphRecord], list[GraphRecord]]:
    """The phenotype graphs and the (redundant) closure graphs the index is read from."""
    return (list_graphs(store, kind="phenotypes"),
            [g for g in list_graphs(store, kind="closure") if not g.name.endswith("-nonredundant")])


def open_index(store: Store, parts: Mapping[str, GraphPart] | None = None,
               deps: tuple[list[GraphRecord], list[GraphRecord]] | None = None) -> PhenotypeIndex:
    """The phenotype index: from its file when one was written for these graph versions, else
    built from the store (``parts``: the graphs a load just wrote, read from its N-Triples
    instead, see :meth:`PhenotypeIndex.build`) and written. ``deps``: the (phenotype, closure)
    graphs, when not :func:`dependencies` (a batch that is not listed yet)."""
    ph, cl = deps if deps is not None else dependencies(store)
    path = ic.path_for(store, "phenoindex", ic.graphs_key(ph + cl, INDEX_FORMAT))

    def read(got: dict[str, Any]) -> PhenotypeIndex:
        with gc_paused():
            return index_from_arrays(got, ph, cl)

    def complete(got: dict[str, Any]) -> dict[str, np.ndarray] | None:
        # a file written before each state's taxa were kept gets them (same format), by one process
        return None if "st_state" in got else CellTable(ic.strings(got), got).state_taxa_arrays()

    def build() -> ic.Built[PhenotypeIndex]:
        idx = PhenotypeIndex.build(store, parts, (ph, cl))  # nothing worth keeping for a store without phenotypes
        return ic.Built(idx, index_arrays(idx) if idx.phenotype_graphs else None)

    return ic.load_or_build(path, kind="phenoindex", fmt=INDEX_FORMAT, read=read, build=build, complete=complete)


def open_calls(store: Store, index: Callable[[], PhenotypeIndex],
               deps: tuple[list[GraphRecord], list[GraphRecord]] | None = None) -> Mapping[tuple[str, str, str], Call]:
    """Every asserted and inferred call: from its file for these graph versions and rules (a
    :class:`CallTable`), else computed from ``index()`` (a dict) and written (``deps`` as in
    :func:`open_index`)."""
    ph, cl = deps if deps is not None else dependencies(store)
    path = ic.path_for(store, "traitcalls", ic.graphs_key(ph + cl, CALLS_FORMAT, RULES))

    def complete(got: dict[str, Any]) -> dict[str, np.ndarray] | None:
        # a file written before the sort orders were kept gets them (same format), by one process
        return None if "by_code" in got else call_orders(got)

    def build() -> ic.Built[Mapping[tuple[str, str, str], Call]]:
        with gc_paused():
            calls = compute_calls(index())
        return ic.Built(calls, calls_arrays(calls) if ph else None)

    return ic.load_or_build(path, kind="traitcalls", fmt=CALLS_FORMAT, read=CallTable, build=build, complete=complete)


# --------------------------------------------------------------------------- the index as arrays

def index_arrays(idx: PhenotypeIndex) -> dict[str, np.ndarray]:
    s = ic.StringTable()
    a: dict[str, np.ndarray] = {}
    for name in ("taxa", "otu_taxon", "labels"):
        d: dict[str, str] = getattr(idx, name)
        a[f"{name}_k"], a[f"{name}_v"] = s.ids(d.keys()), s.ids(d.values())
    ph = list(idx.phenotypes.values())
    for f in ("iri", "entity", "quality", "related"):
        a[f"ph_{f}"] = s.ids(getattr(p, f) for p in ph)
    a["ph_count"] = np.asarray([p.count if p.count is not None else 0 for p in ph], dtype=np.int64)
    a["ph_has_count"] = np.asarray([p.count is not None for p in ph], dtype=bool)
    a["sp_k"] = s.ids(idx.state_phenotypes)
    a["sp_off"], a["sp_v"] = s.lists(list(idx.state_phenotypes.values()))
    cells = idx.cells
    a["cell_taxon"] = s.ids(c.taxon for c in cells)
    a["cell_otu"] = s.ids(c.otu for c in cells)
    a["cell_kind"] = s.ids(c.kind for c in cells)
    a["cell_off"], a["cell_states"] = s.lists([c.states for c in cells])
    a["comp_k"] = s.ids(idx.composed)
    a["comp_off"], a["comp_v"] = s.lists([[x for pair in diffs for x in pair] for diffs in idx.composed.values()])
    for name in ("isa", "anc"):
        d2: dict[str, set[str]] = getattr(idx, name)
        a[f"{name}_k"] = s.ids(d2)
        a[f"{name}_off"], a[f"{name}_v"] = s.lists(list(d2.values()))
    a.update(s.arrays())
    a.update(CellTable(ic.strings(a), a).state_taxa_arrays())  # each state's taxa: a start groups nothing
    return a


def index_from_arrays(a: dict[str, Any], phenotype_graphs: list[GraphRecord],
                      closure_graphs: list[GraphRecord]) -> PhenotypeIndex:
    t = ic.strings(a)

    def col(name: str) -> list[Any]:
        return t[a[name]].tolist()

    idx = PhenotypeIndex(phenotype_graphs=list(phenotype_graphs), closure_graphs=list(closure_graphs))
    for name in ("taxa", "otu_taxon", "labels"):
        setattr(idx, name, dict(zip(col(f"{name}_k"), col(f"{name}_v"))))
    counts = [c if h else None for c, h in zip(a["ph_count"].tolist(), a["ph_has_count"].tolist())]
    idx.phenotypes = {p: Pheno(p, e, q, r, c) for p, e, q, r, c in
                      zip(col("ph_iri"), col("ph_entity"), col("ph_quality"), col("ph_related"), counts)}
    idx.state_phenotypes = dict(zip(col("sp_k"), ic.split(t, a["sp_off"], a["sp_v"])))
    idx.cells = CellTable(t, a)  # made per taxon when asked, all at once for a walk over every cell
    idx.composed = {k: list(zip(v[0::2], v[1::2]))
                    for k, v in zip(col("comp_k"), ic.split(t, a["comp_off"], a["comp_v"]))}
    for name in ("isa", "anc"):
        setattr(idx, name, {k: set(v) for k, v in zip(col(f"{name}_k"), ic.split(t, a[f"{name}_off"], a[f"{name}_v"]))})
    return idx


# --------------------------------------------------------------------------- the calls as arrays

_TIERS = ("asserted", "inferred")


def calls_arrays(calls: dict[tuple[str, str, str], Call]) -> dict[str, np.ndarray]:
    s = ic.StringTable()
    cs = list(calls.values())
    a = {"taxon": s.ids(c.taxon for c in cs), "entity": s.ids(c.entity for c in cs),
         "present": np.asarray([c.value == PRESENT for c in cs], dtype=bool),
         "tier": np.asarray([_TIERS.index(c.tier) for c in cs], dtype=np.int8),
         "polymorphic": np.asarray([c.polymorphic for c in cs], dtype=bool)}
    a["states_off"], a["states"] = s.lists([c.states for c in cs])
    a["sources_off"], a["sources"] = s.lists([c.sources for c in cs])
    a.update(s.arrays())
    a.update(call_orders(a))
    return a


def call_orders(a: dict[str, Any]) -> dict[str, np.ndarray]:
    """The calls' rows sorted by (taxon, entity, value) and by taxon (stable): what a
    :class:`CallTable` searches, kept in the file so that a start sorts nothing."""
    n = len(a["strings_off"])  # the string table's size + 1 (as ``ic.strings`` makes it)
    taxon = a["taxon"].astype(np.int64)
    code = (taxon * n + a["entity"]) * 2 + a["present"]
    return {"by_code": np.argsort(code, kind="stable"), "by_taxon": np.argsort(taxon, kind="stable")}


def calls_from_arrays(a: dict[str, Any]) -> dict[tuple[str, str, str], Call]:
    t = ic.strings(a)
    values = np.asarray([ABSENT, PRESENT], dtype=object)[a["present"].astype(np.int8)].tolist()
    tiers = np.asarray(_TIERS, dtype=object)[a["tier"]].tolist()
    return {(tx, e, v): Call(tx, e, v, tier, set(st), set(so), p) for tx, e, v, tier, st, so, p in
            zip(t[a["taxon"]].tolist(), t[a["entity"]].tolist(), values, tiers,
                ic.split(t, a["states_off"], a["states"]), ic.split(t, a["sources_off"], a["sources"]),
                a["polymorphic"].tolist())}


class CallTable(Mapping[tuple[str, str, str], Call]):
    """The calls read from their file, as a read-only mapping ``(taxon, entity, value) -> Call``
    that makes :class:`Call` objects only for what is asked: one key (a binary search over the
    sorted key codes), one taxon's calls (:meth:`of_taxon`), or every call at once for a walk over
    all of them (then kept). A service start reads the arrays and makes no call object."""

    def __init__(self, a: dict[str, Any]) -> None:
        self._a = a
        self._t = ic.strings(a)
        self._ids = {s: i for i, s in enumerate(self._t[:-1].tolist())}
        n = len(self._t)
        taxon = a["taxon"].astype(np.int64)
        code = (taxon * n + a["entity"]) * 2 + a["present"]
        orders = a if "by_code" in a else call_orders(a)  # kept in the file since it holds them
        self._by_code = orders["by_code"]
        self._codes = code[self._by_code]
        self._by_taxon = orders["by_taxon"]  # rows of a taxon in their order
        self._taxa = taxon[self._by_taxon]
        self._made: dict[int, Call] = {}
        self._all: dict[tuple[str, str, str], Call] | None = None
        self._lock = threading.Lock()

    def orders(self) -> dict[str, np.ndarray]:
        """The sort orders this table searches (:func:`call_orders`)."""
        return {"by_code": self._by_code, "by_taxon": self._by_taxon}

    @property
    def arrays(self) -> dict[str, Any]:
        """The table's columns as :func:`calls_arrays` writes them (read-only, mapped from the file),
        with the sort orders: what a bulk reader of every call (the trait pages) walks instead of
        making a :class:`Call` per row."""
        return {**{k: v for k, v in self._a.items() if k != "__meta__"}, **self.orders()}

    def _call(self, row: int) -> Call:
        c = self._made.get(row)
        if c is None:
            a, t = self._a, self._t
            so, ss = a["states_off"], a["sources_off"]
            c = Call(t[a["taxon"][row]], t[a["entity"][row]], PRESENT if a["present"][row] else ABSENT,
                     _TIERS[a["tier"][row]], set(t[a["states"][so[row]:so[row + 1]]].tolist()),
                     set(t[a["sources"][ss[row]:ss[row + 1]]].tolist()), bool(a["polymorphic"][row]))
            self._made[row] = c
        return c

    def _row(self, key: Any) -> int | None:
        try:
            tx, e, v = key
            ti, ei = self._ids.get(tx), self._ids.get(e)
        except (TypeError, ValueError):
            return None
        if ti is None or ei is None or v not in (PRESENT, ABSENT):
            return None
        code = (ti * len(self._t) + ei) * 2 + (v == PRESENT)
        i = int(np.searchsorted(self._codes, code))
        return int(self._by_code[i]) if i < len(self._codes) and self._codes[i] == code else None

    def __getitem__(self, key: tuple[str, str, str]) -> Call:
        row = self._row(key)
        if row is None:
            raise KeyError(key)
        return self._call(row)

    def __contains__(self, key: object) -> bool:
        return self._row(key) is not None

    def __len__(self) -> int:
        return len(self._codes)

    def of_taxon(self, taxon: str) -> list[Call]:
        """A taxon's calls, in the order they were computed."""
        ti = self._ids.get(taxon)
        if ti is None:
            return []
        lo, hi = np.searchsorted(self._taxa, [ti, ti + 1])
        return [self._call(r) for r in self._by_taxon[lo:hi].tolist()]

    def materialised(self) -> dict[tuple[str, str, str], Call]:
        """Every call as a dict (made once, in bulk)."""
        if self._all is None:
            with self._lock:
                if self._all is None:
                    with gc_paused():
                        self._all = calls_from_arrays(self._a)
        return self._all

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self.materialised())

    def keys(self):  # type: ignore[override]
        return self.materialised().keys()

    def values(self):  # type: ignore[override]
        return self.materialised().values()

    def items(self):  # type: ignore[override]
        return self.materialised().items()


class CallsByTaxon(Mapping[str, list[Call]]):
    """``taxon -> [Call]`` over a :class:`CallTable` (what ``Traits.calls_by_taxon`` answers): a
    read-only mapping whose taxa come in the order of their first call, as the dict built from the
    calls in memory has them."""

    def __init__(self, table: CallTable) -> None:
        self._table = table
        self._names: list[str] | None = None

    def _taxa(self) -> list[str]:
        if self._names is None:
            codes = self._table._a["taxon"]
            uniq, first = np.unique(codes, return_index=True)
            self._names = self._table._t[uniq[np.argsort(first, kind="stable")]].tolist()
        return self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._taxa())

    def __len__(self) -> int:
        return len(self._taxa())

    def get(self, taxon: str, default: Any = None) -> Any:
        return self._table.of_taxon(taxon) or default

    def __getitem__(self, taxon: str) -> list[Call]:
        got = self._table.of_taxon(taxon)
        if not got:
            raise KeyError(taxon)
        return got

    def __contains__(self, taxon: object) -> bool:
        return isinstance(taxon, str) and bool(self._table.of_taxon(taxon))

