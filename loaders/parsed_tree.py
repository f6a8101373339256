"""The parsed tree that the Newick, NEXUS and NeXML loaders share: preorder arrays, checks on its
tips, choosing one tree of a file, and writing it back as Newick text (a loop and a stack, no
recursion)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from kg.core.errors import ParseError
from kg.core.graphs import slug
from kg.core.sources import Source


@dataclass
class ParsedTree:
    """A rooted tree as arrays in preorder: ``parent[i] < i`` for every non-root node.

    ``size[i]`` is the number of nodes in the subtree of ``i`` (so the subtree is the index
    range ``[i, i + size[i])``), ``depth`` counts edges from the root; ``length`` and
    ``support`` are ``nan`` where absent; ``names`` has ``""`` for unlabelled nodes.
    """

    parent: np.ndarray
    size: np.ndarray
    depth: np.ndarray
    names: list[str]
    length: np.ndarray
    support: np.ndarray
    annotations: dict[int, dict[str, str]] = field(default_factory=dict)
    name: str = ""
    rooted: bool | None = None
    warnings: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def n_nodes(self) -> int:
        return len(self.names)

    @property
    def is_tip(self) -> np.ndarray:
        return self.size == 1

    @property
    def n_tips(self) -> int:
        return int(np.count_nonzero(self.size == 1))

    def tip_names(self) -> list[str]:
        names = self.names
        return [names[i] for i in np.flatnonzero(self.size == 1)]


# --------------------------------------------------------------------------- parsing


def check_tips(tree: ParsedTree) -> None:
    """Add warnings for duplicate and empty tip labels."""
    names = tree.names
    tips = list(map(names.__getitem__, np.flatnonzero(tree.size == 1).tolist()))
    empty = tips.count("")
    dups: list[str] = []
    if tips:
        h = np.fromiter(map(hash, tips), dtype=np.int64, count=len(tips))
        hs = np.sort(h)
        shared = set(hs[1:][hs[1:] == hs[:-1]].tolist())  # hashes of more than one tip: compare labels
        if shared:
            seen: set[str] = set()
            for nm, hv in zip(tips, h.tolist()):
                if nm and hv in shared:
                    if nm in seen:
                        dups.append(nm)
                    else:
                        seen.add(nm)
    if dups:
        tree.warnings.append((f"{len(dups)} duplicate tip label(s); name lookups on them are ambiguous",
                              ", ".join(sorted(set(dups))[:20])))
    if empty:
        tree.warnings.append((f"{empty} tip(s) without a label", None))



def pick(trees: list[ParsedTree], tree: str | int | None, src: Source) -> tuple[int, ParsedTree]:
    """Choose one tree by 1-based index or name (default: the first)."""
    if tree is None:
        return 0, trees[0]
    if isinstance(tree, int) or str(tree).isdigit():
        k = int(tree)
        if not 1 <= k <= len(trees):
            raise ParseError(f"tree {k} asked for, but the file holds {len(trees)} tree(s)", source=str(src.path))
        return k - 1, trees[k - 1]
    for i, t in enumerate(trees):
        if t.name == tree or slug(t.name) == slug(str(tree)):
            return i, t
    raise ParseError(f"no tree named {tree!r}; trees in the file: {', '.join(t.name or '?' for t in trees)}",
                     source=str(src.path))



_NEEDS_QUOTES = re.compile(r"[\s()\[\]':;,]").search


def _fmt_label(name: str) -> str:
    if not name:
        return ""
    if _NEEDS_QUOTES(name):
        return "'" + name.replace("'", "''") + "'"
    return name


def write_newick(parent: np.ndarray, size: np.ndarray, names: list[str], length: np.ndarray,
                 support: np.ndarray | None = None) -> str:
    """Newick text for preorder arrays, written with a loop and a stack (no recursion)."""
    sz = np.asarray(size).tolist()
    labels = [_fmt_label(x) if x else "" for x in names]
    if support is not None:
        for i in np.flatnonzero(np.isfinite(support) & (np.asarray(size) > 1)).tolist():
            if not labels[i]:
                labels[i] = format(float(support[i]), ".12g")
    tails = [lab + (":" + format(x, ".12g") if x == x else "") for lab, x in zip(labels, np.asarray(length).tolist())]
    out: list[str] = []
    add = out.append
    stack: list[int] = []
    ends: list[int] = []
    need_comma = False
    for i in range(len(sz)):
        while ends and i >= ends[-1]:
            ends.pop()
            add(")" + tails[stack.pop()])
            need_comma = True
        if need_comma:
            add(",")
        if sz[i] > 1:
            add("(")
            stack.append(i)
            ends.append(i + sz[i])
            need_comma = False
        else:
            add(tails[i])
            need_comma = True
    while stack:
        add(")" + tails[stack.pop()])
    add(";")
    return "".join(out)


def to_newick(tree: ParsedTree) -> str:
    """The tree as Newick text (support values where an internal node has no name)."""
    return write_newick(tree.parent, tree.size, tree.names, tree.length, tree.support)


