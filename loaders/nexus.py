"""NEXUS trees: TAXA and TREES blocks (TRANSLATE, several trees, Mesquite comments and clade
labels); every other block (CHARACTERS, NOTES, MESQUITE, ...) is skipped unread, so a matrix
that other readers reject does not stop the trees from loading.

The default tree is the first one that is not one of Mesquite's placeholder trees (``Default
symmetrical``, ``Default bush``, ``Default ladder``); ``tree=`` picks another by 1-based index
or name.

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.nex"
>>> _ = p.write_text("#NEXUS\\nBEGIN TAXA; TAXLABELS A B C; END;\\nBEGIN TREES; TRANSLATE 1 A, 2 B, 3 C;\\n"
...                  "TREE one = [&R] ((1,2)AB,3);\\nEND;\\n")
>>> t = parse(p)[0]
>>> t.name, t.tip_names(), t.names[1]
('one', ['A', 'B', 'C'], 'AB')
>>> tmp.cleanup()
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kg.core.errors import ParseError, excerpt
from kg.core.graphs import slug
from kg.core.sources import Source
from kg.core.store import Store
from loaders._base import Progress, stage
from loaders.cdao import store_tree
from loaders.newick_grammar import parse_newick
from loaders.parsed_tree import ParsedTree, check_tips, pick
from loaders.report import LoadReport

KIND = "tree"
FORMATS = ("nexus",)
EXTENSIONS = ("nex", "nexus", "nxs")

_STMT = re.compile(r"'(?:[^']|'')*'|\[|\]|;|[^'\[\];]+")
_WORD = re.compile(r"'(?:[^']|'')*'|[^\s,=]+|,|=")
_COMMENT = re.compile(r"\[[^\[\]]*\]")
_PLACEHOLDER = re.compile(r"^Default (symmetrical|bush|ladder)", re.IGNORECASE)


def _statements(text: str) -> list[tuple[str, int, int]]:
    """Split into (statement text, start offset, line) at ';' outside quotes and comments."""
    out = []
    depth, start, line, last = 0, 0, 1, 0
    for m in _STMT.finditer(text):
        tok = m.group()
        if tok == "[":
            depth += 1
        elif tok == "]":
            depth = max(0, depth - 1)
        elif tok == ";" and depth == 0:
            line += text.count("\n", last, start)
            last = start
            stmt = text[start:m.start()]
            lead = len(stmt) - len(stmt.lstrip())
            out.append((stmt, start + lead, line + stmt.count("\n", 0, lead)))
            start = m.end()
    return out


def _strip_comments(text: str) -> str:
    prev = None
    while prev != text:
        prev, text = text, _COMMENT.sub(" ", text)
    return text


def _unquote(w: str) -> str:
    return w[1:-1].replace("''", "'") if len(w) >= 2 and w[0] == "'" and w[-1] == "'" else w


def _words(text: str) -> list[str]:
    return _WORD.findall(_strip_comments(text))


def parse(path: str | Path | Source, *, internal_labels: str = "auto") -> list[ParsedTree]:
    """Every tree in the TREES block(s), tip labels translated to taxon labels."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    where = str(src.path)
    text = src.read_text()
    if not text.lstrip().upper().startswith("#NEXUS"):
        raise ParseError("not a NEXUS file: it must start with #NEXUS", source=where, line=1,
                         value=text.lstrip()[:20])
    block = None
    taxlabels: list[str] = []
    translate: dict[str, str] = {}
    trees: list[ParsedTree] = []
    for stmt, off, line in _statements(text):
        body = _strip_comments(stmt).strip()
        if not body:
            continue
        head = body.split(None, 1)[0].upper()
        if head.startswith("#NEXUS"):
            body = body[6:].strip()
            if not body:
                continue
            head = body.split(None, 1)[0].upper()
        if head == "BEGIN":
            block = body.split(None, 1)[1].strip().upper() if len(body.split()) > 1 else ""
            continue
        if head in ("END", "ENDBLOCK"):
            block = None
            continue
        if block is None:  # NEXUS holds only blocks: this is junk or a cut/merged file
            raise ParseError(f"{excerpt(body)} outside a BEGIN ... END; block; expected BEGIN", source=where,
                             line=line, value=body)
        if block == "TAXA" and head == "TAXLABELS":
            taxlabels += [_unquote(w) for w in _words(body)[1:]]
        elif block == "TREES" and head == "TRANSLATE":
            translate.update(_translate(body, where, line, set(taxlabels)))
        elif block == "TREES" and head in ("TREE", "UTREE"):
            trees.append(_tree(stmt, off, text, where, translate, taxlabels, internal_labels))
    if not trees:
        raise ParseError("empty tree: no TREE statement in a TREES block", source=where)
    return trees


