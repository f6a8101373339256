"""Trees in the KG: Python objects over the cached array index of one tree graph.

A tree graph (kind ``tree``) holds CDAO nodes ``<BASE>tree/<name>/node/<n>`` numbered in
preorder. :func:`open_tree` returns a :class:`Tree` backed by a :class:`~kg.treeindex.TreeIndex`
that is cached on disk (``$TRAITKG_CACHE/trees/`` if set, else ``<store path>.cache/trees/``
beside an embedded store, else the user cache for a ``sparql:`` store), keyed by the graph IRI
and the manifest's sha256, so it is rebuilt only when the tree graph changes.

>>> from kg import KnowledgeGraph
>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.nwk"
>>> _ = p.write_text("((Danio_rerio:1,Danio_kyathit:1):2,Corydoras_aeneus:3);")
>>> g = KnowledgeGraph.open("oxigraph:")
>>> g.load_tree(p, name="toy").counts["tips"]
3
>>> t = g.tree("toy")
>>> t.mrca(["Danio rerio", "Danio_kyathit"]).tips()
['Danio_rerio', 'Danio_kyathit']
>>> t.distance("Danio rerio", "Corydoras aeneus")
6.0
>>> t.induced_subtree(["Danio_rerio", "Corydoras_aeneus"])
'(Danio_rerio:3,Corydoras_aeneus:3);'
>>> tmp.cleanup()
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kg.core.errors import GraphNotFound, NotFound, ValidationError
from kg.core.graphs import BASE, TKG, GraphRecord, list_graphs
from kg.core.store import NamedNode, Store
from kg.treeindex import FORMAT, TreeIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Node:
    """One node of a :class:`Tree` (cheap: a tree and a preorder number)."""

    tree: Tree
    id: int

    @property
    def _ix(self) -> TreeIndex:
        return self.tree.index

    @property
    def name(self) -> str:
        return self._ix.names[self.id]

    @property
    def iri(self) -> str:
        return f"{BASE}tree/{self.tree.name}/node/{self.id}"

    @property
    def is_tip(self) -> bool:
        return bool(self._ix.size[self.id] == 1)

    @property
    def parent(self) -> Node | None:
        p = int(self._ix.parent[self.id])
        return None if p < 0 else Node(self.tree, p)

    @property
    def children(self) -> list[Node]:
        return [Node(self.tree, c) for c in self._ix.children(self.id)]

    @property
    def length(self) -> float | None:
        x = float(self._ix.length[self.id])
        return None if np.isnan(x) else x

    @property
    def support(self) -> float | None:
        x = float(self._ix.support[self.id])
        return None if np.isnan(x) else x

    @property
    def depth(self) -> int:
        """Edges from the root."""
        return int(self._ix.depth[self.id])

    @property
    def root_distance(self) -> float:
        return float(self._ix.dist[self.id])

    @property
    def n_tips(self) -> int:
        return self.tree.n_tips_below(self.id)

    @property
    def age(self) -> float:
        """Time before the present (ultrametric trees only)."""
        return float(self.tree.ages()[self.id])

    def tips(self) -> list[str]:
        """Labels of the tips below this node, in preorder."""
        names = self._ix.names
        return [names[i] for i in self._ix.tips_below(self.id).tolist()]

    def contains(self, other: Node | str | int) -> bool:
        """Whether ``other`` is in this node's clade."""
        o = other.id if isinstance(other, Node) else self.tree.node(other).id
        return bool(self._ix.is_ancestor(self.id, o))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "iri": self.iri, "name": self.name or None, "is_tip": self.is_tip,
                "parent": None if self.parent is None else self.parent.id, "depth": self.depth,
                "length": self.length, "support": self.support, "n_tips": self.n_tips,
                "root_distance": self.root_distance if self._ix.has_lengths else None}

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.name!r}, tips={self.n_tips})"


