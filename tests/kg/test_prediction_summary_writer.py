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


# ---------------------------------------------------------------------------------------------
# The summaries made in bulk (regions pooled and states counted without a Python call per group)
# equal the group-by-group reference they replaced.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kg.predictions import summary as S  # noqa: E402


def _reference_categorical(cat: pd.DataFrame) -> pd.DataFrame:
    if not len(cat):
        return pd.DataFrame(columns=["taxon_iri", "trait_iri", "region", "n", "states", "mode", "mean_confidence"])
    key = ["taxon_iri", "trait_iri", "region"]
    counts = cat.groupby([*key, "value"], sort=True).size().rename("k").reset_index()
    conf = cat.groupby(key, sort=False)["conf"].mean().to_dict()
    rows: list[dict] = []
    last = None
    for t, tr, reg, v, n in zip(counts["taxon_iri"].tolist(), counts["trait_iri"].tolist(), counts["region"].tolist(),
                                counts["value"].tolist(), counts["k"].tolist()):
        if (t, tr, reg) != last:
            last = (t, tr, reg)
            rows.append({"taxon_iri": t, "trait_iri": tr, "region": reg, "states": {},
                         "mean_confidence": conf.get(last, np.nan)})
        rows[-1]["states"][v] = int(n)
    for r in rows:
        r["states"] = dict(sorted(r["states"].items(), key=lambda x: (-x[1], x[0])))
        r["n"] = sum(r["states"].values())
        r["mode"] = next(iter(r["states"]))
    return pd.DataFrame(rows)


def _reference_parts(df: pd.DataFrame, cont_mask: np.ndarray, targets: dict[str, str]) -> list:
    df = df.assign(region=df["region"] if "region" in df else "")
    cont = S.normalise_units(df[cont_mask], targets) if cont_mask.any() else df.iloc[:0].assign(x=[], unit_to=[])
    cat = df[~cont_mask]
    out = []
    for part, fn in ((cont, S._continuous), (cat, _reference_categorical)):
        per = fn(part)
        per["regions"] = None
        key = ["taxon_iri", "trait_iri"]
        has = (part["region"] != "").groupby([part[k] for k in key]).transform("any") if len(part) else part["region"]
        pool = part[has.astype(bool)] if len(part) else part
        pooled = None
        if len(pool):
            regions = pool.groupby(key)["region"].agg(lambda s: sorted(set(s) - {""})).rename("regions").reset_index()
            pooled = fn(pool.assign(region="")).drop(columns=["regions"], errors="ignore").merge(regions, on=key)
        out += [per, pooled]
    return out


_TRAITS = {f"{OBO}PATO_0000122": ("length", "UO:0000016"), f"{OBO}PATO_0001323": ("area", ""),
           f"{OBO}UBERON_2000251": ("fin", ""), f"{OBO}PATO_0000014": ("colour", "")}
_KINDS = {"length": "continuous", "area": "continuous", "fin": "categorical", "colour": "categorical"}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(sorted(_TRAITS)),
                          st.sampled_from(["", "left", "right", "Ärm", "dorsal fin", 'r"ight\\']),
                          st.sampled_from(["present", "absent", "Z", "é", "ab", "a b", "\u4e2d"]),
                          st.floats(0, 1) | st.just(float("nan")), st.floats(-5, 5)), min_size=0, max_size=60))
def test_summary_parts_in_bulk_equal_the_group_by_group_reference(rows):
    df = pd.DataFrame([(f"{OBO}NCBITaxon_{t}", tr, reg, _TRAITS[tr][1], x if _KINDS[_TRAITS[tr][0]] == "continuous"
                        else np.nan, conf, "" if _KINDS[_TRAITS[tr][0]] == "continuous" else v, _TRAITS[tr][0])
                       for t, tr, reg, v, conf, x in rows],
                      columns=["taxon_iri", "trait_iri", "region", "unit", "num", "conf", "value", "trait"])
    if not len(df):
        df = df.astype({"num": float, "conf": float})
    mask = df["trait"].map(_KINDS).eq("continuous").to_numpy(dtype=bool)
    got, want = S.summary_parts(df, mask, {}), _reference_parts(df, mask, {})
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            pd.testing.assert_frame_equal(g, w, check_exact=True)
