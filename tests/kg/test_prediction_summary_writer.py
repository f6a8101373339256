"""The summary graph's N-Triples (built a column at a time with Arrow) hold the triples a plain
per-node writer gives."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyoxigraph as ox
import pytest

from kg.core.graphs import TKG, XSD
from kg.predictions.summary import NUMERIC, summarise, summary_ntriples

OBO = "http://purl.obolibrary.org/obo/"
PREFIX = "https://w3id.org/traitkg/prediction/m/1/summary/"
BATCH = "https://w3id.org/traitkg/graph/predictions/m/1"
CAMEL = {"mean_confidence": "meanConfidence"}

def _frame() -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(7)
    rows = []
    for t in range(40):
        for i in range(1 + t % 5):
            taxon = f"{OBO}NCBITaxon_{t}"
            rows.append((taxon, f"{OBO}UBERON_2000251", "", "", np.nan, rng.random(), ["present", "absent"][i % 2],
                         "fin"))
            rows.append((taxon, f"{OBO}PATO_0000122", ["left", 'r"ight\\'][i % 2], "UO:0000016", 4 + rng.random(),
                         np.nan if i == 2 else rng.random(), "", "length"))
            rows.append((taxon, f"{OBO}PATO_0001323", "", ["UO:0000016", "UO:0000015"][t % 2], 1 + rng.random(),
                         rng.random(), "", "area"))
            if t % 7 == 0:
                rows.append((taxon, f"{OBO}PATO_0000014", "dorsal fin", "", np.nan, rng.random(), "café \"x\"\n",
                             "colour"))
    df = pd.DataFrame(rows, columns=["taxon_iri", "trait_iri", "region", "unit", "num", "conf", "value", "trait"])
    return df, {"fin": "categorical", "length": "continuous", "area": "continuous", "colour": "categorical"}

def _lit(text: str) -> ox.Literal:
    return ox.Literal(text)

def _reference(cont: pd.DataFrame, cat: pd.DataFrame) -> set[ox.Triple]:
    """The summary triples written one node at a time, as the writer's documentation says."""
    out: set[ox.Triple] = set()
    P = lambda x: ox.NamedNode(f"{TKG}{x}")  # noqa: E731
    i = 0
    for kind, frame in (("continuous", cont), ("categorical", cat)):
        for r in frame.to_dict("records"):
            i += 1
            s = ox.NamedNode(f"{PREFIX}{i}")
            out |= {ox.Triple(s, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), P("PredictionSummary")),
                    ox.Triple(s, P("summaryOf"), ox.NamedNode(BATCH)), ox.Triple(s, P("taxon"), ox.NamedNode(r["taxon_iri"])),
                    ox.Triple(s, P("trait"), ox.NamedNode(r["trait_iri"])), ox.Triple(s, P("traitKind"), _lit(kind))}
            for key in NUMERIC:
                v = r.get(key)
                if v is None or not math.isfinite(float(v)):
                    continue
                lit = ox.Literal(str(int(v)), datatype=ox.NamedNode(f"{XSD}integer")) if key == "n" else \
                    ox.Literal(repr(float(v)), datatype=ox.NamedNode(f"{XSD}double"))
                out.add(ox.Triple(s, P(CAMEL.get(key, key)), lit))
            if r.get("region"):
                out.add(ox.Triple(s, P("region"), _lit(r["region"])))
            for reg in r.get("regions") or []:
                out.add(ox.Triple(s, P("pooledRegion"), _lit(reg)))
            if kind == "continuous" and r.get("unit"):
                out.add(ox.Triple(s, P("unit"), ox.NamedNode(OBO + r["unit"].replace(":", "_"))))
            if kind == "categorical":
                out.add(ox.Triple(s, P("stateCounts"), _lit(json.dumps(r["states"], ensure_ascii=False))))
                out.add(ox.Triple(s, P("mostFrequentState"), _lit(str(r["mode"]))))
    return out

def _canonical(triples) -> set[ox.Triple]:
    """Triples as a store gives them back (doubles and integers in the engine's canonical form)."""
    s = ox.Store()
    s.extend(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples)
    return {q.triple for q in s}

@pytest.mark.parametrize("chunk", [7, 25_000])
def test_the_column_writer_gives_the_per_node_triples(chunk):
    df, kinds = _frame()
    cont, cat = summarise(df, kinds)
    assert len(cont) and len(cat) and cont["regions"].notna().any()
    text = b"".join(c for c, _ in summary_ntriples(cont, cat, PREFIX, BATCH, chunk=chunk))
    n = sum(k for _, k in summary_ntriples(cont, cat, PREFIX, BATCH, chunk=chunk))
    got = list(ox.parse(text, format=ox.RdfFormat.N_TRIPLES))
    assert len(got) == n == len(set(got))
    assert _canonical(got) == _canonical(_reference(cont, cat))
