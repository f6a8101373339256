"""Taxon names kept beside the store, one file per graph version: what every name resolver reads.

A resolver (:func:`kg.core.names.resolver`) needs every taxon's name and rank, every tree tip's
label, the synonyms and the external ids. Read through SPARQL joins over the union of the graphs
(:func:`kg.core.names.read_universe`), that is every taxon and tip again on every load: 212.9 s at
2.78M taxa, 532 s of a 539 s prediction load on the 2.4M-tip store. Here each graph's share is read
with one-pattern queries, whose answers the engine writes as TSV (no Python object per term), once
per graph version, and kept in ``<store>.cache/taxonnames/<key>.npz``
(:mod:`kg.indexcache`: one builder per file, a new version of a graph gives a new key). The
union's joins (a taxon typed in one graph and named in another) are made in memory, so the names
are those the SPARQL reading finds. A load that adds a batch of predictions reads that one graph's
share (index lookups that find nothing) and the files of the others.

What is read from each graph: subjects typed ``tkg:Taxon``; ``dwc:scientificName``,
``dwc:taxonRank``, ``tkg:synonym`` and ``skos:exactMatch`` pairs; tree tips (a node's
``cdao:has_Taxon`` and ``rdfs:label``, both in that graph, as the tree loader writes them). Graphs
the manifest does not list (its own graph, one written through SPARQL UPDATE by hand) and the
embedded store's default graph are read each time, not kept. Blank-node subjects are left out: a
taxon without an IRI cannot be linked to.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from kg import indexcache as ic
from kg.core.bulk import gc_paused
from kg.core.graphs import list_graphs
from kg.core.name_table import NameTable
from kg.core.names import (
    DWC,
    SKOS_EXACT,
    TKG_SYNONYM,
    TKG_TAXON,
    NameUniverse,
    Resolver,
    TaxonName,
    normalise_name,
    resolver,
    taxon_iris,
)
from kg.core.store import NamedNode, Store
from kg.core.store.base import tsv_value

log = logging.getLogger(__name__)

FORMAT = 2  # 2: a member's pairs as (subjects, objects) rows
KIND = "taxonnames"
UNIVERSE_FORMAT = 3  # 2: IRIs and names packed as they are, ranks as codes; 3: the hash tables of kg.core.name_table
UNIVERSE_KIND = "taxonuniverse"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_HAS_TAXON = "http://purl.obolibrary.org/obo/CDAO_0000187"
#: member -> the predicate of its (subject, object) pairs
_PAIRS = {"name": DWC + "scientificName", "rank": DWC + "taxonRank", "synonym": TKG_SYNONYM,
          "external": SKOS_EXACT}
_MEMBERS = ("typed", *_PAIRS, "tip")


def _query(select: str, body: str, graph: bool) -> str:
    return f"SELECT {select} WHERE {{ GRAPH ?g {{ {body} }} }}" if graph else f"SELECT {select} WHERE {{ {body} }}"


def _rows(text: str) -> list[list[str]]:
    """The rows of a SPARQL TSV answer as values; rows naming a blank node are left out."""
    out = []
    for line in text.split("\n")[1:]:
        if line:
            terms = line.split("\t")
            if not any(t.startswith("_:") for t in terms):
                out.append([tsv_value(t) for t in terms])
    return out


@dataclass
class GraphNames:
    """One graph's share: ``typed`` (the taxa), and per member of ``_PAIRS`` and ``tip`` (taxon,
    tip label) the subjects and objects of its pairs, as two lists of one length."""

    typed: list[str]
    pairs: dict[str, tuple[list[str], list[str]]]

    @classmethod
    def read(cls, store: Store, graph: str | None) -> GraphNames:
        """Read from ``graph`` (``None``: the default graph alone)."""
        bind = {"g": NamedNode(graph)} if graph is not None else None

        def rows(select: str, body: str) -> list[list[str]]:
            return _rows(store.select_tsv(_query(select, body, graph is not None), bind))

        def columns(rows: list[list[str]]) -> tuple[list[str], list[str]]:
            return [r[0] for r in rows], [r[1] for r in rows]

        typed = [r[0] for r in rows("?s", f"?s <{_RDF_TYPE}> <{TKG_TAXON}>")]
        pairs = {m: columns(rows("?s ?o", f"?s <{p}> ?o")) for m, p in _PAIRS.items()}
        pairs["tip"] = columns(rows("?s ?o", f"?n <{_HAS_TAXON}> ?s . ?n <{_RDFS_LABEL}> ?o"))
        return cls(typed, pairs)

    @classmethod
    def of(cls, typed: list[str] | None = None, **pairs: tuple[list[str], list[str]]) -> GraphNames:
        """A share as a loader knows it from what it wrote (members not named are empty)."""
        unknown = set(pairs) - set(_MEMBERS)
        if unknown:
            raise TypeError(f"not a member of a graph's taxon names: {sorted(unknown)}")
        return cls(list(typed or []), {m: pairs.get(m, ([], [])) for m in _MEMBERS[1:]})

    def arrays(self) -> dict[str, np.ndarray]:
        st = ic.StringTable()
        out = {"typed": st.ids(self.typed)}
        for m, (subjects, objects) in self.pairs.items():
            out[m] = np.stack([st.ids(subjects), st.ids(objects)]) if subjects else np.zeros((2, 0), np.int64)
        return {**out, **st.arrays()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> GraphNames:
        table = ic.strings(arrays)
        typed = table[arrays["typed"]].tolist()
        pairs = {m: (table[arrays[m][0]].tolist(), table[arrays[m][1]].tolist()) for m in _MEMBERS[1:]}
        return cls(typed, pairs)

    def __len__(self) -> int:
        return len(self.typed) + sum(len(s) for s, _ in self.pairs.values())


def _share_arrays(store: Store, graph: str, record: Any) -> dict[str, Any]:
    """A recorded graph's share as the arrays of its file (mapped), read from the graph and written
    when there is none."""
    path = _share_path(store, record)

    def build() -> ic.Built[dict[str, Any]]:
        arrays = GraphNames.read(store, graph).arrays()
        return ic.Built(arrays, arrays, {"graph": graph, "version": record.version})

    return ic.load_or_build(path, kind=KIND, fmt=FORMAT, read=_checked, build=build)


def _checked(arrays: dict[str, Any]) -> dict[str, Any]:
    """A share file's arrays, each member there and of its shape (else the file is rebuilt)."""
    for m in _MEMBERS[1:]:
        if arrays[m].ndim != 2 or arrays[m].shape[0] != 2:
            raise ValueError(f"member {m!r} of shape {arrays[m].shape}, expected (2, n)")
    if arrays["typed"].ndim != 1 or "strings_blob" not in arrays:
        raise KeyError("typed or strings_blob")
    return arrays