class Tree:
    """A loaded tree: name lookups, MRCA, induced subtrees, subtrees, distances, ages."""

    def __init__(self, name: str, index: TreeIndex, record: GraphRecord | None = None) -> None:
        self.name = name
        self.index = index
        self.record = record
        self._ages: np.ndarray | None = None
        self._tips_before: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"Tree({self.name!r}, tips={self.index.n_tips}, nodes={len(self.index)})"

    def prepare(self) -> Tree:
        """Build the lookups a service's requests would otherwise build: the label table and the
        tip counts (``traitkg serve --warm``)."""
        self.index.prepare()
        self.n_tips_below(0)
        return self

    def n_tips_below(self, v: int) -> int:
        """Tips in the clade of node ``v``: two reads of a prefix count of tips in preorder (built
        once; counting the clade's tips each time reads millions of entries near the root)."""
        c = self._tips_before
        if c is None:
            c = np.zeros(len(self.index) + 1, dtype=np.int64)
            np.cumsum(self.index.size == 1, out=c[1:])
            self._tips_before = c
        v = int(v)
        return int(c[v + int(self.index.size[v])] - c[v])

    @property
    def root(self) -> Node:
        return Node(self, 0)

    @property
    def n_tips(self) -> int:
        return self.index.n_tips

    def node(self, ref: str | int | Node) -> Node:
        """A node by label (tips: ``Genus_species`` or ``Genus species``), preorder number,
        ``node:N``, node IRI, or a genus name (the MRCA of its tips)."""
        return Node(self, int(self.node_ids([ref])[0]))

    def node_ids(self, refs: Iterable[str | int | Node]) -> np.ndarray:
        """Node ids for many references; unknown ones are all named in one error."""
        refs = refs if isinstance(refs, list) else list(refs)
        found = self.index.exact_ids(refs)  # the common case: tip labels as written
        if found is not None:
            return found
        plain: list[str | int] = []
        extra: dict[int, int] = {}
        prefix = f"{BASE}tree/{self.name}/node/"
        ix = self.index
        for k, r in enumerate(refs):
            if isinstance(r, Node):
                extra[k] = r.id
            elif isinstance(r, str) and r.startswith(prefix) and r[len(prefix):].isdigit():
                extra[k] = ix.lookup(int(r[len(prefix):]))
            elif isinstance(r, str) and r.startswith(("taxon:", BASE + "taxon/")):
                plain.append(r.rsplit("/", 1)[-1].split(":", 1)[-1])
            else:
                plain.append(r)
        try:
            ids = ix.ids(plain)
        except NotFound:
            ids = self._with_genera(plain)
        out = np.empty(len(refs), dtype=np.int64)
        it = iter(ids.tolist())
        for k in range(len(refs)):
            out[k] = extra[k] if k in extra else next(it)
        return out

    def _with_genera(self, refs: Sequence[str | int]) -> np.ndarray:
        out, missing = [], []
        for r in refs:
            i = self.index.lookup(r) if isinstance(r, (int, np.integer)) else self.index.find(r)
            if i is None and isinstance(r, str) and " " not in r.strip() and "_" not in r.strip():
                g = self.index.genus_tips(r)
                if g.size:
                    i = self.index.mrca(g)
            if i is None:
                missing.append(r)
            out.append(i)
        if missing:
            self.index.ids(missing)  # raises NotFound naming them, with suggestions
        return np.asarray(out, dtype=np.int64)

    # queries -----------------------------------------------------------------------------------
    def mrca(self, refs: Iterable[str | int | Node]) -> Node:
        """The most recent common ancestor of tips, nodes or genera."""
        return Node(self, self.index.mrca(self.node_ids(refs)))

    def induced_subtree(self, refs: Iterable[str | int | Node]) -> str:
        """Newick of the subtree induced by a set (unary nodes collapsed, lengths summed)."""
        return self.index.induced_newick(self.node_ids(refs))

    def subtree(self, ref: str | int | Node | None = None, *, max_tips: int | None = None,
                height_limit: int | None = None) -> str:
        """Newick of the clade below a node (the root by default), optionally cut."""
        v = 0 if ref is None else self.node(ref).id
        return self.index.subtree_newick(v, max_tips=max_tips, height_limit=height_limit)

    def distance(self, a: str | int | Node, b: str | int | Node, *, topological: bool = False) -> float:
        """Patristic distance (branch lengths) or, with ``topological``, the number of edges."""
        ids = self.node_ids([a, b])
        if not topological and not self.index.has_lengths:
            raise ValidationError(f"tree {self.name!r} has no branch lengths; ask for a topological distance")
        return float(self.index.distance(ids[0], ids[1], topological=topological))

    def distance_matrix(self, refs: Sequence[str | int | Node], *, topological: bool = False) -> np.ndarray:
        """K x K distance matrix (rows in the order given)."""
        if not topological and not self.index.has_lengths:
            raise ValidationError(f"tree {self.name!r} has no branch lengths; ask for topological distances")
        return self.index.distance_matrix(self.node_ids(refs), topological=topological)

    def in_clade(self, refs: Iterable[str | int | Node], clade: str | int | Node) -> dict[str, bool]:
        """For each reference: is it in the clade below ``clade``?"""
        refs = list(refs)
        c = self.node(clade).id
        ids = self.node_ids(refs)
        inside = self.index.is_ancestor(np.full(len(ids), c), ids)
        return {str(r if not isinstance(r, Node) else r.name): bool(x) for r, x in zip(refs, inside)}

    def tips(self, ref: str | int | Node | None = None) -> list[str]:
        return (self.root if ref is None else self.node(ref)).tips()

    def ages(self) -> np.ndarray:
        """Ages of all nodes (ultrametric trees), indexed by node id."""
        if self._ages is None:
            self._ages = self.index.ages()
        return self._ages

    def newick(self) -> str:
        return self.index.subtree_newick(0)

    def to_ete(self) -> Any:
        """The tree as an ``ete3.Tree`` (built with a loop; names, lengths and support kept)."""
        from ete3 import Tree as EteTree

        ix = self.index
        nodes: list[Any] = []
        for i, p in enumerate(ix.parent.tolist()):
            n = EteTree() if p < 0 else nodes[p].add_child()
            n.name = ix.names[i]
            n.dist = 0.0 if np.isnan(ix.length[i]) else float(ix.length[i])
            if not np.isnan(ix.support[i]):
                n.support = float(ix.support[i])
            n.add_feature("node_id", i)
            nodes.append(n)
        return nodes[0]

    def summary(self) -> dict[str, Any]:
        out = {"name": self.name, **self.index.summary()}
        if self.record:
            out.update(graph=self.record.iri, version=self.record.version, source=self.record.source)
        return out


