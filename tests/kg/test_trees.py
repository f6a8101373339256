"""The tree index against ete3 on real and random trees; cache behaviour; Tree/Node objects."""

from __future__ import annotations

import random

import numpy as np
import pytest
from ete3 import Tree as EteTree

from kg import KnowledgeGraph
from kg.core.errors import NotFound, ValidationError
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick
from loaders.parsed_tree import to_newick


def random_newick(n_tips: int, seed: int) -> str:
    """A random rooted tree (random splits, some polytomies, random lengths), built with a stack."""
    rng = random.Random(seed)
    parent, names, length = [], [], []
    stack = [(n_tips, -1)]
    while stack:
        k, p = stack.pop()
        parent.append(p)
        length.append(round(rng.uniform(0.01, 2.0), 4))
        if k == 1:
            names.append(f"sp{sum(1 for x in names if x)}")
            continue
        names.append("")
        me = len(parent) - 1
        parts = 3 if k >= 3 and rng.random() < 0.1 else 2
        cuts = sorted(rng.sample(range(1, k), parts - 1))
        sizes = [b - a for a, b in zip([0] + cuts, cuts + [k])]
        for s in reversed(sizes):
            stack.append((s, me))
    ix = TreeIndex.from_parent(parent, length, [np.nan] * len(parent), names)
    from loaders.parsed_tree import write_newick

    return write_newick(ix.parent, ix.size, names, np.asarray(length, dtype=float))


@pytest.fixture(scope="module")
def fish(shared):
    text = (shared / "fishtree" / "actinopt_12k_raxml.tre").read_text()
    return TreeIndex.from_parsed(parse_newick(text)), EteTree(text, format=1)


def _ete_clades(t) -> dict[frozenset, float]:
    return {frozenset(n.get_leaf_names()): round(n.dist, 6) for n in t.traverse() if not n.is_root()}


@pytest.mark.slow
def test_mrca_equals_ete_on_random_subsets(fish):
    ix, et = fish
    tips = [ix.names[i] for i in ix.tips]
    rng = random.Random(7)
    for k in (2, 3, 10, 100, 1000):
        for _ in range(5):
            names = rng.sample(tips, k)
            ours = ix.mrca(ix.ids(names))
            theirs = et.get_common_ancestor(*names)
            assert set(ix.names[i] for i in ix.tips_below(ours)) == set(theirs.get_leaf_names())


@pytest.mark.slow
def test_induced_subtree_equals_ete_prune(fish):
    ix, et = fish
    tips = [ix.names[i] for i in ix.tips]
    rng = random.Random(11)
    for k in (2, 5, 60, 500):
        names = rng.sample(tips, k)
        ours = EteTree(ix.induced_newick(ix.ids(names)), format=1)
        pruned = et.get_common_ancestor(*names).copy() if k > 1 else None
        pruned.prune(names, preserve_branch_length=True)
        rf = ours.robinson_foulds(pruned, unrooted_trees=False)[0]
        assert rf == 0 and len(ours) == k
        assert _ete_clades(ours) == _ete_clades(pruned)  # same clades, same summed branch lengths


@pytest.mark.slow
def test_distances_equal_ete(fish):
    ix, et = fish
    tips = [ix.names[i] for i in ix.tips]
    rng = random.Random(5)
    names = rng.sample(tips, 12)
    m = ix.distance_matrix(ix.ids(names))
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            assert m[a, b] == pytest.approx(et.get_distance(names[a], names[b]), rel=1e-9)
            topo = float(ix.distance(ix.lookup(names[a]), ix.lookup(names[b]), topological=True))
            assert topo == et.get_distance(names[a], names[b], topology_only=True) + 1  # ete counts nodes between
    assert np.allclose(m, m.T) and (np.diag(m) == 0).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_trees_with_polytomies_match_ete(seed):
    text = random_newick(300, seed)
    ix = TreeIndex.from_parsed(parse_newick(text))
    et = EteTree(text, format=1)
    tips = [ix.names[i] for i in ix.tips]
    rng = random.Random(seed)
    for k in (2, 7, 40):
        names = rng.sample(tips, k)
        assert set(ix.names[i] for i in ix.tips_below(ix.mrca(ix.ids(names)))) == \
            set(et.get_common_ancestor(*names).get_leaf_names())
        ours = EteTree(ix.induced_newick(ix.ids(names)), format=1)
        pruned = et.get_common_ancestor(*names).copy()
        pruned.prune(names, preserve_branch_length=True)
        assert ours.robinson_foulds(pruned, unrooted_trees=False)[0] == 0
        assert _ete_clades(ours) == _ete_clades(pruned)