def _share_path(store: Store, record: Any) -> Path | None:
    """Where the share of a graph version (its manifest entry) is kept."""
    return ic.path_for(store, KIND, ic.graphs_key([record], FORMAT))


def _universe_path(store: Store, holding: list[Any]) -> Path | None:
    """Where the names joined over the graphs ``holding`` any (their manifest entries) are kept."""
    return ic.path_for(store, UNIVERSE_KIND, ic.graphs_key(holding, UNIVERSE_FORMAT))


def _holds_names(arrays: dict[str, Any]) -> bool:
    return any(arrays[m].size for m in _MEMBERS if m in arrays)


def taxa_share(table: Any) -> GraphNames:
    """The share of a taxonomy graph from the table its loader wrote it from
    (:class:`loaders._taxon_table.TaxonTable`, written by :func:`loaders._taxon_table.ntriples_chunks`):
    what :meth:`GraphNames.read` reads back from that graph, without reading it."""
    iris = taxon_iris(table.names)
    ranks = [table.ranks[r] for r in table.rank]
    syn = [(iris[i], x) for i, xs in table.synonyms.items() for x in xs]
    ext = [(iris[i], x) for i, xs in table.external.items() for x in dict.fromkeys(xs)]
    return GraphNames.of(iris, name=(iris, list(table.names)), rank=(iris, ranks),
                         synonym=([t for t, _ in syn], [x for _, x in syn]),
                         external=([t for t, _ in ext], [x for _, x in ext]))


