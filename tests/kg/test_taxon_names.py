"""Taxon names kept beside the store (kg.taxon_names): one file per graph version, the union's
joins made in memory, the same names and answers as the SPARQL reading of the whole store."""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg import KnowledgeGraph
from kg.core.graphs import TKG, list_graphs
from kg.core.names import NameUniverse, read_universe, resolver, taxon_iri
from kg.core.store import open_store
from kg.demo import load_sample
from kg.taxon_names import KIND, GraphNames, universe

DWC = "http://rs.tdwg.org/dwc/terms/"


def _same(a: NameUniverse, b: NameUniverse) -> None:
    """Equal up to order and repeats (the union of graphs repeats a triple held by two graphs)."""
    assert sorted({(t.iri, t.name, t.rank) for t in a.taxa}) == sorted((t.iri, t.name, t.rank) for t in b.taxa)
    for x, y in ((a.synonyms, b.synonyms), (a.external, b.external)):
        assert {k: sorted(set(v)) for k, v in x.items()} == {k: sorted(v) for k, v in y.items()}


def _files(kg: KnowledgeGraph) -> dict[str, int]:
    d = kg.store.path.parent / (kg.store.path.name + ".cache") / KIND
    return {p.name: p.stat().st_mtime_ns for p in d.glob("*.npz")}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path_factory.mktemp('names') / 'kg'}")
    load_sample(g)
    yield g
    g.store.close()


def test_the_sample_store_gives_the_names_and_answers_of_the_sparql_reading(sample):
    kept = universe(sample.store)
    _same(read_universe(sample.store), kept)
    assert len(kept.taxa) > 50 and kept.synonyms and kept.external
    names = [t.name for t in kept.taxa] + list(kept.synonyms) + list(kept.external)
    names += [n[:-1] + "x" for n in names[:40]] + [n + " sp." for n in names[:10]] + ["Homo sapiens", "", "VTO:0"]
    old = resolver(sample.store).resolve(names)
    new = resolver(sample.store, universe=kept).resolve(names)
    assert [m.to_dict() for m in new] == [m.to_dict() for m in old]
    assert sum(m.status == "matched" for m in new) > len(kept.taxa)


def test_one_file_per_graph_version_and_a_new_graph_reads_only_itself(sample, toy, caplog):
    universe(sample.store)
    before = _files(sample)
    assert len(before) == len(list_graphs(sample.store))  # one per graph in the manifest, none for the rest
    with caplog.at_level(logging.INFO, logger="kg.indexcache"):
        again = universe(sample.store)
    assert "built" not in caplog.text and _files(sample) == before  # read from the files, none written
    sample.load_rdf(toy / "rdf" / "toy.ttl", name="toy-rdf")  # no names in it; nothing kept by its load
    with caplog.at_level(logging.INFO, logger="kg.indexcache"):
        caplog.clear()
        same = universe(sample.store)
    assert caplog.text.count("taxonnames index") == 1 and "taxonuniverse" not in caplog.text  # the joined names kept
    assert same == again and len(_files(sample)) == len(before) + 1
    sample.load_taxonomy(toy / "training" / "taxonomy.csv", name="training-taxa")  # its load writes its file
    assert len(_files(sample)) == len(before) + 2
    with caplog.at_level(logging.INFO, logger="kg.indexcache"):
        caplog.clear()
        grown = universe(sample.store)
    after = _files(sample)
    assert len(after) == len(before) + 2 and {k: after[k] for k in before} == before
    assert "taxonnames index" not in caplog.text and caplog.text.count("taxonuniverse index") == 1
    assert len(grown.taxa) > len(again.taxa)
    _same(read_universe(sample.store), grown)


