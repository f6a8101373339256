"""The label table: stable hashes kept in the tree index file, every lookup checked against the
rule it implements (a tip wins over an internal node with the same normalised label; two tips, or
two internal nodes without a tip, make it ambiguous), with real hashes, with hashes forced to
collide, and after a round trip through the index file in another process."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.core.errors import NotFound, ValidationError
from kg.tree_labels import AMBIGUOUS, BUCKETED, Buckets, LabelTable, label_hashes, normalise_label
from kg.treeindex import FORMAT, TreeIndex
from loaders.newick_grammar import parse_newick

ROOT = Path(__file__).resolve().parents[2]


def reference(names: list[str], tip: np.ndarray, name: str) -> int | None:
    """What a lookup must answer, by brute force over every label."""
    key = normalise_label(name)
    nodes = [i for i, x in enumerate(names) if x and normalise_label(x) == key]
    tips = [i for i in nodes if tip[i]]
    win = tips or nodes
    if not win:
        return None
    return win[0] if len(win) == 1 else AMBIGUOUS


class Colliding(LabelTable):
    """Three hash values for every label: nearly every hit is another string's."""

    hashes = staticmethod(lambda items: label_hashes(items) % 3)


def tables(names: list[str], tip: np.ndarray) -> list[LabelTable]:
    out = []
    for cls in (LabelTable, Colliding):
        t = cls(names, tip)
        out += [t, cls.from_arrays(names, *t.arrays())]
    return out


WORDS = st.sampled_from(["A", "a", "A_b", "A b", "A  b", " A b", "C", "C_", "é_x", "é x", "", "D\tE", "x\udc80"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(WORDS, st.booleans()), min_size=1, max_size=14), st.lists(WORDS, max_size=6))
def test_every_lookup_agrees_with_the_rule(nodes, extra):
    names = [n for n, _ in nodes]
    tip = np.array([t for _, t in nodes], dtype=bool)
    queries = sorted(set(names + extra + ["missing", "A__b", "node:0"]) - {""})
    for t in tables(names, tip):
        for q in queries:
            assert t.get(q) == reference(names, tip, q), (type(t).__name__, q)
        labelled = [n for n in names if n]
        got = t.exact(labelled)
        if got is not None:  # the fast path answers for every item or not at all
            assert got.tolist() == [reference(names, tip, q) for q in labelled]
        if type(t) is LabelTable:  # with real hashes, labels as written always take the fast path
            assert got is not None
        assert t.exact(labelled + ["missing"]) is None and t.exact([1]) is None


def test_hashes_are_the_same_in_another_process():
    labels = ["Danio_rerio", "Danio rerio", "é", "", "x\udc80"]
    code = ("import json, sys; from kg.tree_labels import label_hashes; "
            "print(json.dumps(label_hashes(json.loads(sys.stdin.read())).tolist()))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(labels), capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"}).stdout
    assert json.loads(out) == label_hashes(labels).tolist()
    assert len(set(json.loads(out))) == len(labels)


NEWICK = "((Danio_rerio:1,Danio_kyathit:1)Danio:1,(Danio:1,(x_y:1,x y:1)q:1,Corydoras_aeneus:2)Danio:1,(p:1,p:1)r:1)root;"


