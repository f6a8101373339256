"""Species predictions against the truth: accuracy and confusion by taxon and by clade.

A species prediction is a prediction of the trait ``dwc:scientificName``; its truth is the row's
ground truth when the table gave one, else the name of the taxon the row is about. Names compare
after white-space normalising.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from kg.core.graphs import TKG, GraphRecord
from kg.core.names import DWC, normalise_name
from kg.core.store import NamedNode, Store
from kg.predictions.rows import frame, side_tables

SPECIES_TRAIT = DWC + "scientificName"

_Q = f"""SELECT ?taxon ?value ?truth WHERE {{ GRAPH ?g {{
  ?p <{TKG}trait> ?trait ; <{TKG}taxon> ?taxon ; <{TKG}predictedValue> ?value .
  OPTIONAL {{ ?p <{TKG}groundTruth> ?truth }} }} }}"""
_REJECTED_Q = f"""SELECT ?raw WHERE {{ GRAPH ?g {{ ?b <{TKG}rejectedRow> ?r . ?r <{TKG}rawRow> ?raw }} }}"""
_ROWS_Q = f"""SELECT ?rows WHERE {{ GRAPH ?g {{ ?b a <{TKG}PredictionBatch> ; <{TKG}rowCount> ?rows }} }}"""
_TAXONOMY_Q = f"""SELECT ?t ?name ?rank ?parent WHERE {{ GRAPH ?g {{ ?t a <{TKG}Taxon> ; <{DWC}scientificName> ?name .
  OPTIONAL {{ ?t <{DWC}taxonRank> ?rank }} OPTIONAL {{ ?t <{TKG}parentTaxon> ?parent }} }} }}"""


def _name_of(iri: str) -> str:
    import urllib.parse

    return normalise_name(urllib.parse.unquote(iri.rsplit("/", 1)[-1]))


def species_rows(store: Store, batch: GraphRecord) -> list[tuple[str, str, str]]:
    """(taxon IRI, true name, predicted name) of every species prediction of a batch."""
    out = []
    names: dict[str, str] | None = None
    path = side_tables(store, [batch]).get(batch.iri)
    if path is not None:
        df = frame(path, ["taxon", "value", "truth"], where=("trait", SPECIES_TRAIT))
        found = zip(df["taxon"].tolist(), df["value"].astype(str).tolist(), df["truth"].tolist())
    else:
        found = ((t.value, v.value, None if tr is None else tr.value)
                 for t, v, tr in store.select(_Q, {"g": NamedNode(batch.iri), "trait": NamedNode(SPECIES_TRAIT)}).rows)
    for taxon, value, truth in found:
        if truth is not None:
            true = normalise_name(truth)
        else:
            if names is None:
                names = _taxonomy(store)[0]
            true = names.get(taxon) or _name_of(taxon)
        out.append((taxon, true, normalise_name(value)))
    return out


def accuracy(store: Store, batch: GraphRecord) -> dict[str, Any]:
    """Accuracy of a batch's species predictions over the stored rows, plus ``table_accuracy``: the
    figure over every row of the input table as published metrics count it (rows the load rejected,
    kept with the batch, count as correct when their raw truth and prediction are the same text,
    e.g. both empty)."""
    rows = species_rows(store, batch)
    correct = sum(1 for _, t, v in rows if t == v)
    rejected = [json.loads(r[0].value) for r in store.select(_REJECTED_Q, {"g": NamedNode(batch.iri)}).rows]
    by_row = {r["row"]: r for r in rejected if r.get("trait") in ("dwc:scientificName", SPECIES_TRAIT)
              or not r.get("trait")}
    raw_correct = sum(1 for r in by_row.values() if (r.get("truth") or r.get("taxon", "")) == r.get("value", ""))
    total = store.select(_ROWS_Q, {"g": NamedNode(batch.iri)}).rows
    table_rows = int(total[0][0].value) if total else len(rows) + len(by_row)
    n = len(rows)
    return {"batch": f"{batch.kind}/{batch.name}/{batch.version}", "n": n, "correct": correct,
            "accuracy": correct / n if n else None, "rejected_rows": len(by_row), "table_rows": table_rows,
            "table_accuracy": (correct + raw_correct) / table_rows if table_rows else None}


def confusion(store: Store, batch: GraphRecord) -> dict[str, dict[str, int]]:
    """True name -> predicted name -> count."""
    out: dict[str, Counter] = defaultdict(Counter)
    for _, true, pred in species_rows(store, batch):
        out[true][pred] += 1
    return {k: dict(v.most_common()) for k, v in sorted(out.items())}


def _taxonomy(store: Store) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    names, ranks, parent = {}, {}, {}
    for t, name, rank, par in store.select(_TAXONOMY_Q).rows:
        names[t.value] = normalise_name(name.value)
        if rank is not None:
            ranks[t.value] = rank.value
        if par is not None:
            parent[t.value] = par.value
    return names, ranks, parent


def by_taxon(store: Store, batch: GraphRecord, *, rank: str | None = None) -> list[dict[str, Any]]:
    """Accuracy per true taxon, or per clade at ``rank`` (genus, family...: walks the loaded
    taxonomy; without one, a genus is the first word of the name). A prediction is correct when
    it names the true species; ``clade_correct`` counts predictions inside the true clade."""
    rows = species_rows(store, batch)
    if rank is None:
        clade_of = lambda name: name  # noqa: E731
    else:
        names, ranks, parent = _taxonomy(store)
        by_name = {v: k for k, v in names.items()}

        def clade_of(name: str) -> str:
            iri = by_name.get(name)
            steps = 0
            while iri is not None and steps < 100:
                if ranks.get(iri) == rank:
                    return names[iri]
                iri = parent.get(iri)
                steps += 1
            return name.split(" ", 1)[0] if rank == "genus" else "(unplaced)"
    stats: dict[str, dict[str, Any]] = {}
    for _, true, pred in rows:
        key = clade_of(true)
        s = stats.setdefault(key, {"clade": key, "n": 0, "correct": 0, "clade_correct": 0, "confused_with": Counter()})
        s["n"] += 1
        if pred == true:
            s["correct"] += 1
        if clade_of(pred) == key:
            s["clade_correct"] += 1
        if pred != true:
            s["confused_with"][pred] += 1
    out = []
    for s in stats.values():
        s["accuracy"] = s["correct"] / s["n"]
        s["clade_accuracy"] = s["clade_correct"] / s["n"]
        s["confused_with"] = dict(sorted(s["confused_with"].items(), key=lambda x: (-x[1], x[0]))[:5])  # ties by name
        if rank is None:
            s["taxon"] = s.pop("clade")
            s.pop("clade_correct")
            s.pop("clade_accuracy")
        out.append(s)
    return sorted(out, key=lambda d: (-d["n"], d.get("clade") or d.get("taxon")))


__all__ = ["SPECIES_TRAIT", "accuracy", "confusion", "by_taxon", "species_rows"]
