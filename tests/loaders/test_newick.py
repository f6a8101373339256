"""Newick parsing, writing and loading: dialects, bad input, no recursion on huge shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kg.core.errors import ParseError
from loaders import cdao, newick, newick_grammar
from loaders.newick_grammar import parse_newick
from loaders.parsed_tree import to_newick


def test_quoted_labels_nhx_and_comments(toy):
    t = newick.parse(toy / "trees" / "toy.nwk")[0]
    assert t.tip_names() == ["Danio_rerio", "Danio kyathit", "Corydoras_aeneus", "Astyanax_mexicanus"]
    danio = t.names.index("Danio")
    assert t.annotations[danio] == {"S": "Danio", "B": "95"}
    assert t.support[danio] == 95.0  # NHX B= becomes the support value
    assert t.length[t.names.index("Danio kyathit")] == 1.5
    assert (t.parent[1:] < np.arange(1, t.n_nodes)).all()  # preorder


def test_internal_labels_auto_support_and_name(toy):
    trees = newick.parse(toy / "trees" / "support.nwk")
    assert len(trees) == 2
    a = trees[0]
    assert [s for s in a.support if not math.isnan(s)] == [100.0, 75.5]
    assert a.names[1] == ""
    named = newick.parse(toy / "trees" / "support.nwk", internal_labels="name")[0]
    assert named.names[1] == "100" and math.isnan(named.support[1])
    assert newick.parse(toy / "trees" / "support.nwk", ete_format=1)[0].names[1] == "100"
    assert newick.parse(toy / "trees" / "support.nwk", ete_format=0)[0].support[1] == 100.0
    t = parse_newick("((A,B)clade_x,(C,D)0.9);")  # mixed -> names
    assert t.names[1] == "clade_x" and t.names[4] == "0.9"


def test_roundtrip_preserves_everything():
    text = "((A:1,'B c':2.25)90:1,(C:0.5,D:0.125)x:2,'it''s':3);"
    t = parse_newick(text)
    again = parse_newick(to_newick(t))
    assert again.names == t.names
    assert np.array_equal(again.parent, t.parent)
    assert np.allclose(np.nan_to_num(again.length, nan=-1), np.nan_to_num(t.length, nan=-1))
    assert to_newick(t) == text


@pytest.mark.parametrize("text, message, column", [
    ("((A,B),C;", "unbalanced parentheses: '(' at offset 0 is never closed", 1),
    ("(A,B));", "unbalanced parentheses: ')' at offset 5 has no matching '('", 6),
    ("(A:abc,B);", "branch length 'abc' is not a number", 3),
    ("(A:-0.5,B);", "branch length '-0.5' must be a finite number >= 0", 3),
    ("(A:nan,B);", "must be a finite number", 3),
    (";", "empty tree", 1),
    ("(A,B)C D:1 E;", "branch length '1 E' is not a number", 9),
    ("(A,B)'C':1'D';", "unexpected label 'D' after a branch length", 11),
])
def test_bad_newick_names_position_and_value(text, message, column):
    with pytest.raises(ParseError) as err:
        parse_newick(text, source="x.nwk")
    assert message in str(err.value)
    assert err.value.line == 1 and err.value.column == column
    assert str(err.value).startswith(f"x.nwk:1:{column}:")


def test_empty_file_is_an_error(tmp_path):
    p = tmp_path / "empty.nwk"
    p.write_text("  \n")
    with pytest.raises(ParseError, match="empty tree"):
        newick.parse(p)


def test_error_line_in_multi_line_file(tmp_path):
    p = tmp_path / "two.nwk"
    p.write_text("(A,B);\n(C,\nD:x);\n")
    with pytest.raises(ParseError) as err:
        newick.parse(p)
    assert err.value.line == 3 and err.value.value == "x"


@pytest.mark.parametrize("a", ["A", "'A;'"])  # plain: split on ';' directly; quoted: the scanner
def test_trees_of_a_file_and_their_line_offsets(a):
    text = f";;({a},B);\n\n(C,\nD);  (E,F)"
    assert list(newick.split_trees(text)) == [(f"({a},B);", 0), ("\n\n(C,\nD);", 0), ("  (E,F)", 3)]


def test_duplicate_tips_are_reported():
    t = parse_newick("((A,B),(A,C));")
    assert any("duplicate tip label" in m and v == "A" for m, v in t.warnings)


def _caterpillar(n: int) -> str:
    return "(" * (n - 1) + "t0" + "".join(f",t{i}:1)" for i in range(1, n)) + ";"


def test_deep_caterpillar_parses_and_writes_without_recursion():
    n = 200_000
    t = parse_newick(_caterpillar(n))
    assert t.n_tips == n and int(t.depth.max()) == n - 1
    text = to_newick(t)
    assert text.count("(") == n - 1
    assert parse_newick(text).n_nodes == t.n_nodes


def test_wide_polytomy():
    n = 50_000
    t = parse_newick("(" + ",".join(f"s{i}:0.1" for i in range(n)) + ");")
    assert t.n_tips == n and t.size[0] == n + 1 and int(t.depth.max()) == 1
    assert to_newick(t).count(",") == n - 1


def test_load_writes_cdao_into_one_graph(kg, toy):
    rep = kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    assert rep.status == "loaded" and rep.counts == {"nodes": 7, "tips": 4}
    assert rep.triples == kg.store.count(rep.graph) == kg.graph(rep.graph).triples  # counted while written
    rows = kg.query("""PREFIX obo: <http://purl.obolibrary.org/obo/>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?label ?taxon ?len WHERE { GRAPH ?g { ?n obo:CDAO_0000187 ?taxon ; rdfs:label ?label ;
        <https://w3id.org/traitkg/schema#branchLength> ?len } } ORDER BY ?label""")
    got = [(r[0], r[1].rsplit("/", 1)[-1], float(r[2])) for r in rows.values()]
    assert got[:2] == [("Astyanax_mexicanus", "Astyanax_mexicanus", 4.0), ("Corydoras_aeneus", "Corydoras_aeneus", 3.0)]
    assert ("Danio kyathit", "Danio_kyathit", 1.5) in got
    sup = kg.query("SELECT ?s WHERE { ?n <http://purl.obolibrary.org/obo/CDAO_0000214> ?s }").values()
    assert [float(v[0]) for v in sup] == [95.0]
    root = kg.query("SELECT ?r WHERE { ?t <http://purl.obolibrary.org/obo/CDAO_0000148> ?r }").values()
    assert root == [("https://w3id.org/traitkg/tree/toy/node/0",)]
    again = kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    assert again.status == "unchanged"


