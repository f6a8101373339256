"""Keys in the graph: identification (walk and batch) and key generation from matrices."""

from __future__ import annotations

import csv
import io

import pytest

from kg.core.errors import NotFound, ValidationError
from kg.keys.generate import Matrix, generate, read_matrix
from loaders import keybase
from loaders.keymodel import validate


@pytest.fixture
def fins(toy, mem_kg):
    mem_kg.load_key(toy / "keys" / "fins.csv")
    return mem_kg


def test_list_and_show(fins):
    [k] = fins.keys.list()
    assert k.ref == "fins/fins" and k.leads == 6
    d = fins.keys.show("fins", "3")
    assert [x["item"] for x in d["leads_of_couplet"]] == ["Anguilla anguilla", "Esox lucius"]
    with pytest.raises(NotFound, match="no couplet '9'"):
        fins.keys.show("fins", "9")
    with pytest.raises(NotFound, match="did you mean"):
        fins.keys.get("fin")


def test_walk_step_by_step(fins):
    st = fins.keys.identify("fins")
    assert st.couplet == "1" and [x["id"] for x in st.leads] == ["1a", "1b"] and len(st.remaining) == 4
    st = fins.keys.identify("fins", ["1b"])
    assert st.couplet == "3" and st.remaining == ["Anguilla anguilla", "Esox lucius"]
    st = fins.keys.identify("fins", ["1b", "b"])  # a letter of the current couplet works too
    assert st.done and st.result == "Esox lucius"
    assert [p["lead"] for p in st.path] == ["1b", "3b"]


def test_bad_answers_are_clear_errors(fins):
    with pytest.raises(ValidationError, match=r"'2a'\) is not a lead of couplet 3.*3a \(Pelvic fins absent\)"):
        fins.keys.identify("fins", ["1b", "2a"])
    with pytest.raises(ValidationError, match="already ended at Esox lucius"):
        fins.keys.identify("fins", ["1b", "3b", "1a"])


def test_batch_mode(fins):
    r = fins.keys.batch("fins", ["adipose fin absent"])
    assert r.candidates == ["Anguilla anguilla", "Esox lucius"]
    assert [d["lead"] for d in r.decisions] == ["1b"] and [x["couplet"] for x in r.remaining] == ["3"]
    r = fins.keys.batch("fins", ["adipose fin present", "no barbels", "blue eyes"])
    assert r.candidates == ["Salmo trutta"] and r.unused == ["blue eyes"]
    r = fins.keys.batch("fins", ["1a"])  # lead ids decide their couplet outright
    assert sorted(r.candidates) == ["Salmo trutta", "Silurus glanis"]


def test_generate_toy_matrix_and_round_trip(tmp_path):
    m = Matrix(["A", "B", "C", "D", "E"], ["fin", "barbels"],
               {"A": {"fin": {"present"}, "barbels": {"present"}}, "B": {"fin": {"present"}, "barbels": {"absent"}},
                "C": {"fin": {"absent"}}, "D": {"fin": {"absent"}, "barbels": {"absent"}}})
    g = generate(m)
    # C's barbels are unknown: it keys out on both sides and cannot be told from D; E is not coded at all
    assert g.groups == [["C", "D"]] and g.uncoded == ["E"]
    _check_generated(m, g)


def _walk_as(g, taxon_states: dict[str, set[str]]) -> str:
    """Follow the generated key answering as a taxon with these states; the item reached."""
    key = g.key
    couplets = key.couplets()
    c = key.first
    while True:
        ch, left, _right = g.splits[c]
        st = taxon_states.get(ch)
        lead = couplets[c][0] if not st or st & set(left) else couplets[c][1]
        if lead.item:
            return lead.item
        c = lead.to_couplet


def _check_generated(m: Matrix, g) -> None:
    key = g.key
    items = [x.item for x in key.leads if x.item]
    keyed = {t for it in items for t in it.split(", ")}
    assert keyed | set(g.uncoded) == set(m.taxa) and not keyed & set(g.uncoded)  # every coded taxon keys out
    assert all(not any(m.cells.get(t, {}).values()) for t in g.uncoded)
    for grp in g.groups:  # taxa keyed out together share a possible state for every character
        for ch in m.characters:
            for a in grp:
                for b in grp:
                    sa, sb = m.cells[a].get(ch), m.cells[b].get(ch)
                    assert not (sa and sb and not sa & sb), (grp, ch)
    for t in keyed:  # answering as the taxon reaches an item holding it
        assert t in _walk_as(g, m.cells[t]).split(", ")
    rows = list(csv.reader(io.StringIO(g.to_csv())))
    assert rows[0] == ["from", "statement", "to"] and len(rows) == len(key.leads) + 1


