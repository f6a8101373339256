"""Reading the ``hypotheses`` graphs that ``gnn`` writes (one per run), through SPARQL only (no torch).

>>> from kg import KnowledgeGraph
>>> list_hypotheses(KnowledgeGraph.open("oxigraph:").store)
[]
"""

from __future__ import annotations

import json
from typing import Any

from kg.core.graphs import TKG
from kg.core.store import Literal, NamedNode, Store
from ontologies.prefixes import contract, expand

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PROV = "http://www.w3.org/ns/prov#"
XSD_DOUBLE = NamedNode("http://www.w3.org/2001/XMLSchema#double")

_RUNS = f"""PREFIX tkg: <{TKG}> PREFIX prov: <{PROV}>
SELECT ?g ?run ?task ?split ?model ?code ?seed ?device ?n ?gate ?metrics ?time WHERE {{
  GRAPH ?g {{ ?run a tkg:HypothesisRun ; tkg:task ?task ; tkg:split ?split ; tkg:model ?model ; tkg:codeVersion ?code ;
    tkg:seed ?seed ; tkg:device ?device ; tkg:hypothesisCount ?n ; tkg:gate ?gate ; tkg:metrics ?metrics ;
    prov:generatedAtTime ?time }} }} ORDER BY DESC(?time)"""

_USED = f"PREFIX prov: <{PROV}> SELECT ?run ?s WHERE {{ GRAPH ?g {{ ?run prov:used ?s }} }}"

#: the run's audit fields (JSON literals, :mod:`gnn.audit`) -> the key a run dict gives them
AUDIT_FIELDS = {"softwareVersions": "software_versions", "limitReport": "limit", "methodMetrics": "methods",
                "violations": "violations", "ablation": "ablation", "heldOutClades": "held_out_clades",
                "bootstrap": "bootstrap", "entityPairs": "entity_pairs", "parameters": "parameters"}
_AUDIT = f"""PREFIX tkg: <{TKG}> SELECT ?run ?p ?v ?n WHERE {{ GRAPH ?g {{ ?run a tkg:HypothesisRun ;
  ?p ?v . OPTIONAL {{ ?run tkg:conflictCount ?n }} }} FILTER(?p IN ({", ".join(f"tkg:{k}" for k in AUDIT_FIELDS)})) }}"""

_CELLS = f"""PREFIX tkg: <{TKG}> PREFIX rdf: <{RDF}> PREFIX prov: <{PROV}>
SELECT ?k ?s ?o ?y ?side ?scores WHERE {{ GRAPH ?g {{ ?run a tkg:HypothesisRun .
  ?c a tkg:EvaluationCell ; tkg:cellIndex ?k ; rdf:subject ?s ; rdf:object ?o ; tkg:observedPresent ?y ; tkg:splitSide ?side .
  OPTIONAL {{ ?c tkg:methodScores ?scores }} }} %s }} ORDER BY ?k"""

_CONFLICTS = f"""PREFIX tkg: <{TKG}> PREFIX rdf: <{RDF}>
SELECT ?s ?o ?tiers WHERE {{ GRAPH ?g {{ ?run tkg:reportsConflict ?c . ?c rdf:subject ?s ; rdf:object ?o ;
  tkg:callTiers ?tiers }} }} ORDER BY ?s ?o"""

_HYPS = f"""PREFIX tkg: <{TKG}> PREFIX prov: <{PROV}> PREFIX rdf: <{RDF}>
SELECT ?h ?run ?s ?p ?o ?score ?method ?ms ?base ?bs ?mv ?bv ?chosen WHERE {{
  GRAPH ?g {{ ?h a tkg:Hypothesis ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; tkg:score ?score ;
    tkg:method ?method ; tkg:modelScore ?ms ; tkg:baseline ?base ; tkg:baselineScore ?bs ;
    tkg:modelValidation ?mv ; tkg:baselineValidation ?bv ; tkg:chosen ?chosen ; prov:wasGeneratedBy ?run }} %s }} ORDER BY DESC(?score) ?h"""