def test_bad_tree_leaves_store_untouched(mem_kg, tmp_path):
    p = tmp_path / "bad.nwk"
    p.write_text("((A,B),C;")
    with pytest.raises(ParseError):
        mem_kg.load_tree(p, name="bad")
    assert mem_kg.graphs() == []


def _random_newick(rng, n_tips: int) -> str:
    """A random tree in the plain dialect: polytomies, unary nodes, empty and unicode labels,
    support values or internal names, lengths on some nodes."""
    import random as _random

    assert isinstance(rng, _random.Random)
    numeric = rng.random() < 0.5

    def label(tip: bool) -> str:
        if tip:
            return rng.choice(["", f"T{rng.randrange(n_tips)}", f"Genus_sp{rng.randrange(9)}", "Dänio_ré"])
        if numeric:
            return rng.choice(["", str(rng.randrange(101)), f"{rng.random():.3f}"])
        return rng.choice(["", f"clade{rng.randrange(50)}", "Ça"])

    def length() -> str:
        return rng.choice(["", f":{rng.random() * 10:.4g}", ":0", ":1e-3", ":2"])

    # nodes to open: a stack of remaining child counts, no recursion
    out, stack, tips = ["("], [rng.randint(1, 4)], 1
    while stack:
        if stack[-1] == 0:
            stack.pop()
            out.append(")" + label(False) + length())
            if stack:
                stack[-1] -= 1
                if stack[-1]:
                    out.append(",")
            continue
        if tips < n_tips and rng.random() < 0.4:
            out.append("(")
            stack.append(rng.randint(1, 4))
            tips += 1
        else:
            out.append(label(True) + length())
            stack[-1] -= 1
            if stack[-1]:
                out.append(",")
    return "".join(out) + ";"


def test_plain_fast_path_equals_the_token_parser():
    import random

    rng = random.Random(7)
    texts = [_random_newick(rng, rng.randint(1, 60)) for _ in range(300)]
    texts += ["();", "(,);", "((A));", "(A,B)r:0.5;", "(A:1,(B:2,C:3)90:1)100;", "(A,B)", "((,),(,));"]
    fast = 0
    for text in texts:
        for mode in ("auto", "support", "name"):
            a = parse_newick(text, internal_labels=mode)
            b = newick_grammar.parse_tokens(text, source=None, internal_labels=mode, line_offset=0, name="")
            fast += newick_grammar.parse_plain(text, mode, "") is not None
            assert a.names == b.names, text
            for field in ("parent", "size", "depth"):
                assert getattr(a, field).tolist() == getattr(b, field).tolist(), (field, text)
            np.testing.assert_array_equal(a.length, b.length)
            np.testing.assert_array_equal(a.support, b.support)
            assert a.warnings == b.warnings and a.annotations == b.annotations == {}
    assert fast == 3 * len(texts)  # every one of them took the fast path


@pytest.mark.parametrize("text", ["(A,B", "(A,B));", "(A,B),C;", "(A B,C);", "(A:1:2,B);", "(A:-1,B);",
                                  "(A:x,B);", "A(B,C);", "(A,B)(C,D);", "(A,B)C(D);", "(A:inf,B);",
                                  "('A',B);", "(A,B)[&R];", "(A,B);(C,D);", "(A,B):1:2;"])
def test_fast_path_leaves_errors_and_other_dialects_to_the_token_parser(text):
    assert newick_grammar.parse_plain(text, "auto", "") is None


def test_write_in_chunks_equals_one_chunk(mem_kg):
    tree = parse_newick("((A:1,'B c':2)90:1,(C:0.5,D)x:2,E_f:3)r;")
    one = b"".join(cdao.cdao_ntriples(tree, "t", chunk_nodes=10**6))
    many = b"".join(cdao.cdao_ntriples(tree, "t", chunk_nodes=2))
    assert sorted(one.splitlines()) == sorted(many.splitlines())
    g = "https://example.org/graph/t"
    n = cdao.write_tree(mem_kg.store, g, tree, "t", chunk_nodes=2)  # five load calls
    assert n == len(one.splitlines()) == mem_kg.store.count(g)
