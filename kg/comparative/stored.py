"""Stored comparative analyses read back: every value of one analysis graph (per node, taxon or
PGLS coefficient) and the whole analysis in the shape a run returns (:meth:`Analysis.to_dict`).

>>> from kg import KnowledgeGraph
>>> import tempfile, pathlib
>>> g = KnowledgeGraph.open("oxigraph:")
>>> tmp = tempfile.TemporaryDirectory()
>>> p = pathlib.Path(tmp.name) / "t.nwk"
>>> _ = p.write_text("((A_a:1,B_b:1):1,(C_c:1,D_d:1):1);")
>>> _ = g.load_tree(p, name="toy")
>>> t = g.comparative.rows([("A a", "0"), ("B b", "0"), ("C c", "1"), ("D d", "1")], name="spines")
>>> a = g.comparative.run("toy", t, "mk-er")
>>> back = g.comparative.read(a.record.iri)
>>> back["result"] == a.result, back["match"] == a.match
(True, True)
>>> sorted(g.comparative.estimates(a.record.iri)[0]["probabilities"])
['0', '1']
>>> tmp.cleanup()
"""

from __future__ import annotations

import json
from typing import Any

from kg.core.errors import NotFound
from kg.core.graphs import TKG, get_graph
from kg.core.store import NamedNode, Store

_NODES = """SELECT ?e ?node ?term ?trait ?ml ?joint ?est ?var ?lo ?hi ?se ?t WHERE { GRAPH ?g {
  ?e <%(t)sanalysis> ?a .
  { ?e <%(t)satNode> ?node } UNION { ?e <%(t)staxon> ?node } UNION { ?e <%(t)sterm> ?term }
  OPTIONAL { ?e <%(t)straitName> ?trait }
  OPTIONAL { ?e <%(t)smostLikelyState> ?ml } OPTIONAL { ?e <%(t)sjointState> ?joint }
  OPTIONAL { ?e <%(t)sestimate> ?est } OPTIONAL { ?e <%(t)svariance> ?var }
  OPTIONAL { ?e <%(t)sciLower> ?lo } OPTIONAL { ?e <%(t)sciUpper> ?hi }
  OPTIONAL { ?e <%(t)sstandardError> ?se } OPTIONAL { ?e <%(t)stValue> ?t } } } ORDER BY ?e"""
_PROBS = """SELECT ?e ?state ?p WHERE { GRAPH ?g { ?e <%(t)sstateProbability> ?sp .
  ?sp <%(t)sstateLabel> ?state ; <%(t)sprobability> ?p } }"""
_MPR = """SELECT ?e ?state WHERE { GRAPH ?g { ?e a <%(t)sAncestralStateEstimate> ; <%(t)sparsimonyState> ?state } }"""
_HEAD = """SELECT ?a ?m ?trait ?tree ?res ?match WHERE { GRAPH ?g {
  ?a a <%(t)sComparativeAnalysis> ; <%(t)smethod> ?m ; <%(t)straitName> ?trait ; <%(t)sonTree> ?tree ;
     <%(t)sresultJson> ?res . OPTIONAL { ?a <%(t)stipMatchJson> ?match } } }"""
_NUMBERS = ("est", "var", "lo", "hi", "se", "t")


def estimates(store: Store, graph: str) -> list[dict[str, Any]]:
    """Every stored value of one analysis per node, taxon or coefficient: ``ml``/``joint`` and
    ``probabilities`` (Mk), ``parsimony_states`` (Fitch), ``est``/``var``/``lo``/``hi`` (BM,
    imputation; ``trait`` for multivariate cells), ``term``/``est``/``se``/``t`` (PGLS); numbers
    as numbers."""
    g = {"g": NamedNode(graph)}
    res = store.select(_NODES % {"t": TKG}, g)
    out: dict[str, dict[str, Any]] = {}
    for row in res.rows:
        d = {k: v.value for k, v in zip(res.variables, row) if v is not None}
        for k in _NUMBERS:
            if k in d:
                d[k] = float(d[k])
        out[d["e"]] = d
    for e, state, p in store.select(_PROBS % {"t": TKG}, g).rows:
        if e.value in out:
            out[e.value].setdefault("probabilities", {})[state.value] = float(p.value)
    for e, state in store.select(_MPR % {"t": TKG}, g).rows:
        if e.value in out:
            out[e.value].setdefault("parsimony_states", []).append(state.value)
    for d in out.values():
        if "probabilities" in d:
            d["probabilities"] = dict(sorted(d["probabilities"].items()))
        if "parsimony_states" in d:
            d["parsimony_states"].sort()
    return list(out.values())


def read(store: Store, graph: str) -> dict[str, Any]:
    """One stored analysis as :meth:`kg.comparative.runner.Analysis.to_dict` gives it for a run:
    method, parameters (from the manifest), tree, trait, tip match, result, nodes, imputed values,
    PGLS coefficients and the graph."""
    rec = get_graph(store, graph)
    if rec.kind != "comparative":
        raise NotFound(f"{graph} is a {rec.kind} graph, not a comparative analysis")
    res = store.select(_HEAD % {"t": TKG}, {"g": NamedNode(rec.iri)})
    if not res.rows:
        raise NotFound(f"no comparative analysis in {rec.iri}")
    d = dict(zip(res.variables, res.rows[0]))
    params = {k: v for k, v in rec.parameters.items() if k not in ("trait", "trait_source", "trait_sha256", "tree")}
    nodes, imputed = [], []
    for e in estimates(store, rec.iri):
        if "term" in e:
            continue
        if "/node/" in e["e"]:
            nodes.append({"node": int(e["node"].rsplit("/", 1)[-1]), **{k: v for k, v in e.items()
                                                                         if k not in ("e", "node")}})
        else:
            imputed.append({k: v for k, v in e.items() if k != "e"})
    return {"method": d["m"].value, "parameters": params, "tree": rec.parameters.get("tree", ""),
            "tree_graph": next(iter(rec.derived_from), ""), "trait": d["trait"].value,
            "trait_sources": [x for x in rec.derived_from[1:]],
            "match": json.loads(d["match"].value) if d.get("match") is not None else {},
            "result": json.loads(d["res"].value), "nodes": sorted(nodes, key=lambda n: n["node"]),
            "imputed": imputed, "graph": rec.iri}