def test_generated_key_round_trips_through_keybase_and_validates_clean(tmp_path, mem_kg):
    m = Matrix(["A", "B", "C"], ["x"], {"A": {"x": {"1"}}, "B": {"x": {"2"}}, "C": {"x": {"3"}}})
    g = generate(m)
    p = tmp_path / "gen.csv"
    p.write_text(g.to_csv())
    k = keybase.parse(p).keys[0]
    assert validate(k) == [] and [x.to for x in k.leads] == [x.to for x in g.key.leads]
    rep = mem_kg.load_key(p)
    assert not rep.problems and rep.counts["leads"] == 4


def test_generate_from_sdd(toy):
    m = read_matrix(toy / "keys" / "toy.sdd.xml")
    g = generate(m)
    assert g.groups == [] and g.stats()["depth"] == 2
    _check_generated(m, g)


@pytest.mark.slow
def test_generate_from_a_real_phenoscape_matrix(shared, tmp_path):
    m = read_matrix(shared / "phenoscape-data" / "nexml" / "Characiformes" / "Dillman_etal_2016.xml")
    assert len(m.taxa) == 176
    g = generate(m)
    _check_generated(m, g)
    st = g.stats()
    assert st["depth"] < 40 and st["leaves"] >= 176 - st["taxa_in_groups"]
    p = tmp_path / "dillman.csv"
    p.write_text(g.to_csv())
    assert validate(keybase.parse(p).keys[0]) == []


def test_link_sample_key_to_terms_taxa_and_phenotypes(mem_kg):
    from kg.demo import load_sample

    load_sample(mem_kg)  # the bundled sample: fin anatomy, taxonomy, tree, phenotypes and the key to orders
    ref = "sample-key/key-fish-orders"
    res = mem_kg.keys.link(ref)
    assert res.status == "loaded" and res.graph.startswith("https://w3id.org/traitkg/graph/keylinks/")
    m = {(x.lead, x.term): x for x in res.term_matches}
    assert m[("1b", "UBERON:2000251")].says == "absent" and m[("1b", "UBERON:2000251")].score == 100.0
    assert m[("2b", "UBERON:2000622")].says == "absent"  # "No barbels": a plural, one word
    assert m[("3a", "UBERON:0000152")].says is None  # "no axillary process at the pelvic fin base"
    assert res.counts()["items_linked"] == 12
    # Silurus glanis and Hoplias malabaricus lack the adipose fin the key's lead 1a promises
    said = {(c["lead"], c["item"]): c["taxa"] for c in res.contradictions}
    assert said == {("1a", "Siluriformes"): ["Silurus glanis"], ("1a", "Characiformes"): ["Hoplias malabaricus"]}
    # hypotheses, with their scores, in the derived graph; nothing asserted about the leads themselves
    n = mem_kg.query("SELECT (COUNT(?h) AS ?n) WHERE { GRAPH ?g { ?h a tkg:TermMatchHypothesis ; "
                     "tkg:tier 'hypothesised' ; tkg:score ?s } }").values()[0][0]
    assert int(n) == len(res.term_matches)
    rec = mem_kg.graph(res.graph)
    assert rec.kind == "keylinks" and any("/key/sample-key/" in g for g in rec.derived_from)
    linked = mem_kg.query("SELECT ?t WHERE { ?i rdfs:label 'Siluriformes' ; tkg:itemTaxon ?t }").values()
    assert linked == [("https://w3id.org/traitkg/taxon/Siluriformes",)]
    assert mem_kg.keys.link(ref).status == "unchanged"


def test_keys_on_every_backend(kg, toy, tmp_path):
    """Load, list, read back and walk on the embedded store, an Oxigraph server and Virtuoso."""
    import zipfile

    z = tmp_path / "toy-fishes.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((toy / "keys" / "project").iterdir()):
            zf.write(f, f.name)
    rep = kg.load_key(z)
    assert rep.status == "loaded" and rep.counts["keys"] == 3
    kg.load_key(toy / "keys" / "toy.sdd.xml")
    assert [k.ref for k in kg.keys.list()] == ["toy-fishes/1", "toy-fishes/2", "toy-fishes/3", "toy/k1"]
    st = kg.keys.identify("toy-fishes/1", ["1a", "2b"])
    assert st.result == "Salmoniformes" and st.subkeys == ["toy-fishes/2"]
    assert kg.keys.identify("toy-fishes/1", ["1b"]).shortcut == ["Esox"]
    assert kg.keys.identify("toy/k1", ["1a", "2a"]).result == "Silurus glanis"
    kg.load_key(toy / "keys" / "frogs.sdd.xml")  # a reticulation and sub-keys, read back on every backend
    assert kg.keys.identify("frogs/k-main", ["1a", "2b", "3a"]).result == "Hyla arborea"
    st = kg.keys.identify("frogs/k-main", ["1b", "1b"])
    assert (st.in_key, st.couplet, st.question) == ("frogs/k-main", "2", "What colour is the back?")
    assert kg.keys.get("frogs/k-main").key.leads[4].media[0]["label"] == "Hyla arborea on a leaf"