@pytest.mark.parametrize("seed", [4, 5])
def test_tip_counts_of_every_node_equal_ete(seed):
    from kg.trees import Node, Tree

    text = random_newick(200, seed)
    t = Tree("r", TreeIndex.from_parsed(parse_newick(text))).prepare()
    et = EteTree(text, format=1)
    by_tips = {frozenset(n.get_leaf_names()): len(n) for n in et.traverse()}
    for v in range(len(t.index)):
        node = Node(t, v)
        assert node.n_tips == len(node.tips()) == by_tips[frozenset(node.tips())]


def test_lca_against_naive_walk():
    ix = TreeIndex.from_parsed(parse_newick(random_newick(2000, 9)))
    rng = np.random.default_rng(0)
    u, v = rng.integers(0, len(ix), 3000), rng.integers(0, len(ix), 3000)
    got = ix.lca(u, v)
    for a, b, g in zip(u.tolist(), v.tolist(), got.tolist()):
        anc = set()
        while a >= 0:
            anc.add(a)
            a = int(ix.parent[a])
        while b not in anc:
            b = int(ix.parent[b])
        assert g == b


def test_from_parent_equals_from_parsed():
    t = parse_newick(random_newick(500, 4))
    a = TreeIndex.from_parsed(t)
    b = TreeIndex.from_parent(t.parent, t.length, t.support, list(t.names))
    assert np.array_equal(a.size, b.size) and np.array_equal(a.depth, b.depth)
    assert np.allclose(a.dist, b.dist)


def test_deep_and_wide_trees_query_without_recursion():
    n = 200_000
    cat = TreeIndex.from_parsed(parse_newick("(" * (n - 1) + "t0" + "".join(f",t{i}:1)" for i in range(1, n)) + ";"))
    assert cat.mrca(cat.ids(["t0", "t1"])) == n - 2
    assert float(cat.distance(cat.lookup("t0"), cat.lookup(f"t{n - 1}"), topological=True)) == n
    assert float(cat.distance(cat.lookup("t0"), cat.lookup(f"t{n - 1}"))) == 1.0  # only tip edges have lengths
    assert cat.induced_newick(cat.ids(["t0", "t5", f"t{n - 1}"])).count("(") == 2
    poly = TreeIndex.from_parsed(parse_newick("(" + ",".join(f"s{i}:1" for i in range(50_000)) + ");"))
    assert poly.mrca(poly.ids(["s1", "s49999"])) == 0
    assert len(poly.children(0)) == 50_000


def test_subtree_limits_and_clades():
    ix = TreeIndex.from_parsed(parse_newick("(((A:1,B:1)ab:1,C:2)abc:1,(D:1,E:1)de:2)root;"))
    assert ix.subtree_newick(ix.lookup("abc")) == "((A:1,B:1)ab:1,C:2)abc;"
    assert ix.subtree_newick(0, height_limit=1) == "(abc:1,de:2)root;"
    with pytest.raises(ValidationError, match="has 5 tips, more than max_tips=3"):
        ix.subtree_newick(0, max_tips=3)
    assert bool(ix.is_ancestor(ix.lookup("abc"), ix.lookup("B")))
    assert not bool(ix.is_ancestor(ix.lookup("de"), ix.lookup("B")))
    with pytest.raises(NotFound, match="not in the tree: 'Zz'"):
        ix.ids(["A", "Zz"])
    with pytest.raises(NotFound, match="Did you mean 'ab'"):
        ix.lookup("abd")


