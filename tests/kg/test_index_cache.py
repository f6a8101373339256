"""Indices kept on disk beside the store (kg.indexcache): the phenotype index, the trait calls and
the term index are written once per set of graph versions, read back equal to a fresh build by
later processes, rebuilt (never trusted) when unreadable or of another format, rekeyed when a
phenotype graph or a closure changes, and written safely by several processes at once."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg import KnowledgeGraph
from kg import indexcache as ic
from kg.core.store import OxigraphStore
from kg.phenoindex import PhenotypeIndex
from kg.term_cache import open_terms
from kg.terms import TermIndex
from kg.traits import evidence as evidence_mod
from kg.traits.cached import open_calls, open_index
from kg.traits.calls import compute_calls

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("phenoindex", "traitcalls", "terms")


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> Path:
    from kg.demo import load_sample

    path = tmp_path_factory.mktemp("sample") / "kg"
    with KnowledgeGraph.open(f"oxigraph:{path}") as g:
        load_sample(g)
    return path


@pytest.fixture
def store(sample_store, tmp_path) -> Path:
    """A copy of the sample store without any index file."""
    path = tmp_path / "kg"
    shutil.copytree(sample_store, path)
    return path


def files(store: Path, kind: str) -> list[Path]:
    return sorted((Path(str(store) + ".cache") / kind).glob("*"))


def terms_state(t: TermIndex) -> tuple:
    return (t.terms, {k: dict(v) for k, v in t.up.items()}, {k: dict(v) for k, v in t.down.items()},
            dict(t.subprops), t.transitive, t.graphs, t.held, dict(t._names), t._keys, dict(t._xref_to))


def test_files_are_written_once_and_read_back_equal_to_a_fresh_build(store):
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        fresh_index = PhenotypeIndex.build(g.store)
        fresh_calls = compute_calls(fresh_index)
        fresh_terms = TermIndex.build(g.store)
        assert fresh_index.cells and fresh_calls and fresh_terms.terms
        assert all(files(store, k) == [] for k in KINDS)
        _ = g.traits.calls(), g.terms  # the first process builds and writes them
        written = {k: files(store, k) for k in KINDS}
        assert all(len(v) == 1 and v[0].suffix == ".npz" for v in written.values()), written
    stamps = {k: v[0].stat().st_mtime_ns for k, v in written.items()}
    with KnowledgeGraph(OxigraphStore(store, read_only=True)) as g:  # a later process reads them
        idx = open_index(g.store)
        assert idx == fresh_index
        calls = open_calls(g.store, lambda: pytest.fail("the calls were rebuilt"))
        assert calls == fresh_calls and list(calls) == list(fresh_calls)
        assert terms_state(open_terms(g.store)) == terms_state(fresh_terms)
    assert {k: files(store, k) for k in KINDS} == written
    assert {k: v[0].stat().st_mtime_ns for k, v in written.items()} == stamps  # read, not rewritten


@pytest.mark.parametrize("damage", ["garbage", "truncated", "older format", "other kind"])
def test_an_unreadable_or_older_file_is_rebuilt_not_trusted(store, damage):
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        want = g.traits.calls()
        want_idx = g.traits.index
    (path,) = files(store, "traitcalls")
    (ipath,) = files(store, "phenoindex")
    if damage == "garbage":
        path.write_bytes(b"not an npz")
        ipath.write_bytes(b"\x00" * 100)
    elif damage == "truncated":
        for p in (path, ipath):
            p.write_bytes(p.read_bytes()[:500])
    else:
        for p, kind in ((path, "traitcalls"), (ipath, "phenoindex")):
            got = ic.load(p, kind=kind, fmt=1)
            meta = got.pop("__meta__")
            ic.save(p, got, kind=kind if damage == "older format" else "terms",
                    fmt=0 if damage == "older format" else 1, meta=meta)
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        assert g.traits.index == want_idx
        assert g.traits.calls() == want
    assert ic.load(path, kind="traitcalls", fmt=1) is not None  # written again, whole
    assert ic.load(ipath, kind="phenoindex", fmt=1) is not None


def test_a_new_phenotype_graph_or_a_closure_refresh_gives_new_files(store, toy):
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        before = g.traits.calls()
        old = files(store, "traitcalls")
        g.load_phenotypes([toy / "phenotypes" / "toy.xml"])  # a new phenotype graph
        g.invalidate()
        after = g.traits.calls()
        assert after != before
        assert after == compute_calls(PhenotypeIndex.build(g.store))
        new = files(store, "traitcalls")
        assert len(new) == 2 and set(old) < set(new)
        _ = g.terms
        t_old = files(store, "terms")
        g.load_ontology(toy / "ontologies" / "toy.obo")  # a new ontology and its closure
        g.invalidate()
        assert "http://purl.obolibrary.org/obo/TOY_0000001" in g.terms.terms
        assert len(files(store, "terms")) == len(t_old) + 1
        assert g.traits.index == PhenotypeIndex.build(g.store)
        assert len(files(store, "phenoindex")) == 3  # the closures changed: the index too


def test_an_in_memory_store_writes_nothing(sample_store, tmp_path, monkeypatch):
    monkeypatch.delenv("TRAITKG_CACHE", raising=False)
    g = KnowledgeGraph.open("oxigraph:")
    assert ic.cache_dir(g.store, "phenoindex") is None
    assert g.traits.calls() == {} and len(g.terms.terms) == 0


CHILD = """
import json, sys
from kg import KnowledgeGraph
from kg.core.store import OxigraphStore
g = KnowledgeGraph(OxigraphStore(sys.argv[1], read_only=True))
calls = g.traits.calls()
print(json.dumps([len(calls), sorted(f"{t} {e} {v} {c.tier} {sorted(c.states)} {sorted(c.sources)}"
                                     for (t, e, v), c in calls.items())[:50], len(g.terms.terms)]))