def test_the_index_file_keeps_the_table_and_answers_as_the_fresh_index(tmp_path):
    fresh = TreeIndex.from_parsed(parse_newick(NEWICK))
    path = fresh.save(tmp_path / "t.npz")
    with np.load(path) as z:
        assert json.loads(str(z["meta"]))["format"] == FORMAT == 3
        assert "labels_x_hash" in z.files
    back = TreeIndex.load(path)
    assert back._table is not None  # read, not built
    def outcome(ix: TreeIndex, n: str) -> object:
        try:
            return ix.find(n)
        except ValidationError as exc:
            return str(exc)

    queries = [n for n in fresh.names if n] + ["Danio rerio", "Danio  kyathit", " Corydoras aeneus", "nope", "node:3"]
    assert [outcome(back, n) for n in queries] == [outcome(fresh, n) for n in queries]
    danio_tip = [i for i, n in enumerate(back.names) if n == "Danio" and back.size[i] == 1]
    assert back.find("Danio") == danio_tip[0]  # the tip wins over the two internal nodes
    for n in ("x y", "x_y", "p"):  # two tips each
        with pytest.raises(ValidationError, match="ambiguous"):
            back.find(n)
    assert back.find("nope") is None and back.find("node:3") == 3
    with pytest.raises(NotFound, match="'nope'"):
        back.ids(["Danio_rerio", "nope"])
    tips = [back.names[i] for i in back.tips.tolist() if back.names[i] not in ("x_y", "x y", "p")]
    assert back.ids(tips).tolist() == fresh.ids(tips).tolist()
    assert back.mrca(back.ids(["Danio rerio", "Corydoras_aeneus"])) == fresh.mrca(fresh.ids(["Danio_rerio", "Corydoras aeneus"]))


def test_a_damaged_index_file_is_rebuilt_not_mapped(tmp_path, toy):
    from kg import KnowledgeGraph

    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}")
    g.load_tree(toy / "trees" / "toy.nwk", name="toy")
    g.invalidate()
    (path,) = (tmp_path / "kg.cache" / "trees").glob("*.npz")
    good = TreeIndex.load(path)
    assert good.meta["format"] == FORMAT and not good.parent.flags.writeable  # mapped from the file
    for cut in (len(path.read_bytes()) // 2, 40):
        data = path.read_bytes()
        path.write_bytes(data[:cut])
        with pytest.raises((zipfile.BadZipFile, ValueError, OSError)):
            TreeIndex.load(path)
        g.invalidate()
        t = g.tree("toy")
        assert t.index.meta["source"] == "built" and t.index.names == good.names
        assert TreeIndex.load(path).names == good.names  # written again, whole
    g.close()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300, unique=True),
       st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40), st.integers(1, 4))
def test_bucketed_probes_answer_as_a_whole_array_search(values, extra, spread):
    """The buckets' search finds the row np.searchsorted finds, present hashes or not, at the
    extremes of the 64-bit range and in buckets of one, many or no hashes."""
    table = np.sort(np.asarray(values, dtype=np.int64)) // spread * spread  # clusters in few buckets
    table = np.unique(table)
    q = np.asarray(values[:40] + extra + [-(2**63), 2**63 - 1, 0], dtype=np.int64)
    for b in (Buckets(table, min_len=2), Buckets(table)):
        at, hit = b.probe(table, q)
        if len(table):
            want = np.minimum(np.searchsorted(table, q), len(table) - 1)
            assert at.tolist() == want.tolist()
            assert hit.tolist() == (table[want] == q).tolist()
        else:
            assert not hit.any()
    assert Buckets(table, min_len=2).bits == (min(24, max(1, len(table).bit_length() - 3)) if len(table) >= 2 else 0)


def test_a_large_table_finds_every_label_through_its_buckets(tmp_path):
    """A tree with more labels than the bucketed threshold: every tip by its label as written and
    normalised, labels that are not there, an ambiguous one, before and after the index file."""
    n = BUCKETED + 5000
    tips = [f"Genus{i // 7}_sp{i}" for i in range(n)] + ["Twin_a", "Twin a"]
    newick = "(" + ",".join(f"{x}:1" for x in tips) + ")root;"
    fresh = TreeIndex.from_parsed(parse_newick(newick))
    back = TreeIndex.load(fresh.save(tmp_path / "big.npz")).prepare()
    for ix in (fresh, back):
        table = ix._labels()
        ids = ix.ids(tips[:n])
        assert [ix.names[i] for i in ids.tolist()] == tips[:n]
        rnd = np.random.default_rng(5).choice(n, 500, replace=False).tolist()
        assert [ix.find(tips[i].replace("_", " ")) for i in rnd] == ids[rnd].tolist()
        assert ix.find("Genus0_sp999999") is None and ix.find("nope at all") is None
        with pytest.raises(ValidationError, match="ambiguous"):
            ix.find("Twin a")
        assert table._buckets["x"].bits > 0