def _num(t: Any) -> float | None:
    try:
        x = float(t.value)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def list_runs(store: Store) -> list[dict[str, Any]]:
    """Every hypotheses run, newest first, with its provenance, gate and metrics."""
    used: dict[str, list[str]] = {}
    for run, s in store.select(_USED).rows:
        used.setdefault(run.value, []).append(s.value)
    audit: dict[str, dict[str, Any]] = {}
    for run, p, v, n in store.select(_AUDIT).rows:
        a = audit.setdefault(run.value, {"conflict_count": int(n.value) if n is not None else 0})
        a[AUDIT_FIELDS[p.value.rsplit("#", 1)[-1]]] = json.loads(v.value)
    out = []
    for g, run, task, split, model, code, seed, device, n, gate, metrics, time in store.select(_RUNS).rows:
        out.append({"run": run.value.rsplit("/", 1)[-1], "graph": g.value, "task": task.value, "split": split.value,
                    "model": model.value, "code_version": code.value, "seed": int(seed.value), "device": device.value,
                    "hypotheses": int(n.value), "gate": json.loads(gate.value), "metrics": json.loads(metrics.value),
                    "generated": time.value, "used": sorted(used.get(run.value, [])), **audit.get(run.value, {})})
    return out


def run_cells(store: Store, run: str) -> list[dict[str, Any]]:
    """A run's split: every labelled cell in order (``tkg:cellIndex``) with its side, observed value
    and, for held-out cells, every method's probability of presence."""
    from kg.core.graphs import BASE

    rows = store.select(_CELLS % "", {"run": NamedNode(f"{BASE}hypothesis/{run}")}).rows
    return [{"index": int(k.value), "taxon": contract(s.value), "entity": contract(o.value), "present": y.value == "true",
             "side": side.value, "scores": json.loads(sc.value) if sc is not None else None}
            for k, s, o, y, side, sc in rows]


def run_conflicts(store: Store, run: str) -> list[dict[str, str]]:
    """The cells with contradicting calls that a run reported (and left alone)."""
    from kg.core.graphs import BASE

    rows = store.select(_CONFLICTS, {"run": NamedNode(f"{BASE}hypothesis/{run}")}).rows
    return [{"taxon": contract(s.value), "entity": contract(o.value), "tiers": t.value} for s, o, t in rows]


def list_hypotheses(store: Store, *, run: str | None = None, subject: str | None = None,
                    predicate: str | None = None, object: str | None = None, method: str | None = None,
                    min_score: float | None = None) -> list[dict[str, Any]]:
    """Hypotheses, most confident first; every filter is bound as a value, never pasted into the query."""
    from kg.core.graphs import BASE

    bindings: dict[str, Any] = {}
    extra = []
    if run:
        bindings["run"] = NamedNode(f"{BASE}hypothesis/{run}")
    if subject:
        bindings["s"] = NamedNode(expand(subject))
    if predicate:
        bindings["p"] = NamedNode(expand(predicate))
    if object:
        bindings["o"] = NamedNode(expand(object))
    if method:
        bindings["method"] = Literal(method)
    if min_score is not None:
        bindings["min"] = Literal(repr(float(min_score)), datatype=XSD_DOUBLE)
        extra.append("FILTER(?score >= ?min)")
    rows = store.select(_HYPS % " ".join(extra), bindings or None).rows
    return [{"id": h.value.split("/hypothesis/", 1)[-1], "run": r.value.rsplit("/", 1)[-1], "subject": contract(s.value),
             "predicate": contract(p.value), "object": contract(o.value), "score": _num(score), "method": method_.value,
             "model_score": _num(ms), "baseline": base.value, "baseline_score": _num(bs), "model_validation": _num(mv),
             "baseline_validation": _num(bv), "chosen": chosen.value}
            for h, r, s, p, o, score, method_, ms, base, bs, mv, bv, chosen in rows]
