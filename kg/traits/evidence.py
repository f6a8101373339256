"""Evidence behind calls: states, characters, matrices and publications; term labels."""

from __future__ import annotations

import re
from typing import Any

from kg.core.graphs import TKG
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


def state_info(store: Store, cache: dict[str, Any], states: set[str]) -> dict[str, dict[str, Any]]:
    """State -> {state, label, symbol, character, character_number, matrix, publication, citation}."""
    if "state_info" not in cache:
        info = {}
        for s, sl, sym, c, cl, n, m, mt, pub, cit in store.select(_STATE_INFO).rows:
            info[s.value] = {"state": s.value, "state_label": sl.value if sl else "", "symbol": sym.value,
                             "character": c.value, "character_label": cl.value if cl else "",
                             "character_number": int(n.value), "matrix": m.value, "matrix_title": mt.value,
                             "publication": pub.value, "citation": cit.value if cit else ""}
        cache["state_info"] = info
    return cache["state_info"]


def term_labels(store: Store, idx: PhenotypeIndex) -> dict[str, str]:
    out = dict(idx.labels)
    rows = store.select("SELECT ?s ?l WHERE { GRAPH ?g { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } "
                        "FILTER(STRSTARTS(STR(?s), 'http://purl.obolibrary.org/obo/')) }").rows
    for s, lab in rows:
        out.setdefault(s.value, lab.value)
    for c in idx.composed:
        if c not in out:
            out[c] = composed_label(store, c, out)
    return out


def composed_label(store: Store, c: str, labels: dict[str, str]) -> str:
    rows = store.quads(NamedNode(c), NamedNode(TKG + "expression"), None, None)
    text = next((q.object.value for q in rows), c)

    def sub(m: re.Match) -> str:
        try:
            return labels.get(expand(m.group(0)), m.group(0))
        except Exception:
            return m.group(0)

    return re.sub(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_]+", sub, text)