@pytest.mark.slow
def test_ages_on_the_ultrametric_fish_tree(shared):
    chrono = TreeIndex.from_parsed(parse_newick((shared / "fishtree" / "actinopt_12k_treePL.tre").read_text()))
    ages = chrono.ages()
    assert ages[0] == pytest.approx(chrono.dist[chrono.tips].max())
    assert np.allclose(ages[chrono.tips], 0, atol=1e-3)
    i = chrono.mrca(chrono.ids(["Danio_rerio", "Danio_kyathit"]))
    assert 0 < ages[i] < ages[0]
    raxml = TreeIndex.from_parsed(parse_newick((shared / "fishtree" / "actinopt_12k_raxml.tre").read_text()))
    with pytest.raises(ValidationError, match="ultrametric"):
        raxml.ages()


def test_index_cache_on_disk_rebuilt_only_when_the_graph_changes(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 'kg'}"
    g = KnowledgeGraph.open(store)
    g.load_tree(toy / "trees" / "toy.nwk", name="toy")
    files = list((tmp_path / "kg.cache" / "trees").glob("*.npz"))
    assert len(files) == 1
    assert g.tree("toy").index.meta["source"] == "built"
    g.close()
    g = KnowledgeGraph.open(store)
    t = g.tree("toy")
    assert t.index.meta["source"] == "cache"
    assert t.mrca(["Danio_rerio", "Danio kyathit"]).name == "Danio"
    # a new version of the tree is a new graph and a new index
    p = tmp_path / "v2.nwk"
    p.write_text("((Danio_rerio:1,Corydoras_aeneus:1)x:1,Astyanax_mexicanus:2);")
    g.load_tree(p, name="toy")
    assert len(list((tmp_path / "kg.cache" / "trees").glob("*.npz"))) == 2
    assert g.tree("toy").mrca(["Danio_rerio", "Corydoras_aeneus"]).name == "x"
    # a lost cache file is rebuilt from the CDAO triples in the store
    for f in (tmp_path / "kg.cache" / "trees").glob("*.npz"):
        f.unlink()
    g.close()
    g = KnowledgeGraph.open(store)
    t = g.tree("toy")
    assert t.index.meta["source"] == "built" and t.n_tips == 3
    assert t.distance("Danio_rerio", "Astyanax_mexicanus") == 4.0
    g.close()


def test_tree_objects_on_both_backends(kg, toy):
    kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    kg.invalidate()
    t = kg.tree("toy")
    danio = t.node("Danio")
    assert danio.tips() == ["Danio_rerio", "Danio kyathit"]
    assert danio.support == 95.0 and danio.length == 2.5 and danio.parent.name == "Otophysi"
    assert [c.name for c in t.root.children] == ["Otophysi", "Astyanax_mexicanus"]
    assert t.mrca(["Danio rerio", "Corydoras aeneus"]).name == "Otophysi"
    assert t.mrca(["Danio"]).name == "Danio"
    assert t.in_clade(["Danio_rerio", "Astyanax_mexicanus"], "Otophysi") == {
        "Danio_rerio": True, "Astyanax_mexicanus": False}
    assert t.distance("Danio_rerio", "Astyanax_mexicanus") == pytest.approx(1 + 2.5 + 0.5 + 4)
    assert t.distance("Danio_rerio", "Astyanax_mexicanus", topological=True) == 4
    assert t.induced_subtree(["Danio_rerio", "Astyanax_mexicanus"]) == "(Danio_rerio:4,Astyanax_mexicanus:4);"
    assert t.node(danio.iri) == danio and t.node("taxon:Danio_rerio").name == "Danio_rerio"
    e = t.to_ete()
    assert sorted(e.get_leaf_names()) == sorted(t.tips())
    assert to_newick(parse_newick(t.newick())) == t.newick()


def test_ids_fast_path_fallbacks_and_ambiguity():
    ix = TreeIndex.from_parsed(parse_newick("((A_b:1,C:1)x:1,(A b:1,D:1)y:1,E e:1);"))
    e, c = ix.names.index("E e"), ix.names.index("C")
    assert ix.ids(["C", "E e"]).tolist() == [c, e]  # labels as written
    assert ix.ids(iter(["E_e", c, "node:0"])).tolist() == [e, c, 0]  # normalised, ids, node:N
    assert ix.mrca(ix.ids(["C", "D"])) == 0 and ix.mrca(ix.ids(["C", "x"])) == ix.names.index("x")
    for bad in (["A b"], ["C", "A_b"], ["A  b"]):
        with pytest.raises(ValidationError, match="ambiguous"):
            ix.ids(bad)
    with pytest.raises(NotFound, match="'Z'"):
        ix.ids(["C", "Z"])