def test_the_union_joins_across_graphs_and_graphs_outside_the_manifest_are_read_each_time(tmp_path):
    """A taxon typed in one graph and named in another is a taxon of the union (the SPARQL reading
    finds it); a graph written by hand (no manifest entry) and the default graph are never kept."""
    s = open_store(f"oxigraph:{tmp_path / 'kg'}")
    try:
        t = taxon_iri("Aus bus")
        s.update(f"""INSERT DATA {{
          GRAPH <urn:g:types> {{ <{t}> a <{TKG}Taxon> ; <http://www.w3.org/2004/02/skos/core#exactMatch> <urn:x:1> }}
          GRAPH <urn:g:names> {{ <{t}> <{DWC}scientificName> "Aus bus" ; <{TKG}synonym> "Aus vetus" }}
          <{t}> <{DWC}taxonRank> "species" .
          GRAPH <urn:g:names> {{ _:b a <{TKG}Taxon> ; <{DWC}scientificName> "Blank node" }} }}""")
        got = universe(s)
        assert [(x.iri, x.name, x.rank) for x in got.taxa] == [(t, "Aus bus", "species")]
        assert got.synonyms == {"Aus vetus": [t]} and got.external == {"urn:x:1": [t]}
        _same(NameUniverse([x for x in read_universe(s).taxa if x.iri == t],
                           read_universe(s).synonyms, read_universe(s).external), got)
        s.update(f'INSERT DATA {{ GRAPH <urn:g:names> {{ <{t}> <{DWC}scientificName> "Aus bus Linnaeus" }} }}')
        assert sorted(x.name for x in universe(s).taxa) == ["Aus bus", "Aus bus Linnaeus"]
        assert not (tmp_path / "kg.cache" / KIND).exists()  # nothing kept: no graph has a manifest entry
    finally:
        s.close()


def test_every_backend_keeps_its_names(kg, toy, tmp_path, monkeypatch):
    """On each backend (embedded, Oxigraph server, Virtuoso): the same names as the SPARQL reading,
    the files kept in the cache directory, and read back the second time."""
    monkeypatch.setenv("TRAITKG_CACHE", str(tmp_path / "cache"))
    kg.load_taxonomy(toy / "trees" / "toy_taxonomy.tsv", name="toy")
    kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    first = universe(kg.store)
    _same(read_universe(kg.store), first)
    kept = sorted(os.listdir(tmp_path / "cache" / KIND))
    assert len(kept) == 2
    assert universe(kg.store) == first and sorted(os.listdir(tmp_path / "cache" / KIND)) == kept
    got = kg.resolve(["Danio rerio", "Brachydanio rerio", "NCBITaxon:7955", "Danio sp."])
    assert [(m.status, m.method) for m in got] == [("matched", "exact"), ("matched", "synonym"),
                                                   ("matched", "external_id"), ("approximate", "genus")]


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(typed=st.lists(_TEXT, max_size=4), pairs=st.dictionaries(
    st.sampled_from(["name", "rank", "synonym", "external", "tip"]),
    st.lists(st.tuples(_TEXT, _TEXT), max_size=5)))
def test_a_graphs_share_survives_its_file(typed, pairs):
    """Any strings (tabs, quotes, NUL, any script) come back from the arrays as they went in."""
    g = GraphNames.of(typed, **{m: ([s for s, _ in p], [o for _, o in p]) for m, p in pairs.items()})
    assert GraphNames.from_arrays(g.arrays()) == g


def _kept(store, graph: str) -> GraphNames:
    from kg import indexcache as ic
    from kg.taxon_names import FORMAT

    rec = next(r for r in list_graphs(store) if r.iri == graph)
    got = ic.load(ic.path_for(store, KIND, ic.graphs_key([rec], FORMAT)), kind=KIND, fmt=FORMAT)
    assert got is not None, f"no names file written for {graph}"
    return GraphNames.from_arrays(got)


def _same_share(kept: GraphNames, read: GraphNames) -> None:
    assert sorted(set(kept.typed)) == sorted(read.typed)
    for m, (s, o) in read.pairs.items():
        ks, ko = kept.pairs[m]
        if m == "tip":  # one row per tip node: two tips of one name are two rows
            assert sorted(zip(ks, ko)) == sorted(zip(s, o)), m
        else:
            assert sorted(set(zip(ks, ko))) == sorted(zip(s, o)), m