def _translate(body: str, where: str, line: int, taxa: set[str]) -> dict[str, str]:
    words = _words(body)[1:]
    out: dict[str, str] = {}
    entry: list[str] = []
    for w in words + [","]:
        if w != ",":
            entry.append(_unquote(w))
            continue
        if not entry:
            continue
        if len(entry) != 2:
            raise ParseError(f"TRANSLATE entry {' '.join(entry)!r} must be 'key label'", source=where, line=line,
                             value=" ".join(entry))
        key, label = entry
        if taxa and label not in taxa:
            raise ParseError(f"TRANSLATE entry {key} -> {label!r} points to no taxon of the TAXA block",
                             source=where, line=line, value=label)
        out[key] = label
        entry = []
    return out


def _tree(stmt: str, off: int, text: str, where: str, translate: dict[str, str], taxlabels: list[str],
          internal_labels: str) -> ParsedTree:
    m = re.match(r"\s*u?tree\s+(\*\s*)?('(?:[^']|'')*'|[^\s=]+)\s*=", stmt, re.IGNORECASE)
    line = text.count("\n", 0, off) + 1
    if not m:
        raise ParseError("TREE statement without 'name ='", source=where, line=line, value=stmt[:60])
    name = _unquote(m.group(2))
    newick = stmt[m.end():]
    line0 = text.count("\n", 0, off + m.end())
    tree = parse_newick(newick + ";", source=where, internal_labels=internal_labels, line_offset=line0, name=name)
    numbered = {str(i + 1): t for i, t in enumerate(taxlabels)} if not translate else {}
    known = set(taxlabels)
    for i in (tree.size == 1).nonzero()[0].tolist():
        raw = tree.names[i]
        if not raw:
            continue
        if raw in translate:
            tree.names[i] = translate[raw]
        elif raw in numbered:
            tree.names[i] = numbered[raw]
        elif translate and raw not in known:
            raise ParseError(f"tree {name!r}: tip {raw!r} is neither a TRANSLATE key nor a taxon label",
                             source=where, line=line, value=raw)
    tree.warnings = [w for w in tree.warnings if "duplicate" not in w[0]]
    check_tips(tree)
    return tree


def default_tree(trees: list[ParsedTree]) -> int:
    """1-based index of the first tree that is not a Mesquite placeholder."""
    for i, t in enumerate(trees):
        if not _PLACEHOLDER.match(t.name):
            return i + 1
    return 1


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         tree: str | int | None = None, internal_labels: str = "auto", progress: Progress | None = None,
         **_: Any) -> LoadReport:
    """Load one tree of a NEXUS file into its own graph (kind ``tree``)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    trees = parse(src, internal_labels=internal_labels)
    k, chosen = pick(trees, default_tree(trees) if tree is None else tree, src)
    rep = LoadReport(source=src.origin, kind=KIND)
    if len(trees) > 1:
        rep.warn(f"the file holds {len(trees)} trees ({', '.join(t.name for t in trees)}); loaded {chosen.name!r} "
                 "(choose with tree=)")
    rep = store_tree(store, src, chosen, name=name or slug(src.stem), version=version, loader="nexus",
                     parameters={"format": "nexus", "tree": k + 1, "internal_labels": internal_labels}, report=rep, progress=stage(progress, "write", "node"))
    rep.parsed = chosen  # type: ignore[attr-defined]
    return rep