# --------------------------------------------------------------------------- index cache

def cache_dir(store: Store) -> Path | None:
    """Where tree indices of this store are cached (``None``: in memory only)."""
    from kg.indexcache import cache_dir as index_cache_dir

    return index_cache_dir(store, "trees")


def cache_key(rec: GraphRecord) -> str:
    return hashlib.sha256(f"{rec.iri}\n{rec.sha256}\n{FORMAT}".encode()).hexdigest()[:40]


def tree_record(store: Store, name: str | None = None) -> GraphRecord:
    """The manifest record of a tree graph (latest version of ``name``; the only tree if none)."""
    recs = list_graphs(store, kind="tree")
    if not recs:
        raise GraphNotFound("no tree is loaded; load one with `traitkg load tree PATH --name NAME`")
    if name is None:
        names = sorted({r.name for r in recs})
        if len(names) > 1:
            raise ValidationError(f"several trees are loaded ({', '.join(names)}); name one")
        return recs[-1]
    for r in recs:
        if name in (r.iri, f"tree/{r.name}/{r.version}", f"{r.name}/{r.version}"):
            return r
    named = [r for r in recs if r.name == name]
    if not named:
        raise GraphNotFound(f"no tree named {name!r}; loaded trees: {', '.join(sorted({r.name for r in recs}))}")
    return named[-1]


