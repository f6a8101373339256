"""Evidence behind calls: states, characters, matrices and publications; term labels."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from kg import indexcache as ic
from kg.core.graphs import TKG, list_graphs
from kg.core.store import NamedNode, Store
from kg.phenoindex import PhenotypeIndex
from ontologies.prefixes import expand

_STATE_INFO = """
PREFIX tkg: <%s>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?s ?sl ?sym ?c ?cl ?n ?m ?mt ?pub ?cit WHERE { GRAPH ?g {
  ?s tkg:character ?c ; tkg:symbol ?sym . OPTIONAL { ?s rdfs:label ?sl }
  ?c tkg:characterNumber ?n ; tkg:inMatrix ?m . OPTIONAL { ?c rdfs:label ?cl }
  ?m dcterms:title ?mt ; tkg:publication ?pub . OPTIONAL { ?pub rdfs:label ?cit } } }""" % TKG


_INFO_STR = ("state", "state_label", "symbol", "character", "character_label", "matrix", "matrix_title", "publication",
             "citation")
FORMAT = 1  # of the files below


def state_info(store: Store, cache: dict[str, Any], states: set[str]) -> dict[str, dict[str, Any]]:
    """State -> {state, label, symbol, character, character_number, matrix, publication, citation}
    (read once per phenotype graph version and kept beside the store)."""
    if "state_info" not in cache:
        path = ic.path_for(store, "stateinfo", ic.graphs_key(list_graphs(store, kind="phenotypes"), FORMAT))
        got = ic.load(path, kind="stateinfo", fmt=FORMAT)
        if got is not None:
            t = ic.strings(got)
            cols = {k: t[got[k]].tolist() for k in _INFO_STR}
            nums = got["character_number"].tolist()
            cache["state_info"] = {s: {**{k: cols[k][i] for k in _INFO_STR}, "character_number": nums[i]}
                                   for i, s in enumerate(cols["state"])}
            return cache["state_info"]
        info = {}
        for s, sl, sym, c, cl, n, m, mt, pub, cit in store.select(_STATE_INFO).rows:
            info[s.value] = {"state": s.value, "state_label": sl.value if sl else "", "symbol": sym.value,
                             "character": c.value, "character_label": cl.value if cl else "",
                             "character_number": int(n.value), "matrix": m.value, "matrix_title": mt.value,
                             "publication": pub.value, "citation": cit.value if cit else ""}
        cache["state_info"] = info
        if info:
            st = ic.StringTable()
            rows = list(info.values())
            arrays = {k: st.ids(r[k] for r in rows) for k in _INFO_STR}
            arrays["character_number"] = np.asarray([r["character_number"] for r in rows], dtype=np.int64)
            ic.try_save(path, {**arrays, **st.arrays()}, kind="stateinfo", fmt=FORMAT)
    return cache["state_info"]


def term_labels(store: Store, idx: PhenotypeIndex) -> dict[str, str]:
    """Term IRI -> label: the phenotype index's labels, every ``rdfs:label`` of an OBO term in the
    store, and the labels of post-composed classes (read once per store content: the key is every
    graph of the manifest, and kept beside the store)."""
    path = ic.path_for(store, "termlabels", ic.graphs_key(list_graphs(store), FORMAT))
    got = ic.load(path, kind="termlabels", fmt=FORMAT)
    if got is not None:
        t = ic.strings(got)
        return dict(zip(t[got["k"]].tolist(), t[got["v"]].tolist()))
    out = read_term_labels(store, idx)
    if out and idx.phenotype_graphs:
        st = ic.StringTable()
        ic.try_save(path, {"k": st.ids(out.keys()), "v": st.ids(out.values()), **st.arrays()}, kind="termlabels",
                    fmt=FORMAT)
    return out


def read_term_labels(store: Store, idx: PhenotypeIndex) -> dict[str, str]:
    out = dict(idx.labels)
    rows = store.select("SELECT ?s ?l WHERE { GRAPH ?g { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } "
                        "FILTER(STRSTARTS(STR(?s), 'http://purl.obolibrary.org/obo/')) }").rows
    for s, lab in rows:
        out.setdefault(s.value, lab.value)
    todo = [c for c in idx.composed if c not in out]
    if todo:  # every post-composed class's expression in one read, not one query per class
        expressions: dict[str, str] = {}
        for q in store.quads(None, NamedNode(TKG + "expression"), None, None):
            expressions.setdefault(q.subject.value, q.object.value)
        for c in todo:
            out[c] = composed_label(expressions.get(c, c), out)
    return out


def composed_label(text: str, labels: dict[str, str]) -> str:
    """A post-composed class's expression (``UBERON:1 and BFO:0000050 some (UBERON:2)``) with its
    CURIEs replaced by their labels."""

    def sub(m: re.Match) -> str:
        try:
            return labels.get(expand(m.group(0)), m.group(0))
        except Exception:
            return m.group(0)

    return re.sub(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_]+", sub, text)
