"""The bulk encoder of the trait pages (kg.traits.page_encode.page_arrays) against the row-by-row
reference (page_arrays_by_row: Traits.trait_rows + Traits.trait_json, what the server answers
without pages): the same arrays, byte for byte, on the sample and on generated phenotype data
(calls computed in memory and read from their file's arrays; cells as a list and as the index
file's table; labels with quotes, backslashes, control characters and other scripts; ties)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg import KnowledgeGraph
from kg.core.store import open_store
from kg.phenoindex import CellRec, Pheno, PhenotypeIndex
from kg.traits.cached import CallTable, calls_arrays, index_arrays, index_from_arrays
from kg.traits.calls import ABSENT, PRESENT, Call
from kg.traits.page_encode import page_arrays, page_arrays_by_row
from kg.traits.queries import Traits

ANAT = "kg/sample/fish-anatomy-slim.ttl"
OBO = "http://purl.obolibrary.org/obo/"


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_bulk_encoder_equals_the_rows_on_the_sample(tmp_path):
    kg = KnowledgeGraph.open("oxigraph:")
    kg.load_ontology(ANAT)
    kg.load_phenotypes("kg/sample/phenotypes.xml")
    ref = page_arrays_by_row(kg.traits)
    assert len(ref["kind"]) > 50 and (ref["kind"] == 2).any() and (ref["tier"] == 1).any()
    _same(page_arrays(kg.traits), ref)
    disk = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'store'}")  # calls and cells read back from their files
    disk.load_ontology(ANAT)
    disk.load_phenotypes("kg/sample/phenotypes.xml")
    disk.traits.calls()  # written to its file
    disk.invalidate()
    assert isinstance(disk.traits.calls(), CallTable)
    _same(page_arrays(disk.traits), page_arrays_by_row(disk.traits))


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6) | st.sampled_from(
    ["", "fin", "Fin", 'a "q"', "back\\slash", "tab\there", "nl\n", "é", "鰭", "\x00", "\u2028"])


@st.composite
def worlds(draw):
    n_t, n_e, n_s = draw(st.integers(1, 5)), draw(st.integers(1, 7)), draw(st.integers(1, 8))
    taxa = [f"https://w3id.org/traitkg/taxon/T{i}" for i in range(n_t)]
    ents = [f"{OBO}UBERON_{i:07d}" if i % 3 else f"https://example.org/e/{i}" for i in range(n_e)]
    states = [f"https://w3id.org/traitkg/state/{i}" for i in range(n_s)]
    labels = {e: draw(_TEXT) for e in ents if draw(st.booleans())}  # some terms without a label, some ties
    quals = [f"{OBO}PATO_{i:07d}" for i in range(3)]
    labels.update({q: draw(_TEXT) for q in quals if draw(st.booleans())})
    phenos = {}
    for i in range(draw(st.integers(1, 6))):
        p = f"https://w3id.org/traitkg/phenotype/{i}"
        phenos[p] = Pheno(p, draw(st.none() | st.sampled_from(ents)), draw(st.none() | st.sampled_from(quals)),
                          draw(st.none() | st.sampled_from(ents)), None)
    state_ph = {s: draw(st.lists(st.sampled_from(list(phenos)), max_size=3)) for s in states if draw(st.booleans())}
    cells = [CellRec(draw(st.sampled_from(taxa)), f"otu{i}", draw(st.lists(st.sampled_from(states), min_size=1,
                                                                             max_size=3, unique=True)),
                     draw(st.sampled_from(["single", "polymorphic", "uncertain"])))
             for i in range(draw(st.integers(0, 8)))]
    calls: dict = {}
    for tx in taxa:
        for e in draw(st.lists(st.sampled_from(ents), max_size=4, unique=True)):
            v = draw(st.sampled_from([PRESENT, ABSENT]))
            calls[(tx, e, v)] = Call(tx, e, v, "asserted", set(draw(st.lists(st.sampled_from(states), max_size=3))),
                                     polymorphic=draw(st.booleans()))
    asserted = list(calls.values())
    for c in asserted:  # inferred calls from asserted ones of the same taxon and value
        for e in draw(st.lists(st.sampled_from(ents), max_size=2, unique=True)):
            if (c.taxon, e, c.value) not in calls:
                srcs = {x.entity for x in asserted if x.taxon == c.taxon and x.value == c.value
                        and draw(st.booleans())} | {c.entity}
                calls[(c.taxon, e, c.value)] = Call(c.taxon, e, c.value, "inferred", sources=srcs)
    matrices = [f"https://w3id.org/traitkg/matrix/{m}" for m in ("b", "a")]
    info = {s: {"state": s, "state_label": draw(_TEXT), "symbol": "0", "character": f"{s}/c",
                "character_label": draw(_TEXT), "character_number": draw(st.integers(0, 3)),
                "matrix": draw(st.sampled_from(matrices)), "matrix_title": "M", "publication": "p", "citation": "c"}
            for s in states if draw(st.booleans()) or s in state_ph}  # some states without evidence
    idx = PhenotypeIndex(taxa={t: f"T {i}" for i, t in enumerate(taxa) if i or draw(st.booleans())},
                         phenotypes=phenos, state_phenotypes=state_ph, cells=cells, labels={})
    return idx, calls, labels, info, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_bulk_encoder_equals_the_rows_on_generated_worlds(world):
    idx, calls, labels, info, from_files = world
    if from_files:  # the calls' and the cells' tables as a process reading their files has them
        calls = CallTable(calls_arrays(calls))
        idx = index_from_arrays(index_arrays(idx), [], [])
    store = open_store("oxigraph:")
    cache = {"phenoindex": idx, "calls": calls, "labels": labels, "state_info": info,
             "evidence_json": {s: json.dumps(d, ensure_ascii=False, default=str) for s, d in info.items()}}
    _same(page_arrays(Traits(store, cache)), page_arrays_by_row(Traits(store, dict(cache))))