"""


def test_processes_starting_at_once_each_answer_whole_and_leave_whole_files(store):
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(store)], stdout=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}) for _ in range(4)]
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(o == outs[0] for o in outs) and outs[0][0] > 0
    for kind in KINDS:
        (path,) = files(store, kind)  # one file each, no temporary left behind
        assert ic.load(path, kind=kind, fmt=1) is not None


def test_strings_round_trip_exactly():
    s = ic.StringTable()
    items = ["", "a", "é", "x\x00y", "\udc80", "a", None, "😀"]
    ids = s.ids(items)
    arrays = s.arrays()
    table = ic.strings(arrays)
    assert table[ids].tolist() == items
    off, flat = s.lists([["a", "b"], [], ["é"]])
    assert ic.split(ic.strings(s.arrays()), off, flat) == [["a", "b"], [], ["é"]]
    assert np.asarray(ids).dtype == np.int64


@given(st.lists(st.one_of(st.lists(st.sampled_from(["a", "b", "é", "", "x\x00"]), max_size=5),
                          st.sets(st.text(max_size=3), max_size=4)), max_size=30),
       st.lists(st.one_of(st.none(), st.text(max_size=2)), max_size=100))
@settings(max_examples=100, deadline=None)
def test_string_table_batches_intern_as_one_at_a_time(lists, items):
    """``ids`` and ``lists`` (batched) give every string the id that interning one at a time does,
    so an index file's bytes do not depend on which was used; a set is written sorted (not in its
    iteration order, which follows the process's hash seed)."""
    def one_by_one() -> tuple[dict, list, list]:
        s = ic.StringTable()
        ids = [s.id(x) for x in items]
        flat = [s.id(x) for xs in lists for x in (sorted(xs) if isinstance(xs, set) else xs)]
        return s.index, ids, flat

    s = ic.StringTable()
    ids = s.ids(items)
    off, flat = s.lists(lists)
    index, want_ids, want_flat = one_by_one()
    assert list(s.index.items()) == list(index.items())
    assert ids.tolist() == want_ids and flat.tolist() == want_flat
    assert np.diff(off).tolist() == [len(xs) for xs in lists] and off[0] == 0