def tips_share(tree: Any) -> GraphNames:
    """The share of a tree graph from the parsed tree its loader wrote (:class:`loaders.parsed_tree.ParsedTree`,
    written by :func:`loaders.cdao.cdao_ntriples`): each named tip's taxon and label."""
    names = tree.names
    tips = np.flatnonzero((np.asarray(tree.size) == 1)
                          & (np.fromiter(map(len, names), dtype=np.int64, count=len(names)) > 0))
    labels = [names[i] for i in tips.tolist()]
    return GraphNames.of(tip=(taxon_iris(labels), labels))


def keep(store: Store, graph: str, share: GraphNames) -> None:
    """Write ``share`` as the file of ``graph`` just loaded (its manifest entry names the version),
    so that no resolver reads that graph back."""
    rec = next((r for r in list_graphs(store) if r.iri == graph), None)
    if rec is None:
        return
    t0 = time.perf_counter()
    path = _share_path(store, rec)
    ic.try_save(path, share.arrays(), kind=KIND, fmt=FORMAT, meta={"graph": graph, "version": rec.version})
    log.info("taxon names of %s: %d kept in %.1f s", graph, len(share), time.perf_counter() - t0)


def universe(store: Store) -> NameUniverse:
    """The store's :class:`kg.core.names.NameUniverse`, what :func:`kg.core.names.read_universe`
    reads through SPARQL: the named taxa (one entry per name and rank), then the tree tips not among
    them, in the order of their graphs' IRIs; the synonyms; the external ids of taxa.

    The joined names are kept too (``<store>.cache/taxonuniverse/``), with the hash tables a resolver
    looks them up in (:class:`kg.core.name_table.NameTable`), keyed by the graphs that hold
    any (a batch of predictions or a closure holds none, so loading one leaves the key as it was);
    a graph outside the manifest that holds names makes the join run each time."""
    with gc_paused():  # millions of names as small objects: the collector's passes would cost more
        return _universe(store)


def _universe(store: Store) -> NameUniverse:
    t0 = time.perf_counter()
    records = {r.iri: r for r in list_graphs(store)}
    graphs = sorted(set(store.named_graphs()) | set(records))
    loose = [GraphNames.read(store, g) for g in graphs if g not in records]
    if store.selector.startswith("oxigraph:"):  # a SPARQL endpoint's default graph is its own (often every graph)
        loose.insert(0, GraphNames.read(store, None))
    kept = [(records[g], _share_arrays(store, g, records[g])) for g in graphs if g in records]
    kept = [(r, a) for r, a in kept if _holds_names(a)]

    def join() -> NameUniverse:
        return _join([*[p for p in loose if len(p)], *(GraphNames.from_arrays(a) for _, a in kept)])

    if any(map(len, loose)):
        got, how = join(), "joined"
    else:
        path = _universe_path(store, [r for r, _ in kept])
        how = "read" if path is not None and path.is_file() else "joined"

        def build() -> ic.Built[NameUniverse]:
            u = _tabled(join())
            return ic.Built(u, _universe_arrays(u), {"graphs": len(kept)})

        got = ic.load_or_build(path, kind=UNIVERSE_KIND, fmt=UNIVERSE_FORMAT, read=_universe_of, build=build)
    log.info("taxon names of %d graphs (%d holding any), %s: %d taxa and tips, %d synonyms, %d external ids "
             "in %.1f s", len(graphs), len(kept), how, len(got.taxa), len(got.synonyms), len(got.external),
             time.perf_counter() - t0)
    return got


def files_in_use(store: Store) -> set[Path]:
    """The names files the store's graphs ask for now (each graph version's, and the joined names
    of those holding any), whether written yet or not: what a prune of older states keeps."""
    out: set[Path] = set()
    holding = []
    for rec in list_graphs(store):
        path = _share_path(store, rec)
        if path is None:
            return out
        out.add(path)
        got = ic.load(path, kind=KIND, fmt=FORMAT)
        if got is None or _holds_names(got):  # unknown until read: kept
            holding.append(rec)
    out.add(_universe_path(store, holding))
    return out