def _loaded_shares_equal_their_graphs(g: KnowledgeGraph, reports) -> None:
    for rep in reports:
        _same_share(_kept(g.store, rep.graph), GraphNames.read(g.store, rep.graph))


def test_a_loaded_taxonomy_or_tree_keeps_its_names_from_what_its_loader_wrote(tmp_path, toy, caplog):
    """Written by the load itself, from the table or tree it parsed, equal to what reading the graph
    gives; the first resolver after the load reads no taxonomy or tree back."""
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}")
    try:
        reports = [g.load_taxonomy(toy / "trees" / "toy_taxonomy.tsv", name="toy"),
                   g.load_taxonomy(toy / "training" / "taxonomy.csv", name="training"),
                   g.load_tree(toy / "trees" / "toy.nwk", name="toy"),
                   g.load_tree(toy / "trees" / "toy.nex", name="toy-nexus"),
                   g.load_tree(toy / "trees" / "toy.xml", name="toy-nexml")]
        _loaded_shares_equal_their_graphs(g, reports)
        assert any(_kept(g.store, r.graph).pairs["synonym"][0] for r in reports)
        assert any(_kept(g.store, r.graph).pairs["external"][0] for r in reports)
        with caplog.at_level(logging.INFO, logger="kg.indexcache"):
            got = universe(g.store)
        assert "taxonnames index" not in caplog.text  # every graph's file was there: none read back
        _same(read_universe(g.store), got)
    finally:
        g.store.close()


@pytest.mark.slow
def test_the_shared_fish_classification_and_tree_keep_their_names(shared, tmp_path):
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}")
    try:
        reports = [g.load_taxonomy(shared / "fishtree" / "PFC_short_classification.csv", name="pfc"),
                   g.load_tree(shared / "fishtree" / "actinopt_12k_raxml.tre", name="fishtree")]
        _loaded_shares_equal_their_graphs(g, reports)
        _same(read_universe(g.store), universe(g.store))
    finally:
        g.store.close()


def _naive_index(taxa):
    """The resolver's tables as it built them one taxon at a time (before the batch build)."""
    from kg.core.names import normalise_name

    def key(n):
        return normalise_name(n).casefold()

    exact, genera = {}, {}
    for t in taxa:
        lst = exact.setdefault(key(t.name), [])
        if t.iri not in lst:
            lst.append(t.iri)
    for t in taxa:
        if t.rank == "genus" or (t.rank is None and " " not in t.name):
            genera.setdefault(key(t.name), t.iri)
    return exact, genera


_NAME_CHARS = st.sampled_from("aAbB _\t\u00a0\u00df\u0130")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["urn:a", "urn:b", "urn:c", "urn:d"]), st.text(_NAME_CHARS, max_size=6),
                          st.sampled_from(["genus", "species", None])), max_size=12),
       st.lists(st.text(_NAME_CHARS, max_size=6), max_size=6))
def test_the_name_table_answers_as_dicts_over_the_taxa_would(rows, probes):
    """The resolver's lookups over its table of hashes, as built and as read back from its file's
    arrays, and with every name forced onto one of three hashes (each candidate checked against its
    text): a name key gives its taxa first seen first, a genus key its first taxon, an IRI its last
    row; keys folded in one batch where no name needs normalising, else one by one."""
    from kg.core.hashes import label_hashes
    from kg.core.name_table import NameTable, name_key
    from kg.core.names import Resolver, TaxonName

    class Colliding(NameTable):
        hashes = staticmethod(lambda items: label_hashes(items) % 3)

    taxa = [TaxonName(*r) for r in rows]
    exact, genera = _naive_index(taxa)
    by_iri = {t.iri: t for t in taxa}
    for cls in (NameTable, Colliding):
        built = cls.from_taxa(taxa)
        for table in (built, cls.from_arrays(built.arrays())):
            r = Resolver(table)
            assert list(r.exact.items()) == list(exact.items()) and r._choices == list(exact)
            for k in [*exact, *map(name_key, probes), *probes]:
                assert r.exact.get(k) == exact.get(k) and (k in r.exact) == (k in exact)
                assert r.genera.get(k) == genera.get(k)
            for iri in ["urn:a", "urn:b", "urn:c", "urn:d", "urn:e"]:
                assert r.taxa.get(iri) == by_iri.get(iri) and (iri in r.taxa) == (iri in by_iri)
            assert len(r) == len(by_iri) and list(table) == taxa and table == taxa


