"""The term index kept on disk (:mod:`kg.indexcache`): built once per set of ontology and
nonredundant closure graph versions, read back by later processes as arrays (terms, their
synonyms, xrefs and replacements; the closure edges) instead of walking the ontology graphs.

>>> from kg import KnowledgeGraph
>>> len(open_terms(KnowledgeGraph.open("oxigraph:").store).terms)
0
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from kg import indexcache as ic
from kg.core.bulk import gc_paused
from kg.core.graphs import GraphRecord, list_graphs
from kg.core.store import Store
from kg.terms import Term, TermIndex

FORMAT = 1
_TERM_FIELDS = ("curie", "iri", "label", "definition", "ontology", "namespace")


def dependencies(store: Store) -> list[GraphRecord]:
    """The graphs :meth:`TermIndex.build` reads: the latest ontology graphs and their nonredundant
    closures (every closure counts: a newer one changes the key)."""
    return [r for r in list_graphs(store) if r.kind in ("ontology", "closure")]


def open_terms(store: Store) -> TermIndex:
    """The term index: from its file for these graph versions, else built from the store and written."""
    deps = dependencies(store)
    path = ic.path_for(store, "terms", ic.graphs_key(deps, FORMAT))

    def read(got: dict[str, Any]) -> TermIndex:
        with gc_paused():
            return terms_from_arrays(got)

    def complete(got: dict[str, Any]) -> dict[str, np.ndarray] | None:
        # a file written before the name index was kept gets it (same format), by one process
        if "nm_key" in got:
            return None
        with gc_paused():
            return names_arrays(terms_from_arrays(got), got)

    def build() -> ic.Built[TermIndex]:
        idx = TermIndex.build(store)
        if not deps:
            return ic.Built(idx)
        return ic.Built(idx, terms_arrays(idx),
                        {"graphs": idx.graphs, "held": sorted(idx.held) if idx.held is not None else None})

    return ic.load_or_build(path, kind="terms", fmt=FORMAT, read=read, build=build, complete=complete)


def terms_arrays(idx: TermIndex) -> dict[str, np.ndarray]:
    s = ic.StringTable()
    terms = list(idx.terms.values())
    a: dict[str, np.ndarray] = {f"t_{f}": s.ids(getattr(t, f) for t in terms) for f in _TERM_FIELDS}
    a["t_obsolete"] = np.asarray([t.obsolete for t in terms], dtype=bool)
    a["t_syn_off"], a["t_syn"] = s.lists([[x for syn in t.synonyms for x in (syn["text"], syn["scope"])]
                                         for t in terms])
    for f in ("xrefs", "replaced_by", "consider"):
        a[f"t_{f}_off"], a[f"t_{f}"] = s.lists([getattr(t, f) for t in terms])
    for d in ("up", "down"):  # both directions as built: their lists keep the store's order
        edges = [(x, p, y) for x, preds in getattr(idx, d).items() for p, ys in preds.items() for y in ys]
        a[f"{d}_x"], a[f"{d}_p"], a[f"{d}_y"] = (s.ids(e[i] for e in edges) for i in range(3))
    sub = [(sup, p) for sup, ps in idx.subprops.items() for p in sorted(ps)]  # sorted: not the process's set order
    a["sp_sup"], a["sp_sub"] = s.ids(x for x, _ in sub), s.ids(y for _, y in sub)
    a["transitive"] = s.ids(sorted(idx.transitive))
    a.update(s.arrays())
    a.update(names_arrays(idx, a))
    return a


def names_arrays(idx: TermIndex, a: dict[str, Any]) -> dict[str, np.ndarray]:
    """The name index (normalised label or synonym -> [(term, field)], sorted keys, xref -> terms)
    as ids into the file's string table, extended with the strings it lacks (the normalised
    texts): a start reads it instead of normalising every label and synonym again."""
    s = ic.StringTable()
    for x in ic.unpack_strings(a):
        s.id(x)
    names, keys, xref_to = idx.name_index()
    entries = [(k, iri, f) for k, hits in names.items() for iri, f in hits]
    xr = [(x, iri) for x, iris in xref_to.items() for iri in sorted(iris)]
    out = {"nm_key": s.ids(e[0] for e in entries), "nm_iri": s.ids(e[1] for e in entries),
           "nm_field": s.ids(e[2] for e in entries), "nm_sorted": s.ids(keys),
           "xr_k": s.ids(x for x, _ in xr), "xr_v": s.ids(v for _, v in xr)}
    out.update(s.arrays())
    return out


def terms_from_arrays(a: dict[str, Any]) -> TermIndex:
    t = ic.strings(a)
    idx = TermIndex()
    cols = [t[a[f"t_{f}"]].tolist() for f in _TERM_FIELDS]
    syns = ic.split(t, a["t_syn_off"], a["t_syn"])
    xrefs, repl, consider = (ic.split(t, a[f"t_{f}_off"], a[f"t_{f}"]) for f in ("xrefs", "replaced_by", "consider"))
    for curie, iri, label, definition, onto, ns, obs, sy, xr, rb, co in zip(
            *cols, a["t_obsolete"].tolist(), syns, xrefs, repl, consider):
        idx.terms[iri] = Term(curie, iri, label, definition, [{"text": x, "scope": y} for x, y in zip(sy[0::2], sy[1::2])],
                              xr, obs, rb, co, onto, ns)
    for d in ("up", "down"):
        edges(getattr(idx, d), t, a[f"{d}_x"], a[f"{d}_p"], a[f"{d}_y"])
    for sup, sub in zip(t[a["sp_sup"]].tolist(), t[a["sp_sub"]].tolist()):
        idx.subprops[sup].add(sub)
    idx.transitive = set(t[a["transitive"]].tolist())
    meta = a["__meta__"]
    idx.graphs = list(meta["graphs"])
    idx.held = set(meta["held"]) if meta.get("held") is not None else None
    if "nm_key" not in a:  # a file written before the name index was kept in it
        idx.index_names()
        return idx
    names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for k, iri, f in zip(t[a["nm_key"]].tolist(), t[a["nm_iri"]].tolist(), t[a["nm_field"]].tolist()):
        names[k].append((iri, f))
    xref_to: dict[str, set[str]] = defaultdict(set)
    for x, iri in zip(t[a["xr_k"]].tolist(), t[a["xr_v"]].tolist()):
        xref_to[x].add(iri)
    idx.set_name_index(names, t[a["nm_sorted"]].tolist(), xref_to)
    return idx


def edges(into: dict[str, dict[str, list[str]]], t: np.ndarray, x: np.ndarray, p: np.ndarray, y: np.ndarray) -> None:
    """``into[x][p]`` = the ``y`` of each ``(x, p)`` in the order written, the ``x`` and each
    ``x``'s ``p`` in the order first written (as appending edge by edge leaves them)."""
    if not len(x):
        return
    code = x.astype(np.int64) * len(t) + p
    _, first, group = np.unique(code, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")[group]  # groups by first edge
    order = np.argsort(rank, kind="stable")
    starts = np.flatnonzero(np.r_[True, rank[order][1:] != rank[order][:-1]])
    ys = t[y[order]].tolist()
    heads = order[starts]
    ends = [*starts[1:].tolist(), len(order)]
    for xs, ps, lo, hi in zip(t[x[heads]].tolist(), t[p[heads]].tolist(), starts.tolist(), ends):
        into[xs][ps] = ys[lo:hi]
