"""The tree index file: what it keeps (root distances included, so a service start reads them
instead of recomputing), the label table built ahead of requests, and a cache of an older format
rebuilt rather than trusted."""

from __future__ import annotations

import json

import numpy as np

from kg import KnowledgeGraph
from kg.treeindex import FORMAT, TreeIndex
from loaders.newick_grammar import parse_newick

NEWICK = "((A:1,B:2)x:1,(C:1.5,(D:1,E:0.25)z:0.5)y:2,F:4)r;"


def test_saved_index_keeps_root_distances_and_answers_alike(tmp_path):
    ix = TreeIndex.from_parsed(parse_newick(NEWICK), {"graph": "g"})
    path = ix.save(tmp_path / "t.npz")
    with np.load(path) as z:
        assert np.array_equal(z["dist"], ix.dist)
        assert json.loads(str(z["meta"]))["format"] == FORMAT
    back = TreeIndex.load(path)
    assert np.array_equal(back.dist, ix.dist) and back.names == ix.names
    assert [float(back.dist[back.lookup(n)]) for n in "ABDE"] == [2.0, 3.0, 3.5, 2.75]
    for names in (["A", "B"], ["A", "E"], ["D", "E"], ["C", "E", "F"]):
        assert back.mrca(back.ids(names)) == ix.mrca(ix.ids(names))
    assert back.induced_newick(back.ids(["A", "D", "E"])) == ix.induced_newick(ix.ids(["A", "D", "E"]))
    assert float(back.distance(back.lookup("A"), back.lookup("E"))) == 2.0 + 2.75


def test_distances_of_another_length_are_recomputed_not_trusted():
    p = parse_newick(NEWICK)
    ix = TreeIndex.from_parsed(p)
    other = TreeIndex(p.parent, p.size, p.depth, p.length, p.support, list(p.names), dist=np.zeros(3))
    assert np.array_equal(other.dist, ix.dist)


def test_prepare_builds_the_label_table_before_any_lookup():
    ix = TreeIndex.from_parsed(parse_newick(NEWICK))
    assert ix._table is None
    assert ix.prepare() is ix and ix._table is not None
    assert ix.lookup("D") == ix.ids(["D"])[0]


def test_a_cache_file_of_an_older_format_is_rebuilt(tmp_path, toy):
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}")
    g.load_tree(toy / "trees" / "toy.nwk", name="toy")
    g.invalidate()
    files = list((tmp_path / "kg.cache" / "trees").glob("*.npz"))
    assert len(files) == 1
    ix = TreeIndex.load(files[0])
    old = tmp_path / "kg.cache" / "trees" / "old.npz"
    with open(old, "wb") as fh:  # what FORMAT 1 wrote: no distances, format 1
        np.savez(fh, parent=ix.parent, size=ix.size, depth=ix.depth, length=ix.length, support=ix.support,
                 names=np.frombuffer("\x00".join(ix.names).encode(), dtype=np.uint8),
                 meta=np.array(json.dumps({**ix.meta, "format": 1})))
    old.replace(files[0])
    t = g.tree("toy")
    assert t.index.meta["source"] == "built"
    assert np.array_equal(t.index.dist, ix.dist)
    g.close()