def open_tree(store: Store, name: str | None = None, *, parsed: Any = None) -> Tree:
    """The :class:`Tree` for a tree graph: from the disk cache, else built (from ``parsed`` when
    the caller has just parsed it, else from the store's CDAO triples) and cached."""
    from kg.indexlock import build_lock

    rec = tree_record(store, name)
    d = cache_dir(store)
    path = d / f"{cache_key(rec)}.npz" if d else None
    index = _load_index(path)
    if index is None:
        with build_lock(path, "trees") as held:  # one process builds a missing file; the others read it
            index = _load_index(path) if held else None
            if index is None:
                t0 = time.perf_counter()
                if parsed is not None:
                    index = TreeIndex.from_parsed(parsed, {"graph": rec.iri, "sha256": rec.sha256})
                else:
                    index = index_from_store(store, rec)
                if path is not None:
                    try:
                        index.save(path)
                        log.info("trees index %s: built and written in %.1f s", path, time.perf_counter() - t0)
                    except OSError as exc:
                        log.warning("cannot write tree index cache %s: %s", path, exc)
                index.meta["source"] = "built"
    return Tree(rec.name, index, rec)


def _load_index(path: Path | None) -> TreeIndex | None:
    if path is None or not path.is_file():
        return None
    try:
        index = TreeIndex.load(path)
        index.meta["source"] = "cache"
        return index
    except Exception as exc:  # a damaged cache file is rebuilt, never trusted
        log.warning("tree index cache %s unreadable (%s); rebuilding", path, exc)
        return None


def cached_tree(store: Store, cache: dict[Any, Any], name: str | None = None) -> Tree:
    """:func:`open_tree`, kept in ``cache`` (the facade's) under ``("tree", graph IRI)``: one index
    per tree version, shared by every sub-API that holds the same cache."""
    rec = tree_record(store, name)
    key = ("tree", rec.iri)
    if key not in cache:
        cache[key] = open_tree(store, rec.iri)
    return cache[key]


# The root is typed cdao:Node; other nodes only through has_Parent's domain (older graphs typed
# every node, hence the UNION's DISTINCT).
_NODES_QUERY = """
PREFIX obo: <http://purl.obolibrary.org/obo/>
PREFIX tkg: <%s>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?n ?p ?len ?label ?sup WHERE { GRAPH ?g {
  { ?n a obo:CDAO_0000140 } UNION { ?n obo:CDAO_0000179 [] }
  OPTIONAL { ?n obo:CDAO_0000179 ?p }
  OPTIONAL { ?n tkg:branchLength ?len }
  OPTIONAL { ?n rdfs:label ?label }
  OPTIONAL { ?n obo:CDAO_0000214 ?sup }
} }""" % TKG


def index_from_store(store: Store, rec: GraphRecord) -> TreeIndex:
    """Rebuild a tree index from the CDAO triples of its graph."""
    prefix = f"{BASE}tree/{rec.name}/node/"
    rows = store.select(_NODES_QUERY, {"g": NamedNode(rec.iri)}).rows
    n = len(rows)
    if n == 0:
        raise NotFound(f"graph {rec.iri} holds no CDAO nodes")
    parent = np.full(n, -1, dtype=np.int64)
    length = np.full(n, np.nan)
    support = np.full(n, np.nan)
    names = [""] * n
    cut = len(prefix)
    for s, p, ln, lab, sup in rows:
        i = int(s.value[cut:])
        if i >= n:
            raise NotFound(f"graph {rec.iri}: node numbers are not 0..{n - 1} ({s.value})")
        if p is not None:
            parent[i] = int(p.value[cut:])
        if ln is not None:
            length[i] = float(ln.value)
        if lab is not None:
            names[i] = lab.value
        if sup is not None:
            support[i] = float(sup.value)
    return TreeIndex.from_parent(parent, length, support, names, {"graph": rec.iri, "sha256": rec.sha256})