class _Counting:
    """A store that counts the queries asked through it and the rows they answered."""

    def __init__(self, store):
        self._store, self.queries, self.rows = store, 0, 0

    def select(self, *a, **kw):
        res = self._store.select(*a, **kw)
        self.queries += 1
        self.rows += len(res.rows)
        return res

    def __getattr__(self, name):
        return getattr(self._store, name)


def _many_keys(tmp_path, n: int):
    """A KeyBase project export of ``n`` keys of 8 leads each."""
    import zipfile

    z = tmp_path / f"many-{n}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("keys.tsv", "id\ttitle\titem\tkey_file\n" + "".join(
            f"{i}\tKey {i}\tGenus{i}\tkey-{i}.tsv\n" for i in range(n)))
        for i in range(n):
            zf.writestr(f"key-{i}.tsv", "from\tstatement\tto\n" + "".join(
                f"{c}\tlead {c}{x} of key {i}\t{c + 1 if c < 4 and x == 'a' else f'Genus{i} sp{c}{x}'}\n"
                for c in range(1, 5) for x in "ab"))
    return z


def test_reading_a_key_costs_the_same_whatever_else_is_loaded(toy, tmp_path):
    from kg import KnowledgeGraph
    from kg.keys import Keys

    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'store'}")
    g.load_key(toy / "keys" / "frogs.sdd.xml")

    def cost(ref, answers):
        store = _Counting(g.store)
        keys = Keys(store, {})  # a cold cache: what one CLI call or one fresh server pays
        st = keys.identify(ref, answers)
        assert "keys:list" not in keys._cache  # no reference needed the list of every key
        return store.queries, store.rows, st.to_dict()

    refs = [("frogs/k-main", ["1a", "2b"]), ("frogs/k-main", ["1b", "1a"]), ("k-toads", []),
            ("Key to frogs and toads", ["1a"])]
    alone = [cost(r, a) for r, a in refs]
    many = _many_keys(tmp_path, 300)
    g.load_key(many, name="many-a")
    g.load_key(many, name="many-b")
    assert len(g.keys.list()) == 602
    beside = [cost(r, a) for r, a in refs]
    assert beside == alone  # the same queries, answering the same rows, whatever else is loaded
    # locate (the bound lookup + the manifest's versions of that graph) and read: 3 queries; a key whose
    # leads hand over to a sub-key reads that key too (the taxa still possible); an id or a title that
    # is not a reference tries reference, id, project, title in turn
    assert [q for q, _r, _s in alone] == [3, 6, 6, 5]
    g.close()


def test_only_the_latest_version_of_a_key_graph_is_read(toy, tmp_path, mem_kg):
    text = (toy / "keys" / "frogs.sdd.xml").read_text()
    v1, v2 = tmp_path / "v1" / "frogs.sdd.xml", tmp_path / "v2" / "frogs.sdd.xml"
    v1.parent.mkdir(), v2.parent.mkdir()
    v1.write_text(text)
    v2.write_text(text.replace("k-toads", "k-bufonids").replace("Length over 5 cm", "Length 5 cm or more"))
    mem_kg.load_key(v1, name="frogs", version="1")
    assert mem_kg.keys.identify("frogs/k-main", ["1b"]).in_key == "frogs/k-toads"
    mem_kg.load_key(v2, name="frogs", version="2")
    assert mem_kg.keys.show("frogs/k-main", "3")["leads_of_couplet"][1]["statement"].startswith("Length 5 cm or more")
    assert mem_kg.keys.identify("frogs/k-main", ["1b"]).in_key == "frogs/k-bufonids"
    with pytest.raises(NotFound, match="no key 'frogs/k-toads'"):  # only in version 1
        mem_kg.keys.get("frogs/k-toads")


@pytest.mark.parametrize("ref", ['x"} UNION { ?s ?p ?o', "frogs/k\"}>", "<x> {", "frogs/k-main'"])
def test_references_are_bound_not_pasted(toy, mem_kg, ref):
    mem_kg.load_key(toy / "keys" / "frogs.sdd.xml")
    with pytest.raises(NotFound, match="no key"):
        mem_kg.keys.get(ref)
