"""Crash consistency: real `traitkg` loads killed with SIGKILL at named points of their writes
(``TRAITKG_CRASH_AT``, :mod:`kg.core.faults`) and at timed moments.

After each kill: the store opens; every graph the manifest lists is whole (its recorded triple
count, read before any recovery runs); once opened for writing no quad lies outside a listed graph;
rerunning the same command gives exactly a clean load's quads and manifest entries.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg import KnowledgeGraph
from kg.core.graphs import GRAPH_PREFIX, MANIFEST, PENDING_WRITE, list_graphs
from kg.core.store import NamedNode, OxigraphStore, canonical_nquads

EXE = str(Path(sys.executable).parent / "traitkg")
SAMPLE = Path(__file__).resolve().parents[2] / "kg" / "sample"


def cli(store: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRAITKG_CRASH_AT"}
    if crash:
        env["TRAITKG_CRASH_AT"] = crash
    return subprocess.run([EXE, "--store", f"oxigraph:{store}", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def killed_after(store: Path, seconds: float, *args: str) -> int:
    """Start a load and SIGKILL it after ``seconds`` (or let it end first): its exit code."""
    p = subprocess.Popen([EXE, "--store", f"oxigraph:{store}", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        return p.wait(seconds)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        return p.wait()


def manifest_whole(store: Path) -> None:
    """Every listed graph holds the triples its entry records (read as the kill left it), but those
    the manifest itself marks as being changed in place (recovery drops them)."""
    st = OxigraphStore(store)
    try:
        pending = {q.subject.value for q in st.quads(None, NamedNode(PENDING_WRITE), None, MANIFEST)}
        for rec in list_graphs(st):
            if rec.iri in pending:
                continue
            assert st.count(rec.iri) == rec.triples, f"{rec.iri} listed with {rec.triples} triples, holds {st.count(rec.iri)}"
    finally:
        st.close()


def snapshot(store: Path) -> tuple[dict[str, bytes], list[tuple]]:
    """(canonical N-Quads of every data graph, manifest entries without their times): opened as a
    user would (which recovers), and checked for quads outside the listed graphs."""
    with KnowledgeGraph.open(f"oxigraph:{store}") as kg:
        st = kg.store
        recs = list_graphs(st)
        listed = {r.iri for r in recs}
        for g in st.named_graphs():
            assert g == MANIFEST or g in listed, f"quads in unlisted graph {g}"
        assert not st.ask("ASK { ?s ?p ?o }")  # the default graph (not the union) is empty
        for r in recs:
            assert st.count(r.iri) == r.triples, r.iri
        data = {g: canonical_nquads(st.quads(graph=g)) for g in sorted(listed)}
        entries = sorted((r.iri, r.kind, r.name, r.version, r.sha256, r.triples, r.loader, tuple(r.derived_from),
                          repr(sorted(r.parameters.items()))) for r in recs)
        assert all(g.startswith(GRAPH_PREFIX) for g in listed)
    return data, entries


_CLEAN: dict[str, tuple[dict[str, bytes], list[tuple]]] = {}  # the clean load of each scenario, made once


def clean_load(tmp: Path, steps: list[list[str]]) -> tuple[dict[str, bytes], list[tuple]]:
    key = repr(steps)
    if key not in _CLEAN:
        clean = tmp / "clean"
        for step in steps:
            p = cli(clean, *step)
            assert p.returncode == 0, p.stderr
        _CLEAN[key] = snapshot(clean)
    return _CLEAN[key]


def check(tmp: Path, before: list[list[str]], command: list[str], crash: str | None = None,
          after_s: float | None = None, expect_killed: bool = True) -> None:
    """Build ``before``, run ``command`` killed at ``crash`` (or after ``after_s`` seconds), check the
    store, rerun it, and compare with the same steps run cleanly."""
    hurt = tmp / f"hurt-{(crash or str(after_s)).replace(':', '_').replace('#', '_')}"
    want = clean_load(tmp, [*before, command])
    for step in before:
        assert cli(hurt, *step).returncode == 0
    if crash:
        p = cli(hurt, *command, crash=crash)
        if expect_killed:
            assert p.returncode == -signal.SIGKILL, (crash, p.returncode, p.stderr[-2000:])
    else:
        killed_after(hurt, after_s or 0.0, *command)
    manifest_whole(hurt)
    snapshot(hurt)  # opens (recovers) and checks nothing lies outside the listed graphs
    p = cli(hurt, *command)
    assert p.returncode == 0, p.stderr
    assert cli(hurt, "graphs", "--stale").stdout.count("\n") <= 2  # nothing stale once rerun
    got = snapshot(hurt)
    assert got[1] == want[1]
    assert got[0] == want[0]


ONTO = ["load", "ontology", str(Path(__file__).resolve().parents[1] / "data" / "ontologies" / "cross_aism.obo")]
ONTO2 = ["load", "ontology", str(Path(__file__).resolve().parents[1] / "data" / "ontologies" / "cross_lepao.obo")]


@pytest.mark.parametrize("point", ["load:ontology:start", "load:ontology:written", "load:ontology:recorded",
                                   "bulk", "load:closure:written", "load:closure:recorded"])
def test_ontology_load_killed(tmp_path, point):
    check(tmp_path, [], ONTO, crash=point)


def test_killed_ontology_load_lists_its_closure_as_stale(tmp_path):
    store = tmp_path / "s"
    assert cli(store, *ONTO, crash="load:closure:start").returncode == -signal.SIGKILL
    out = cli(store, "graphs", "--stale").stdout
    assert "closure/" in out and "did not finish" in out and "traitkg closure --refresh" in out
    assert cli(store, "closure", "--refresh").returncode == 0
    assert cli(store, "graphs", "--stale").stdout.count("\n") <= 2


@pytest.mark.parametrize("point", ["closure:patching", "bulk", "load:ontology:written"])
def test_closure_update_in_place_killed(tmp_path, point):
    """The second ontology updates the first one's closure in place: killed meanwhile, the half-updated
    closure is dropped by recovery, listed stale, and rebuilt by the rerun."""
    check(tmp_path, [ONTO], ONTO2, crash=point)


TREE = ["load", "tree", str(SAMPLE / "fish-tree.nwk"), "--name", "fish"]


@pytest.mark.parametrize("point", ["load:tree:start", "load:tree:written", "load:tree:recorded"])
def test_tree_load_killed(tmp_path, point):
    check(tmp_path, [], TREE, crash=point)


TAXONOMY = ["load", "taxonomy", str(SAMPLE / "taxonomy.csv")]


@pytest.mark.parametrize("point", ["load:taxonomy:start", "bulk", "load:taxonomy:written", "load:taxonomy:recorded"])
def test_taxonomy_load_killed(tmp_path, point):
    check(tmp_path, [], TAXONOMY, crash=point)


def test_taxonomy_load_killed_between_its_chunks(tmp_path):
    """A table of several bulk chunks (50,000 taxa each) killed after the first: the rerun drops what
    was written and loads it whole."""
    table = tmp_path / "big.csv"
    table.write_text("order,family,genus,species\n" + "".join(
        f"Scaliformes{g // 400},Scalidae{g // 40},Scalegenus{g},Scalegenus{g} sp{j}\n"
        for g in range(6_000) for j in range(10)))
    check(tmp_path, [], ["load", "taxonomy", str(table)], crash="bulk#1")


PHENO = ["load", "phenotypes", str(SAMPLE / "phenotypes.xml")]


@pytest.mark.parametrize("point", ["load:phenotypes:start", "load:phenotypes:written"])
def test_phenotype_load_killed(tmp_path, point):
    check(tmp_path, [], PHENO, crash=point)


PRED = ["load", "predictions", str(SAMPLE / "predictions.csv")]


@pytest.mark.parametrize("point", ["load:predictions:written", "load:prediction-summary:start",
                                   "load:prediction-summary:written"])
def test_prediction_load_killed(tmp_path, point):
    check(tmp_path, [["load", "taxonomy", str(SAMPLE / "taxonomy.csv")]], PRED, crash=point)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("release")
    for step in (ONTO, TREE, PHENO):
        assert cli(tmp / "src", *step).returncode == 0
    assert cli(tmp / "src", "export", str(tmp / "release")).returncode == 0
    return tmp / "release"


@pytest.mark.parametrize("point", ["bulk", "bulk#3", "import:written"])
def test_release_import_killed(tmp_path, release, point):
    check(tmp_path, [], ["import", str(release)], crash=point)


def test_timed_kills(tmp_path):
    """SIGKILL at random moments of a load (seeded): whatever phase it lands in."""
    rng = random.Random(26)
    for _ in range(3):
        check(tmp_path, [], ONTO, after_s=rng.uniform(0.5, 2.5))


@pytest.mark.slow
def test_shared_ontology_and_tree_killed_mid_write(tmp_path, shared):
    """PATO with its closure, killed in the closure's bulk load; the 12k-tip fish tree killed at a
    timed moment of its load."""
    check(tmp_path / "pato", [], ["load", "ontology", str(shared / "pato" / "pato.obo")], crash="bulk#2")
    t0 = time.perf_counter()
    tree = ["load", "tree", str(shared / "fishtree" / "actinopt_12k_raxml.tre"), "--name", "fish12k"]
    assert cli(tmp_path / "probe", *tree).returncode == 0
    took = time.perf_counter() - t0
    check(tmp_path / "tree", [], tree, after_s=took * 0.6)


def test_recover_says_what_it_dropped_and_is_idempotent(tmp_path):
    from kg.core.recovery import recover

    store = tmp_path / "s"
    assert cli(store, *TREE, crash="load:tree:written").returncode == -signal.SIGKILL
    st = OxigraphStore(store)  # opened without the facade: nothing recovered yet
    try:
        done = recover(st)
        assert [d.what for d in done] == ["unlisted"] and done[0].quads > 0 and "tree/fish/" in str(done[0])
        assert recover(st) == [] and st.named_graphs() == []
    finally:
        st.close()
    p = cli(store, "graphs", "--recover")
    assert p.returncode == 0 and "0 graph(s) dropped" in p.stderr
