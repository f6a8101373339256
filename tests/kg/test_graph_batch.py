"""A batch of graphs (kg.core.graph_batch): written one by one, listed together, all dropped on failure."""

from __future__ import annotations

import pytest

from kg.core.errors import ValidationError
from kg.core.graph_batch import GraphBatch
from kg.core.graphs import MANIFEST, list_graphs
from kg.core.store import RdfFormat


def _writer(store, lines: bytes):
    def write(iri: str) -> int:
        store.load_file(lines, RdfFormat.N_TRIPLES, iri, lenient=True)
        return lines.count(b"\n")
    return write


def _args(name: str, sha: str) -> dict:
    return dict(kind="demo", name=name, source=f"{name}.nt", sha256=sha * 64, byte_size=10, loader="demo",
                loader_version="1", counted=True)


A = b'<http://x/a> <http://x/p> <http://x/b> .\n<http://x/a> <http://x/p> "q \\"x\\" {}" .\n'
B = b'<http://x/c> <http://x/p> <http://x/d> .\n'


def test_graphs_are_listed_together_at_the_end(store):
    before = set(store.named_graphs())
    with GraphBatch(store) as batch:
        ra = batch.write(writer=_writer(store, A), **_args("a", "1"))
        rb = batch.write(writer=_writer(store, B), **_args("b", "2"))
        assert list_graphs(store, kind="demo") == []  # written, not listed yet
        again = batch.write(writer=_writer(store, A), **_args("a", "1"))  # the same input earlier in the batch
        assert again.status == "unchanged" and again.iri == ra.iri and ra.status == "loaded"
    listed = list_graphs(store, kind="demo")
    assert [(g.name, g.triples, g.iri) for g in listed] == [("a", 2, ra.iri), ("b", 1, rb.iri)]
    assert store.count(ra.iri) == 2 and store.count(rb.iri) == 1
    assert {g for g in store.named_graphs() if "/demo/" in g} - before == {ra.iri, rb.iri}
    with GraphBatch(store) as batch:  # loaded before, in the store: unchanged, nothing written
        assert batch.write(writer=_writer(store, B), **_args("b", "2")).status == "unchanged"
        with pytest.raises(ValidationError, match="demo/b/v1 is already loaded from different content"):
            batch.write(writer=_writer(store, A), version="v1", **_args("b", "3"))
            batch.write(writer=_writer(store, A), version="v1", **_args("b", "4"))
    assert [(g.version, g.sha256[0]) for g in list_graphs(store, kind="demo", name="b")] == [("2" * 12, "2"), ("v1", "3")]


def test_a_failure_drops_every_graph_of_the_batch(store):
    before = set(store.named_graphs())

    def bad(iri: str) -> int:
        store.load_file(B, RdfFormat.N_TRIPLES, iri, lenient=True)  # half written, then it fails
        raise ValidationError("row 3: no")

    with pytest.raises(ValidationError, match="row 3: no"), GraphBatch(store) as batch:
        batch.write(writer=_writer(store, A), **_args("a", "1"))
        batch.write(writer=bad, **_args("b", "2"))
    assert list_graphs(store, kind="demo") == [] and set(store.named_graphs()) - before <= {MANIFEST}
    with pytest.raises(KeyError), GraphBatch(store) as batch:  # an error after the writes, before the end
        batch.write(writer=_writer(store, A), **_args("a", "1"))
        raise KeyError("x")
    assert list_graphs(store, kind="demo") == [] and set(store.named_graphs()) - before <= {MANIFEST}
