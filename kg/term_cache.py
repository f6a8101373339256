"""The term index kept on disk (:mod:`kg.indexcache`): built once per set of ontology and
nonredundant closure graph versions, read back by later processes as arrays (terms, their
synonyms, xrefs and replacements; the closure edges) instead of walking the ontology graphs.

>>> from kg import KnowledgeGraph
>>> len(open_terms(KnowledgeGraph.open("oxigraph:").store).terms)
0
"""

from __future__ import annotations

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
    got = ic.load(path, kind="terms", fmt=FORMAT)
    if got is not None:
        with gc_paused():
            return terms_from_arrays(got)
    idx = TermIndex.build(store)
    if deps:
        ic.try_save(path, terms_arrays(idx), kind="terms", fmt=FORMAT,
                    meta={"graphs": idx.graphs, "held": sorted(idx.held) if idx.held is not None else None})
    return idx


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
    sub = [(sup, p) for sup, ps in idx.subprops.items() for p in ps]
    a["sp_sup"], a["sp_sub"] = s.ids(x for x, _ in sub), s.ids(y for _, y in sub)
    a["transitive"] = s.ids(sorted(idx.transitive))
    a.update(s.arrays())
    return a


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
        into = getattr(idx, d)
        for x, p, y in zip(t[a[f"{d}_x"]].tolist(), t[a[f"{d}_p"]].tolist(), t[a[f"{d}_y"]].tolist()):
            into[x][p].append(y)
    for sup, sub in zip(t[a["sp_sup"]].tolist(), t[a["sp_sub"]].tolist()):
        idx.subprops[sup].add(sub)
    idx.transitive = set(t[a["transitive"]].tolist())
    meta = a["__meta__"]
    idx.graphs = list(meta["graphs"])
    idx.held = set(meta["held"]) if meta.get("held") is not None else None
    idx.index_names()
    return idx
