"""The summaries a prediction load keeps beside the store (kg.predictions.summary_file) give the
answer rows the summary graph gives, read whole (all_summaries) and by bound queries
(summaries_where): on generated predictions with quotes, backslashes, newlines, tabs, other scripts,
NaN and infinite values, regions pooled and not, units of one and of two dimensions."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg import indexcache as ic
from kg.core.bulk import load_chunks
from kg.core.graphs import list_graphs, load_graph
from kg.core.store import open_store
from kg.predictions import summary_file
from kg.predictions.queries import all_summaries, summaries_where, summary_graphs, summary_tsv
from kg.predictions.summary import KIND, summarise, write_summaries

OBO = "http://purl.obolibrary.org/obo/"
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
REGION = st.sampled_from(["", "", "left", "right", 'r"ight\\', "fin\tray\n2", "aile gauche é", "左"])
UNIT = st.sampled_from(["", "UO:0000016", "UO:0000015", "UO:0000021"])  # length, length, mass
NUM = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                st.floats(min_value=-1e6, max_value=1e6), st.integers(-10, 10).map(float))
TRAITS = {"length": (f"{OBO}PATO_0000122", "continuous"), "area": (f"{OBO}PATO_0001323", "continuous"),
          "fin": (f"{OBO}UBERON_2000251", "categorical"), "colour": (f"{OBO}PATO_0000014", "categorical")}
ROW = st.tuples(st.integers(0, 2), st.sampled_from(sorted(TRAITS)), REGION, UNIT, NUM,
                st.one_of(st.just(math.nan), st.floats(0, 1)), st.one_of(st.sampled_from(["present", "absent"]), TEXT))
_counter = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = open_store(f"oxigraph:{tmp_path_factory.mktemp('summaryfile') / 'kg'}")
    yield s
    s.close()


def batch(store, name: str):
    def writer(graph: str) -> int:
        return load_chunks(store, iter([(f"<{graph}#batch> <{OBO}x> \"{name}\" .\n".encode(), 1)]), graph)

    return load_graph(store, kind="predictions", name=name, version="1", writer=writer, source="test", sha256=name * 2,
                      byte_size=0, loader="test", loader_version="1", counted=True)


def frame(rows: list[tuple]) -> tuple[pd.DataFrame, dict[str, str]]:
    df = pd.DataFrame([(f"https://w3id.org/traitkg/taxon/T{t}_\u00e9", TRAITS[tr][0], reg,
                        unit if TRAITS[tr][1] == "continuous" else "", num, conf, value, tr)
                       for t, tr, reg, unit, num, conf, value in rows],
                      columns=["taxon_iri", "trait_iri", "region", "unit", "num", "conf", "value", "trait"])
    return df, {k: v for k, (_, v) in TRAITS.items()}


def both(store, rec, graphs):
    """The rows from the kept file, and from the graph (read whole and by the bound query)."""
    path = summary_file.path(store, rec)
    assert path is not None and path.is_file()
    kept = all_summaries(store, graphs)
    read = all_summaries(store, graphs, {g: summary_tsv(store, g) for g in graphs})  # texts given: the graph's
    bound = summaries_where(store, {}, [], graphs)
    return kept, read, bound


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROW, min_size=1, max_size=40))
def test_rows_from_the_kept_file_equal_rows_from_the_graph(store, rows):
    df, kinds = frame(rows)
    b = batch(store, f"m{next(_counter)}")
    srec = write_summaries(store, b, df, kinds)
    graphs = summary_graphs(store, [b])
    assert list(graphs) == [srec.iri]
    kept, read, bound = both(store, srec, graphs)
    cont, cat = summarise(df, kinds)
    assert len(kept) == len(cont) + len(cat)
    assert kept == read == bound
    assert repr(kept) == repr(read) == repr(bound)  # the fields in one order, integers as integers


def test_a_file_that_cannot_be_read_is_not_trusted(store, tmp_path):
    df, kinds = frame([(1, "length", "left", "UO:0000016", 2.5, 0.5, ""), (1, "fin", "", "", math.nan, 0.9, "present")])
    b = batch(store, "damaged")
    srec = write_summaries(store, b, df, kinds)
    graphs = summary_graphs(store, [b])
    path = summary_file.path(store, srec)
    want = all_summaries(store, graphs, {g: summary_tsv(store, g) for g in graphs})
    assert all_summaries(store, graphs) == want
    got = dict(ic.load_mapped(path))
    meta = got.pop("__meta__")
    del got["mode"]  # a member missing
    ic.save(path, got, kind=summary_file.KIND, fmt=summary_file.FORMAT, meta=__import__("json").loads(str(meta)))
    assert summary_file.rows(store, srec, {}, str) is None
    assert all_summaries(store, graphs) == want  # the graph is read
    path.write_bytes(b"not a zip")
    assert summary_file.rows(store, srec, {}, str) is None and all_summaries(store, graphs) == want
    path.unlink()
    assert summary_file.rows(store, srec, {}, str) is None and all_summaries(store, graphs) == want


def test_the_file_is_kept_under_the_graphs_manifest_entry(store):
    df, kinds = frame([(2, "area", "", "UO:0000016", 1.0, 0.1, ""), (2, "area", "", "UO:0000021", 3.0, 0.2, "")])
    b = batch(store, "keyed")
    srec = write_summaries(store, b, df, kinds)
    listed = next(r for r in list_graphs(store, kind=KIND) if r.iri == srec.iri)
    assert summary_file.path(store, listed) == summary_file.path(store, srec)
    assert summary_file.path(store, listed) in summary_file.files_in_use(store)
    assert write_summaries(store, b, df, kinds).status == "unchanged"  # the same again: nothing written
    rows = all_summaries(store, summary_graphs(store, [b]))
    assert [(r["unit"], r["n"]) for r in rows] == [("UO:0000016", 1), ("UO:0000021", 1)]  # ties told apart by unit


def test_an_in_memory_store_keeps_no_file():
    s = open_store("oxigraph:")
    df, kinds = frame([(1, "fin", "", "", math.nan, 0.9, "present")])
    b = batch(s, "mem")
    srec = write_summaries(s, b, df, kinds)
    assert summary_file.path(s, srec) is None
    graphs = summary_graphs(s, [b])
    assert all_summaries(s, graphs) == summaries_where(s, {}, [], graphs) != []


def test_summaries_sharing_trait_taxon_and_region_come_in_one_order(store):
    """A per-region summary and the one pooled over the regions share (trait, model, taxon, region
    ''), as do a trait's summaries in units of two dimensions: their order is the per-region one
    first, then by unit, in every reading, not the order the engine gives the nodes in."""
    rows = [(1, "length", "", "UO:0000016", 1.0, .5, ""), (1, "length", "left", "UO:0000016", 2.0, .5, ""),
            (1, "length", "right", "UO:0000016", 3.0, .5, ""), (1, "area", "", "UO:0000016", 1.0, .5, ""),
            (1, "area", "", "UO:0000021", 1.0, .5, ""), (1, "fin", "", "", math.nan, .5, "present"),
            (1, "fin", "left", "", math.nan, .5, "absent")]
    for copies in range(1, 7):  # new node IRIs each time: the engine's node order differs
        df, kinds = frame(rows * copies)
        b = batch(store, f"ties{copies}")
        srec = write_summaries(store, b, df, kinds)
        kept, read, bound = both(store, srec, summary_graphs(store, [b]))
        assert repr(kept) == repr(read) == repr(bound)
        assert [(d["trait"], d.get("region"), d.get("regions"), d.get("unit")) for d in kept] == [
            ("PATO:0000122", None, None, "UO:0000016"), ("PATO:0000122", None, ["left", "right"], "UO:0000016"),
            ("PATO:0000122", "left", None, "UO:0000016"), ("PATO:0000122", "right", None, "UO:0000016"),
            ("PATO:0001323", None, None, "UO:0000016"), ("PATO:0001323", None, None, "UO:0000021"),
            ("UBERON:2000251", None, None, None), ("UBERON:2000251", None, ["left"], None),
            ("UBERON:2000251", "left", None, None)]
