"""NeXML trees (``<trees>``/``<tree>`` with ``<node>`` and ``<edge>``), tip labels from the OTUs.

Edges may come in any order; the tree is rebuilt in preorder with an explicit stack. A node
that two edges point at, a cycle, or an edge to an unknown node is an error naming the ids.

>>> from pathlib import Path
>>> t = parse(Path(__file__).parent.parent / "tests" / "data" / "trees" / "toy.xml")[0]
>>> t.name, t.tip_names(), t.names[0]
('toy tree', ['Danio rerio', 'Danio kyathit', 'Corydoras aeneus', 'Astyanax mexicanus'], 'Otophysi')
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kg.core.errors import ParseError
from kg.core.graphs import slug
from kg.core.sources import Source
from kg.core.store import Store
from loaders._base import Progress, stage
from loaders.cdao import store_tree
from loaders.parsed_tree import ParsedTree, check_tips, pick
from loaders.report import LoadReport

KIND = "tree"
FORMATS = ("nexml-tree",)
EXTENSIONS = ("nexml",)

NEX = "{http://www.nexml.org/2009}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(path: str | Path | Source) -> list[ParsedTree]:
    """Every ``<tree>`` of a NeXML document."""
    from lxml import etree

    src = path if isinstance(path, Source) else Source.resolve(path)
    where = str(src.path)
    try:
        with src.open() as fh:
            root = etree.parse(fh).getroot()
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML: {exc.msg}", source=where, line=exc.lineno) from exc
    otus: dict[str, str] = {}
    for el in root.iter(f"{NEX}otu", "otu"):
        otus[el.get("id", "")] = el.get("label") or el.get("id", "")
    trees = []
    for tr in root.iter(f"{NEX}tree", "tree"):
        trees.append(_tree(tr, otus, where))
    if not trees:
        raise ParseError("empty tree: the NeXML document has no <tree>", source=where)
    return trees


def _tree(tr: Any, otus: dict[str, str], where: str) -> ParsedTree:
    tname = tr.get("label") or tr.get("id", "")
    ids: list[str] = []
    label: dict[str, str] = {}
    roots: list[str] = []
    lines: dict[str, int] = {}
    kids: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    blen: dict[str, float] = {}
    for el in tr:
        tag = _local(el.tag) if isinstance(el.tag, str) else ""
        if tag == "node":
            nid = el.get("id")
            ids.append(nid)
            lines[nid] = el.sourceline
            otu = el.get("otu")
            if otu is not None and otu not in otus:
                raise ParseError(f"tree {tname!r}: node {nid} refers to unknown otu {otu!r}", source=where,
                                 line=el.sourceline, value=otu)
            label[nid] = el.get("label") or (otus[otu] if otu else "")
            if el.get("root") == "true":
                roots.append(nid)
        elif tag in ("edge", "rootedge"):
            src_id, tgt = el.get("source"), el.get("target")
            raw = el.get("length")
            if raw is not None:
                try:
                    val = float(raw)
                except ValueError:
                    raise ParseError(f"edge {el.get('id')}: length {raw!r} is not a number", source=where,
                                     line=el.sourceline, value=raw) from None
                if not math.isfinite(val) or val < 0:
                    raise ParseError(f"edge {el.get('id')}: length {raw!r} must be a finite number >= 0",
                                     source=where, line=el.sourceline, value=raw)
                blen[tgt] = val
            if tag == "rootedge":
                continue
            if tgt in parent_of:
                raise ParseError(f"tree {tname!r}: node {tgt} has two parents ({parent_of[tgt]}, {src_id})",
                                 source=where, line=el.sourceline, value=tgt)
            parent_of[tgt] = src_id
            kids.setdefault(src_id, []).append(tgt)
    known = set(ids)
    for t, s in parent_of.items():
        if t not in known or s not in known:
            raise ParseError(f"tree {tname!r}: edge {s} -> {t} names a node that is not in the tree",
                             source=where, value=t if t not in known else s)
    if not ids:
        raise ParseError(f"empty tree: tree {tname!r} has no nodes", source=where)
    if not roots:
        roots = [n for n in ids if n not in parent_of]
    if len(roots) != 1:
        raise ParseError(f"tree {tname!r} must have one root; found {roots[:5]}", source=where)
    order: list[str] = []
    par: list[int] = []
    dep: list[int] = []
    stack = [(roots[0], -1, 0)]
    while stack:
        nid, p, d = stack.pop()
        order.append(nid)
        par.append(p)
        dep.append(d)
        me = len(order) - 1
        for c in reversed(kids.get(nid, [])):
            stack.append((c, me, d + 1))
    if len(order) != len(ids):
        missing = [n for n in ids if n not in set(order)]
        raise ParseError(f"tree {tname!r}: nodes not connected to the root (or in a cycle): {missing[:5]}",
                         source=where, line=lines.get(missing[0]), value=missing[0])
    n = len(order)
    p_arr = np.asarray(par, dtype=np.int32)
    size = np.ones(n, dtype=np.int64)
    for i in range(n - 1, 0, -1):
        size[p_arr[i]] += size[i]
    tree = ParsedTree(p_arr, size.astype(np.int32), np.asarray(dep, dtype=np.int32),
                      [label[x] for x in order], np.asarray([blen.get(x, np.nan) for x in order]),
                      np.full(n, np.nan), name=tname, rooted=True)
    check_tips(tree)
    return tree


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         tree: str | int | None = None, progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load one tree of a NeXML file (default the first) into its own graph (kind ``tree``)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    trees = parse(src)
    k, chosen = pick(trees, tree, src)
    rep = LoadReport(source=src.origin, kind=KIND)
    if len(trees) > 1:
        rep.warn(f"the document holds {len(trees)} trees; loaded {chosen.name!r} (choose with tree=)")
    rep = store_tree(store, src, chosen, name=name or slug(src.stem), version=version, loader="nexml_tree",
                     parameters={"format": "nexml", "tree": k + 1}, report=rep, progress=stage(progress, "write", "node"))
    rep.parsed = chosen  # type: ignore[attr-defined]
    return rep