def test_range_minimum_one_range_and_many_agree_with_brute_force():
    from kg.tree_rmq import RangeMinimum

    rng = np.random.default_rng(7)
    for n in (1, 5, 32, 33, 64, 100, 1000, 5000):  # one block, block edges, several table levels
        v = rng.integers(0, 50, n)  # many ties: the leftmost minimum wins
        rmq = RangeMinimum(v)
        a, b = rng.integers(0, n, 400), rng.integers(0, n, 400)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        want = [int(lo_ + np.argmin(v[lo_:hi_ + 1])) for lo_, hi_ in zip(lo.tolist(), hi.tolist())]
        assert rmq.argmin(lo, hi).tolist() == want
        assert [rmq.argmin_one(lo_, hi_) for lo_, hi_ in zip(lo.tolist(), hi.tolist())] == want


def test_label_table_verifies_by_identity_or_by_comparing_strings():
    ix = TreeIndex.from_parsed(parse_newick("((Danio_rerio:1,Danio_kyathit:1)Danio:1,(Astyanax_mexicanus:1,Corydoras_aeneus:1):1);"))
    stored = [ix.names[i] for i in ix.tips.tolist()]  # the label objects themselves: verified by identity
    fresh = [(x + " ")[:-1] for x in stored]  # equal strings, new objects: verified by comparing them
    assert all(a is not b for a, b in zip(stored, fresh))
    assert ix.ids(stored).tolist() == ix.ids(fresh).tolist() == ix.tips.tolist()

    class SameHash(str):  # another string with a stored label's hash must not pass for it
        def __hash__(self) -> int:
            return hash("Danio_rerio")

    assert ix.exact_ids([SameHash("Danio_reriO")]) is None
    with pytest.raises(NotFound, match="Danio_reriO"):
        ix.ids([stored[1], SameHash("Danio_reriO")])


def test_only_the_root_is_typed_and_the_store_rebuild_is_exact(mem_kg, toy):
    from kg.trees import index_from_store, tree_record

    mem_kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    typed = mem_kg.query("SELECT ?n WHERE { ?n a <http://purl.obolibrary.org/obo/CDAO_0000140> }").values()
    assert typed == [("https://w3id.org/traitkg/tree/toy/node/0",)]  # the others through has_Parent
    built = mem_kg.tree("toy").index
    again = index_from_store(mem_kg.store, tree_record(mem_kg.store, "toy"))
    assert again.names == built.names and again.parent.tolist() == built.parent.tolist()
    assert np.array_equal(again.length, built.length, equal_nan=True)
    assert np.array_equal(again.support, built.support, equal_nan=True)


@pytest.mark.parametrize("topological", [False, True])
def test_distance_matrix_equals_pairwise_distances_for_any_nodes(topological):
    """The running-minimum matrix (one LCA per consecutive pair) against one distance per pair:
    tips and internal nodes, repeats, any order, zero-length branches and a missing length."""
    rng = np.random.default_rng(7)
    nodes = [f"t{i}:{rng.uniform(0, 3):.3f}" for i in range(150)]
    while len(nodes) > 1:  # random merges: a random binary tree
        a, b = sorted(rng.choice(len(nodes), 2, replace=False), reverse=True)
        x, y = nodes.pop(a), nodes.pop(b)
        nodes.append(f"({x},{y}):{rng.choice([0.0, rng.uniform(0, 3)]):.3f}")  # zero lengths: ties
    text = nodes[0].rsplit(":", 1)[0] + ";"
    text = text.replace("t5:", "t5", 1)  # one tip without a length
    ix = TreeIndex.from_parsed(parse_newick(text))
    ids = rng.integers(0, len(ix), 60)
    got = ix.distance_matrix(ids, topological=topological)
    iu, ju = np.triu_indices(len(ids), 1)
    want = np.zeros_like(got)
    want[iu, ju] = want[ju, iu] = ix.distance(ids[iu], ids[ju], topological=topological)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
