"""A parsed tree as CDAO triples in its own named graph: node IRIs, N-Triples in chunks for the
store's bulk path, and the atomic write with its report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from kg.core.graphs import BASE, TKG
from kg.core.names import taxon_iris
from kg.core.sources import Source
from kg.core.store import Store
from loaders._base import Progress, ingest
from loaders.report import LoadReport

if TYPE_CHECKING:  # pragma: no cover
    from loaders.parsed_tree import ParsedTree

#: the graph kind every tree loader writes
TREE_KIND = "tree"

CDAO = "http://purl.obolibrary.org/obo/CDAO_"
CDAO_NODE, CDAO_TREE, CDAO_HAS_PARENT = CDAO + "0000140", CDAO + "0000110", CDAO + "0000179"
CDAO_REPRESENTS_TU, CDAO_HAS_SUPPORT, CDAO_HAS_ROOT = CDAO + "0000187", CDAO + "0000214", CDAO + "0000148"
TKG_BRANCH_LENGTH = TKG + "branchLength"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
_XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"


def tree_iri(name: str) -> str:
    return f"{BASE}tree/{name}"


def node_iri(name: str, n: int) -> str:
    """``<BASE>tree/<name>/node/<n>`` with ``n`` the node's preorder number."""
    return f"{BASE}tree/{name}/node/{n}"


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


_NO_ESCAPES = re.compile(r'[\\"\n\r]').search


#: Nodes per N-Triples chunk (about 300k triples): each chunk is one bulk load, several run at once
#: (:func:`kg.core.bulk.load_chunks`); small loads keep their sort in cache and their memory low (1M tips
#: on disk: 1.25 GB peak, against 1.6 GB with 300k-node chunks; see bench/trees.py).
CHUNK_NODES = 100_000


def cdao_ntriples(tree: ParsedTree, name: str, chunk_nodes: int = CHUNK_NODES) -> Iterator[bytes]:
    """The tree as CDAO N-Triples, in chunks (a 1M-tip tree never sits in memory as text).

    Only the root carries ``rdf:type cdao:Node``; every other node is typed by the domain of
    its ``cdao:has_Parent`` triple (see ontologies/traitkg.ttl), which saves one triple a node.
    Each chunk is built per property (f-strings in one comprehension, then one join).
    """
    t_iri = f"<{tree_iri(name)}>"
    base = f"<{BASE}tree/{name}/node/"
    typ, node_cls = f"<{_RDF_TYPE}>", f"<{CDAO_NODE}>"
    has_parent, label, blen = f"<{CDAO_HAS_PARENT}>", f"<{_RDFS_LABEL}>", f"<{TKG_BRANCH_LENGTH}>"
    supp, rep, dbl = f"<{CDAO_HAS_SUPPORT}>", f"<{CDAO_REPRESENTS_TU}>", f"^^<{_XSD_DOUBLE}>"
    head = [f"{t_iri} {typ} <{CDAO_TREE}> .", f"{t_iri} <{CDAO_HAS_ROOT}> {base}0> .",
            f"{t_iri} {label} {_lit(tree.name or name)} .",
            f'{t_iri} <{TKG}tipCount> "{tree.n_tips}"^^<{_XSD_INTEGER}> .',
            f'{t_iri} <{TKG}nodeCount> "{tree.n_nodes}"^^<{_XSD_INTEGER}> .']
    pending = "\n".join(head) + "\n"  # goes out with the first chunk
    names, ann = tree.names, tree.annotations
    n = len(names)
    for lo in range(0, n, chunk_nodes):
        hi = min(n, lo + chunk_nodes)  # one chunk of lines at a time: bounded memory
        ids = np.arange(lo, hi)
        parent = tree.parent[lo:hi]
        parts: list[str] = []
        has = parent >= 0  # has_Parent's domain (cdao:Node) types the node: no rdf:type triple
        parts.append("\n".join([f"{base}{i}> {has_parent} {base}{p}> ."
                                for i, p in zip(ids[has].tolist(), parent[has].tolist())]))
        if not has.all():
            parts.append(f"{base}{lo + int(np.flatnonzero(~has)[0])}> {typ} {node_cls} .")
        for arr, prop in ((tree.length, blen), (tree.support, supp)):
            x = arr[lo:hi]
            ok = np.flatnonzero(x == x)
            if ok.size:
                parts.append("\n".join([f'{base}{i}> {prop} "{v!r}"{dbl} .'
                                        for i, v in zip((ok + lo).tolist(), x[ok].tolist())]))
        chunk = names[lo:hi]
        named = np.flatnonzero(np.fromiter(map(len, chunk), dtype=np.int64, count=hi - lo))
        if named.size:
            labels = list(map(chunk.__getitem__, named.tolist()))
            quoted = labels if not _NO_ESCAPES("\0".join(labels)) else [_lit(x)[1:-1] for x in labels]
            parts.append("\n".join([f'{base}{i}> {label} "{q}" .' for i, q in zip((named + lo).tolist(), quoted)]))
            tip = tree.size[lo:hi][named] == 1
            if tip.any():
                tips = named[tip]
                iris = taxon_iris(list(map(chunk.__getitem__, tips.tolist())))
                parts.append("\n".join([f"{base}{i}> {rep} <{t}> ." for i, t in zip((tips + lo).tolist(), iris)]))
        for i in sorted(k for k in ann if lo <= k < hi):
            parts.extend(f"{base}{i}> <{TKG}annotation> {_lit(key + '=' + val)} ." for key, val in ann[i].items())
        yield (pending + "\n".join(p for p in parts if p) + "\n").encode()
        pending = ""


def write_tree(store: Store, graph: str, tree: ParsedTree, name: str, *, chunk_nodes: int = CHUNK_NODES,
               progress: Progress | None = None) -> int:
    """Write the tree's CDAO triples into ``graph`` through the store's bulk path, one chunk of
    ``chunk_nodes`` nodes per load, as many loads at once as the store runs well
    (:func:`kg.core.bulk.load_chunks`), the next chunk built meanwhile. Returns how many triples were
    written (one per line: each triple is distinct, literals escape newlines). ``progress(nodes,
    nodes of the tree)`` as the chunks are handed to the store."""
    from kg.core.bulk import load_chunks

    def chunks() -> Iterator[tuple[bytes, int]]:
        n = tree.n_nodes
        if progress:
            progress(0, n)
        for k, data in enumerate(cdao_ntriples(tree, name, chunk_nodes)):
            yield data, data.count(b"\n")
            if progress:
                progress(min(n, (k + 1) * chunk_nodes), n)

    return load_chunks(store, chunks(), graph)


def store_tree(store: Store, src: Source, tree: ParsedTree, *, name: str, version: str | None,
               loader: str, parameters: dict[str, Any], report: LoadReport | None = None,
               progress: Progress | None = None) -> LoadReport:
    """Write one parsed tree into its own graph (kind ``tree``) atomically, with its report
    (``progress``: the nodes written, see :func:`write_tree`)."""
    rep = report or LoadReport(source=src.origin, kind=TREE_KIND)
    for msg, val in tree.warnings:
        rep.warn(msg, value=val)
    rep.counts.update({"nodes": tree.n_nodes, "tips": tree.n_tips})
    return ingest(store, src, kind=TREE_KIND, name=name, version=version, loader=loader,
                  writer=lambda g: write_tree(store, g, tree, name, progress=progress), parameters=parameters, report=rep,
                  counted=True)