@settings(max_examples=80, deadline=None)
@given(taxa=st.lists(st.tuples(_TEXT, _TEXT, st.one_of(st.none(), _TEXT)), max_size=6),
       syn=st.dictionaries(_TEXT, st.lists(_TEXT, min_size=1, max_size=3), max_size=3),
       ext=st.dictionaries(_TEXT, st.lists(_TEXT, min_size=1, max_size=3), max_size=3))
def test_the_joined_names_survive_their_file(taxa, syn, ext):
    """Any strings, a taxon without a rank (None), one string as IRI, name and rank at once."""
    import kg.taxon_names as tn
    from kg.core.names import TaxonName

    u = NameUniverse([TaxonName(*t) for t in taxa], syn, ext)
    assert tn._universe_of(tn._universe_arrays(u)) == u


def test_a_file_that_loads_but_cannot_be_read_is_rebuilt(sample, caplog):
    """A names file of the right kind and format with a member missing (written by a build of this
    format that changed meanwhile, or damaged) is rebuilt, not trusted, and the answer is the same."""
    from kg import indexcache as ic
    from kg.taxon_names import UNIVERSE_FORMAT, UNIVERSE_KIND

    want = universe(sample.store)
    d = sample.store.path.parent / (sample.store.path.name + ".cache")
    for kind, fmt, drop in ((UNIVERSE_KIND, UNIVERSE_FORMAT, "iri_blob"), (KIND, 2, "name")):
        for p in d.joinpath(kind).glob("*.npz"):
            got = ic.load(p, kind=kind, fmt=fmt)
            meta = {k: v for k, v in got.pop("__meta__").items() if k not in ("kind", "format")}
            ic.save(p, {k: v for k, v in got.items() if k != drop}, kind=kind, fmt=fmt, meta=meta)
        with caplog.at_level(logging.WARNING, logger="kg.indexcache"):
            caplog.clear()
            assert universe(sample.store) == want
        assert "unreadable (KeyError" in caplog.text
        caplog.clear()
        assert universe(sample.store) == want and "unreadable" not in caplog.text  # written again, whole


def test_the_files_in_use_are_those_of_the_graphs_now(sample, toy):
    """What a prune of older store states keeps: each graph version's file and the joined names of
    the graphs holding any; a new graph with names adds its own file and moves the joined names to
    a new one."""
    from kg.taxon_names import UNIVERSE_KIND, files_in_use

    universe(sample.store)
    d = sample.store.path.parent / (sample.store.path.name + ".cache")
    on_disk = {p for k in (KIND, UNIVERSE_KIND) for p in d.joinpath(k).glob("*.npz")}
    in_use = files_in_use(sample.store)
    assert in_use <= on_disk | in_use and len(in_use & on_disk) == len(list_graphs(sample.store)) + 1
    old = files_in_use(sample.store)
    sample.load_taxonomy(toy / "training" / "taxonomy.csv", name="training-taxa", version="2")
    universe(sample.store)
    now = files_in_use(sample.store)
    assert len(now - old) == 2 and len(old - now) == 1  # its file and the new join; the old join
    assert [p.parent.name for p in old - now] == [UNIVERSE_KIND]
    assert all(p.is_file() for p in now)
