"""Predicted presence/absence against the curated (asserted) and inferred calls of
:mod:`kg.traits`: for every taxon and anatomical entity a batch predicts as present or absent,
the majority prediction is the observation and the calls are the expectation. A prediction that
contradicts every call is an "expectation vs observation" item, with both sides' evidence."""

from __future__ import annotations

from typing import Any

from kg.core.store import NamedNode, Store
from kg.predictions.queries import batches, curie, scoped, summaries_where

PRESENT_WORDS = {"present": "present", "presence": "present", "yes": "present", "1": "present", "true": "present",
                 "pato:0000467": "present", "absent": "absent", "absence": "absent", "no": "absent", "0": "absent",
                 "false": "absent", "pato:0000462": "absent"}


def presence_counts(states: dict[str, int]) -> dict[str, int] | None:
    """State counts as present/absent counts, or None when the states are not presence/absence."""
    out = {"present": 0, "absent": 0}
    for k, v in states.items():
        w = PRESENT_WORDS.get(str(k).strip().casefold())
        if w is None:
            return None
        out[w] += int(v)
    return out


def agreement(store: Store, traits: Any, *, taxon: str | None = None, batch: str | None = None) -> list[dict[str, Any]]:
    """One item per (batch, taxon, entity) predicted present/absent: ``status`` agree | disagree |
    no-expectation, the observation (majority value, fraction, n, model) and the expectation
    (the calls' values, tiers and evidence)."""
    bindings = {"taxon": NamedNode(taxon)} if taxon else {}
    rows = [r for r in scoped(summaries_where(store, bindings, batches(store, batch)), pooled=True)
            if r["kind"] == "categorical"]
    calls = traits.calls()
    out = []
    for r in rows:
        counts = presence_counts(r.get("states") or {})
        if counts is None:
            continue
        n = counts["present"] + counts["absent"]
        value = "present" if counts["present"] >= counts["absent"] else "absent"
        entity = _iri(r["trait"])
        found = {v: calls.get((r["taxon_iri"], entity, v)) for v in ("present", "absent")}
        found = {v: c for v, c in found.items() if c is not None}
        status = "no-expectation" if not found else ("agree" if value in found else "disagree")
        item: dict[str, Any] = {
            "taxon": r["taxon"], "entity": r["trait"], "status": status,
            "kind": "expectation-vs-observation" if status == "disagree" else "comparison",
            "observed": {"tier": "predicted", "value": value, "fraction": (counts[value] / n) if n else None, "n": n,
                         "counts": counts, "model": r["model"], "model_version": r["model_version"],
                         "batch": r["batch"], "mean_confidence": r.get("mean_confidence")}}
        if found:
            exp = found.get(value) or next(iter(found.values()))
            item["expected"] = {"value": exp.value, "tier": exp.tier,
                                "inferred_from": sorted(curie(s) for s in exp.sources) or None,
                                "evidence": traits.evidence(exp) if status == "disagree" else None}
            try:
                item["entity_label"] = traits.label(entity)
            except Exception:  # labels are a nicety
                pass
        out.append(item)
    order = {"disagree": 0, "agree": 1, "no-expectation": 2}
    return sorted(out, key=lambda d: (order[d["status"]], d["taxon"], d["entity"]))


def _iri(curie_text: str) -> str:
    from ontologies.prefixes import expand

    return expand(curie_text)


__all__ = ["agreement", "presence_counts", "PRESENT_WORDS"]