def test_trait_answers_from_the_files_equal_those_computed_here(store):
    """The calls read back are a lazy table (kg.traits.cached.CallTable): every question answers as
    with the calls computed in this process."""
    from kg.traits.cached import CallTable

    def answers(g: KnowledgeGraph) -> list:
        t = g.traits
        taxa = sorted(t.index.taxa)[:5]
        calls = t.calls()
        some = list(calls)[:50]
        return [[t.traits_of(x) for x in taxa],
                t.taxa_with("UBERON:0002101"), t.taxa_with("UBERON:0002101", value="present"),
                t.conflicts(), [calls.get(k) for k in some], [k in calls for k in some],
                calls.get(("nobody", "nothing", "present")), ("x", "y", "maybe") in calls, len(calls),
                [t.calls_by_taxon().get(x, ()) for x in taxa + ["nobody"]],
                # a whole mapping, as the dict built in memory: its taxa in order, their calls, its size
                list(t.calls_by_taxon()), [list(v) for v in t.calls_by_taxon().values()], len(t.calls_by_taxon()),
                "nobody" in t.calls_by_taxon()]

    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        computed = answers(g)  # computes the calls and writes the files
        assert isinstance(g.traits.calls(), dict)
    with KnowledgeGraph(OxigraphStore(store, read_only=True)) as g:
        assert isinstance(g.traits.calls(), CallTable)
        assert answers(g) == computed
        assert g.traits.calls() == KnowledgeGraph(OxigraphStore(store, read_only=True)).traits.calls()


OPTIONAL = {"phenoindex": ("st_state", "st_off", "st_taxon"), "traitcalls": ("by_code", "by_taxon"),
            "terms": ("nm_key", "nm_iri", "nm_field", "nm_sorted", "xr_k", "xr_v"),
            "stateinfo": ("json_utf8", "json_end")}
FMT = {"phenoindex": 1, "traitcalls": 1, "terms": 1, "stateinfo": evidence_mod.FORMAT}


def test_a_file_without_the_members_a_start_reads_answers_the_same_and_gets_them_once(store):
    """Files written before they kept what a start reads (each state's taxa, the calls' sort orders,
    the term name index, the states' evidence JSON) answer the same; the first reader adds those
    members (same format), later readers rewrite nothing."""
    def answers(g: KnowledgeGraph) -> list:
        t = g.traits
        taxa = sorted(t.index.taxa)[:5]
        return [[t.traits_of(x) for x in taxa], [[t.trait_json(r) for r in t.trait_rows(x)] for x in taxa],
                t.taxa_with("UBERON:0002101"), t.taxa_with("UBERON:0002101", value="present"),
                sorted(t._state_taxa().items()), dict(t.evidence_json()), terms_state(g.terms)]

    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        _ = g.traits.prepare(), g.terms
    with KnowledgeGraph(OxigraphStore(store, read_only=True)) as g:
        want = answers(g)  # read from the files as written now
    for kind, members in OPTIONAL.items():
        (path,) = files(store, kind)
        got = ic.load(path, kind=kind, fmt=FMT[kind])
        meta = got.pop("__meta__")
        assert all(m in got for m in members), kind
        old = {k: v for k, v in got.items() if k not in members}  # (the terms' strings may hold a few unused)
        ic.save(path, old, kind=kind, fmt=FMT[kind], meta={k: v for k, v in meta.items() if k not in ("kind", "format")})
    with KnowledgeGraph(OxigraphStore(store, read_only=True)) as g:
        assert answers(g) == want
    stamps = {}
    for kind, members in OPTIONAL.items():
        (path,) = files(store, kind)
        got = ic.load(path, kind=kind, fmt=FMT[kind])
        assert got is not None and all(m in got for m in members), kind  # added, same format
        stamps[kind] = path.stat().st_mtime_ns
    with KnowledgeGraph(OxigraphStore(store, read_only=True)) as g:
        assert answers(g) == want
    assert {k: files(store, k)[0].stat().st_mtime_ns for k in OPTIONAL} == stamps  # read, not rewritten


def test_the_process_that_builds_the_evidence_answers_as_the_processes_that_read_it(store):
    """The states' evidence, its keys' order included, is the same in the process that built its
    file and in one that read it: a server answers with dicts in one place and with the file's JSON
    texts in another, and both must give the same bytes."""
    def entries(g: KnowledgeGraph) -> tuple:
        t = g.traits
        calls = [c for c in t.calls().values() if c.states][:50]
        assert calls
        ev = [[list(d.items()) for d in t.evidence(c)] for c in calls]
        return ev, [[json.dumps(d, ensure_ascii=False) for d in t.evidence(c)] for c in calls]

    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        built, built_json = entries(g)
        texts = g.traits.evidence_json()
        assert all(texts[d[0][1]] == j for e, js in zip(built, built_json) for d, j in zip(e, js))
    assert files(store, "stateinfo")
    with KnowledgeGraph(OxigraphStore(store, read_only=True)) as g:
        assert entries(g) == (built, built_json)
        assert [k for k, _ in built[0][0]] == list(evidence_mod._FIELDS)
