"""Newick trees (ete's formats 0-9 and 100, quoted labels, NHX and BEAST comments) into CDAO.

The parser is a regex tokenizer and one loop over the tokens with an explicit stack: no
recursion, so a 200,000-deep caterpillar or a 50,000-child polytomy parses like any other tree.
Nodes are numbered in preorder (a parent always before its children), which is what the tree
index in :mod:`kg.trees` builds on. The grammar is in :mod:`loaders.newick_grammar`; the same
:class:`~loaders.parsed_tree.ParsedTree` comes out of the NEXUS and NeXML loaders, and
:func:`loaders.cdao.store_tree` writes any of them as CDAO into one named graph.

>>> from loaders.parsed_tree import to_newick
>>> t = parse_newick("((A:1,B:2)90:1,'C d':3);")
>>> t.names, t.n_tips, float(t.support[1])
(['', '', 'A', 'B', 'C d'], 3, 90.0)
>>> to_newick(t)
"((A:1,B:2)90:1,'C d':3);"
"""


from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kg.core.errors import ParseError, excerpt
from kg.core.graphs import slug
from kg.core.sources import Source
from kg.core.store import Store
from loaders._base import Progress, stage
from loaders.cdao import TREE_KIND, store_tree
from loaders.newick_grammar import parse_newick
from loaders.parsed_tree import ParsedTree, pick
from loaders.report import LoadReport

KIND = TREE_KIND
FORMATS = ("newick", "nhx", "nwk")
EXTENSIONS = ("nwk", "newick", "tre", "tree", "nhx", "treefile")

#: ete3 format number -> how internal labels are read ("support" or "name").
ETE_FORMATS = {0: "support", 2: "support", 1: "name", 3: "name", 7: "name", 8: "name",
               4: "name", 5: "name", 6: "name", 9: "name", 100: "name"}



def split_trees(text: str) -> Iterator[tuple[str, int]]:
    """Yield (tree text, line offset) for each ';'-terminated tree in a Newick file."""
    if "'" not in text and "[" not in text:  # no quotes or comments to skip: every ';' ends a tree
        *trees, rest = text.split(";")
        line = 0
        for t in trees:
            if t.strip(" \t\r\n"):
                yield t + ";", line
            line += t.count("\n")
        if rest.strip():
            yield rest, line
        return
    start = 0
    line = 0
    quoted = False
    bracket = 0
    for m in re.finditer(r"'|\[|\]|;", text):
        ch = m.group()
        if ch == "'" and not bracket:
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "[":
            bracket += 1
        elif ch == "]":
            bracket = max(0, bracket - 1)
        elif ch == ";" and not bracket:
            chunk = text[start:m.end()]
            if chunk.strip(" \t\r\n;"):
                yield chunk, line
            line += chunk.count("\n")
            start = m.end()
    rest = text[start:]
    if rest.strip():
        yield rest, line


def parse(path: str | Path | Source, *, internal_labels: str = "auto", ete_format: int | None = None,
          progress: Progress | None = None) -> list[ParsedTree]:
    """Every tree in a Newick file (one per ``;``), in file order; ``progress(bytes, size)`` as
    the file is read (then once more when the trees are parsed)."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    if ete_format is not None:
        if ete_format not in ETE_FORMATS:
            raise ParseError(f"unknown ete format {ete_format}; expected one of {sorted(ETE_FORMATS)}",
                             source=str(src.path))
        internal_labels = ETE_FORMATS[ete_format]
    if internal_labels not in ("auto", "support", "name"):
        raise ParseError(f"internal_labels={internal_labels!r}; expected auto, support or name", source=str(src.path))
    text = read_text(src, progress)
    chunks = list(split_trees(text))
    if len(chunks) > 1 and not chunks[-1][0].rstrip().endswith(";"):
        # one tree may omit its ';' (many tools do), but text after the last ';' is not a tree
        junk, off = chunks[-1]
        raise ParseError(f"text after the last tree's ';': {excerpt(junk.strip())}; expected a tree ending "
                         "in ';' (is the file cut short, or is something appended?)", source=str(src.path),
                         line=off + 1 + junk[: len(junk) - len(junk.lstrip())].count("\n"))
    trees = [parse_newick(chunk, source=str(src.path), internal_labels=internal_labels, line_offset=off)
             for chunk, off in chunks]
    if not trees:
        raise ParseError("empty tree: the file holds no Newick tree", source=str(src.path), line=1)
    if progress:
        progress(src.size, src.size)
    return trees


def read_text(src: Source, progress: Progress | None) -> str:
    """The file as UTF-8 text (:meth:`Source.read_text`), telling ``progress(bytes read, size)``
    as it is read (the last step, the parse, is reported by the caller)."""
    if progress is None:
        return src.read_text()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        progress(min(done[0], src.size - 1), src.size)  # the parse is still to come

    with src.open(progress=tick) as fh:
        parts = []
        while block := fh.read(1 << 22):
            parts.append(block)
    data = b"".join(parts)
    del parts
    try:
        return data.decode()
    except UnicodeDecodeError:
        return src.read_text()  # raises the error with its line




def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         tree: str | int | None = None, internal_labels: str = "auto", ete_format: int | None = None,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load one tree of a Newick file (``tree``: 1-based index or name; default the first)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    trees = parse(src, internal_labels=internal_labels, ete_format=ete_format, progress=stage(progress, "parse", "B"))
    k, chosen = pick(trees, tree, src)
    rep = LoadReport(source=src.origin, kind=KIND)
    if len(trees) > 1:
        rep.warn(f"the file holds {len(trees)} trees; loaded tree {k + 1} (choose with tree=)")
    params: dict[str, Any] = {"format": "newick", "internal_labels": internal_labels, "tree": k + 1}
    if ete_format is not None:
        params["ete_format"] = ete_format
    rep = store_tree(store, src, chosen, name=name or slug(src.stem), version=version, loader="newick",
                     parameters=params, report=rep, progress=stage(progress, "write", "node"))
    rep.parsed = chosen  # type: ignore[attr-defined]  # the facade builds the tree index from it
    return rep