def _cat(parts: list[GraphNames], member: str) -> tuple[list[str], list[str]]:
    """A member's subjects and objects over the parts, in order."""
    if len(parts) == 1:
        return parts[0].pairs[member]
    return (list(chain.from_iterable(p.pairs[member][0] for p in parts)),
            list(chain.from_iterable(p.pairs[member][1] for p in parts)))


def _join(parts: list[GraphNames]) -> NameUniverse:
    """The union's joins, made in memory (see :func:`kg.core.names.read_universe`'s queries); the
    usual universe (one rank a taxon) is joined by dict and set operations, not a loop a taxon."""
    typed = set(chain.from_iterable(p.typed for p in parts))
    rs, ro = _cat(parts, "rank")
    one_rank = dict(zip(rs, ro))
    named = [(t, n) for t, n in dict.fromkeys(zip(*_cat(parts, "name"))) if t in typed]  # distinct, first seen first
    if len(one_rank) == len(rs):  # no taxon with two rank triples
        taxa = [TaxonName(t, n, one_rank.get(t)) for t, n in named]
    else:
        ranks: dict[str, list[str]] = {}
        for t, r in zip(rs, ro):
            got = ranks.setdefault(t, [])
            if r not in got:
                got.append(r)
        taxa = [TaxonName(t, n, r) for t, n in named for r in ranks.get(t) or (None,)]
    known = {t for t, _ in named}
    for t, label in zip(*_cat(parts, "tip")):
        if t not in known:
            known.add(t)
            taxa.append(TaxonName(t, normalise_name(label), None))
    syn: dict[str, list[str]] = {}
    ext: dict[str, list[str]] = {}
    for t, s in dict.fromkeys(zip(*_cat(parts, "synonym"))):
        syn.setdefault(s, []).append(t)
    for t, x in dict.fromkeys(zip(*_cat(parts, "external"))):
        if t in typed:
            ext.setdefault(x, []).append(t)
    return NameUniverse(taxa, syn, ext)


def _flat(table: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    pairs = [(k, v) for k, vs in table.items() for v in vs]
    return [k for k, _ in pairs], [v for _, v in pairs]


def _tabled(u: NameUniverse) -> NameUniverse:
    """``u`` with its taxa as a :class:`~kg.core.name_table.NameTable` (what a resolver looks up)."""
    return u if isinstance(u.taxa, NameTable) else NameUniverse(NameTable.from_taxa(u.taxa), u.synonyms, u.external)


def _universe_arrays(u: NameUniverse) -> dict[str, np.ndarray]:
    """The joined names as arrays: the taxa's table (IRIs and names packed as they are, ranks as codes,
    the hash tables of their keys and IRIs), synonyms and external ids as (key, taxon) strings."""
    out = _tabled(u).taxa.arrays()
    for m, table in (("synonyms", u.synonyms), ("external", u.external)):
        keys, values = _flat(table)
        out.update({**ic.pack_strings(keys, f"{m}_key"), **ic.pack_strings(values, f"{m}_taxon")})
    return out


def _universe_of(arrays: dict[str, Any]) -> NameUniverse:
    tables: list[dict[str, list[str]]] = []
    for m in ("synonyms", "external"):
        d: dict[str, list[str]] = {}
        for k, v in zip(ic.unpack_strings(arrays, f"{m}_key"), ic.unpack_strings(arrays, f"{m}_taxon")):
            d.setdefault(k, []).append(v)
        tables.append(d)
    return NameUniverse(NameTable.from_arrays(arrays), *tables)


def store_resolver(store: Store, *, tree: Any = None, fuzzy_cutoff: float = 88.0) -> Resolver:
    """:func:`kg.core.names.resolver` over the names kept beside the store (:func:`universe`)."""
    with gc_paused():  # millions of names as small objects
        return resolver(store, tree=tree, fuzzy_cutoff=fuzzy_cutoff, universe=universe(store))
