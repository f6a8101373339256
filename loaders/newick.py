"""Newick trees (ete's formats 0-9 and 100, quoted labels, NHX and BEAST comments) into CDAO.

The parser is a regex tokenizer and one loop over the tokens with an explicit stack: no
recursion, so a 200,000-deep caterpillar or a 50,000-child polytomy parses like any other tree.
Nodes are numbered in preorder (a parent always before its children), which is what the tree
index in :mod:`kg.trees` builds on. The same :class:`ParsedTree` comes out of the NEXUS and
NeXML loaders, and :func:`store_tree` writes any of them as CDAO into one named graph.

>>> t = parse_newick("((A:1,B:2)90:1,'C d':3);")
>>> t.names, t.n_tips, float(t.support[1])
(['', '', 'A', 'B', 'C d'], 3, 90.0)
>>> to_newick(t)
"((A:1,B:2)90:1,'C d':3);"
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kg.core.errors import ParseError
from kg.core.graphs import BASE, TKG, slug
from kg.core.names import taxon_iris
from kg.core.sources import Source
from kg.core.store import Store
from loaders._base import Progress, ingest
from loaders.report import LoadReport

KIND = "tree"
FORMATS = ("newick", "nhx", "nwk")
EXTENSIONS = ("nwk", "newick", "tre", "tree", "nhx", "treefile")

CDAO = "http://purl.obolibrary.org/obo/CDAO_"
CDAO_NODE, CDAO_TREE, CDAO_HAS_PARENT = CDAO + "0000140", CDAO + "0000110", CDAO + "0000179"
CDAO_REPRESENTS_TU, CDAO_HAS_SUPPORT, CDAO_HAS_ROOT = CDAO + "0000187", CDAO + "0000214", CDAO + "0000148"
TKG_BRANCH_LENGTH = TKG + "branchLength"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
_XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"

#: ete3 format number -> how internal labels are read ("support" or "name").
ETE_FORMATS = {0: "support", 2: "support", 1: "name", 3: "name", 7: "name", 8: "name",
               4: "name", 5: "name", 6: "name", 9: "name", 100: "name"}

_TOKEN = re.compile(r"\[[^\]]*\]|'(?:[^']|'')*'|\"[^\"]*\"|:[^()\[\],;:'\"]*|[(),;]|[^()\[\],;:'\"\s]+|\S")
_NUMERIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


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

def _where(text: str, token_index: int, line_offset: int) -> tuple[int, int, int]:
    """(offset, line, column) of the token_index-th token (error path only)."""
    for k, m in enumerate(_TOKEN.finditer(text)):
        if k == token_index:
            off = m.start()
            break
    else:
        off = len(text)
    line = text.count("\n", 0, off) + 1
    col = off - (text.rfind("\n", 0, off) + 1) + 1
    return off, line + line_offset, col


def _unquote(tok: str) -> str:
    if tok[0] == "'":
        return tok[1:-1].replace("''", "'")
    if tok[0] == '"':
        return tok[1:-1]
    return tok


def _comment(tok: str) -> dict[str, str] | None:
    """Key/value pairs of an NHX (``[&&NHX:k=v:...]``) or BEAST (``[&k=v,...]``) comment."""
    body = tok[1:-1]
    if body.startswith("&&NHX"):
        parts = body[5:].split(":")
    elif body.startswith("&") and "=" in body:
        parts, depth, cur = [], 0, []
        for ch in body[1:]:
            if ch == "," and depth == 0:
                parts.append("".join(cur))
                cur = []
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur.append(ch)
        parts.append("".join(cur))
    else:
        return None  # a plain comment (Mesquite's [% ...], [&R], remarks): dropped
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in parts) if k.strip()}


_SEPARATORS = str.maketrans("(),:", "\0\0\0\0")  # then one str.split: faster than a regex split


def _parse_plain(text: str, internal_labels: str, name: str) -> ParsedTree | None:
    """The common dialect (no quotes, comments or blanks inside the tree) with numpy over the
    bytes: structure from the positions of ``(``, ``)`` and ``,``, labels and lengths from one
    split. Returns ``None`` for anything else, and for any error, which the token parser then
    reports with its position; otherwise the same :class:`ParsedTree` as the token parser."""
    body = text.strip()
    if body.endswith(";"):
        body = body[:-1]
    if (not body or ";" in body or "'" in body or '"' in body or "[" in body or "]" in body or "\0" in body
            or len(body.split(None, 1)) != 1):
        return None
    b = np.frombuffer(body.encode(), dtype=np.uint8)
    is_colon = b == 58
    is_struct = (b == 40) | (b == 41) | (b == 44)
    sep = np.flatnonzero(is_struct | is_colon)
    sep_ch = b[sep]
    ks = np.flatnonzero(~is_colon[sep])  # separator index of each structural character
    del b, is_colon, is_struct, sep
    if ks.size == 0:
        return None
    ch = sep_ch[ks]
    opening, closing = ch == 40, ch == 41
    bal = np.cumsum(opening.astype(np.int64) - closing)  # open parentheses after each character
    if ch[0] != 40 or bal[-1] != 0 or (bal[:-1] <= 0).any():
        return None
    pieces = body.translate(_SEPARATORS).split("\0")  # piece j follows separator j - 1
    if pieces[0]:
        return None
    # the label of structural character k is the piece after it; a colon right after that piece
    # gives the length; a second colon is an error
    n_sep = len(sep_ch)
    nxt = ks + 1
    has_len = np.zeros(len(ks), dtype=bool)
    inside = nxt < n_sep
    has_len[inside] = sep_ch[nxt[inside]] == 58
    two = has_len & (nxt + 1 < n_sep)
    if two.any() and (sep_ch[nxt[two] + 1] == 58).any():
        return None
    label_piece = ks + 1
    len_piece = ks + 2
    # nodes: each '(' opens one; a piece between '(' or ',' and ',' or ')' is a tip
    after_open_or_comma = opening | (ch == 44)
    before_comma_or_close = np.zeros(len(ch), dtype=bool)
    before_comma_or_close[:-1] = ch[1:] != 40
    tip = after_open_or_comma & before_comma_or_close
    # a label or length right before '(' (or a ')' followed by '(') is an error
    bad = np.zeros(len(ch), dtype=bool)
    bad[:-1] = ch[1:] == 40
    bad &= ~after_open_or_comma | has_len
    if bad.any():
        return None
    if any(pieces[j] for j in label_piece[np.flatnonzero(after_open_or_comma & ~tip)].tolist()):
        return None
    cnt = opening.astype(np.int64) + tip
    first = np.cumsum(cnt) - cnt  # id of the first node made at each structural character
    n = int(cnt.sum())
    k_open = np.flatnonzero(opening)
    k_close = np.flatnonzero(closing)
    k_tip = np.flatnonzero(tip)
    id_open = first[k_open]
    id_tip = first[k_tip] + opening[k_tip]
    depth = np.empty(n, dtype=np.int64)
    depth[id_open] = bal[k_open] - 1
    depth[id_tip] = bal[k_tip]
    # each '(' pairs with the next ')' that brings the count back to its level
    oo = np.lexsort((k_open, bal[k_open] - 1))
    cc = np.lexsort((k_close, bal[k_close]))
    match = np.empty(len(k_open), dtype=np.int64)
    match[oo] = k_close[cc]
    size = np.ones(n, dtype=np.int64)
    size[id_open] = first[match] - id_open
    # parent: the last internal node before a node, one level up
    key = depth[id_open] * (n + 1) + id_open
    ko = np.argsort(key, kind="stable")
    keys = key[ko]
    parent = np.full(n, -1, dtype=np.int64)
    rest = np.arange(1, n)
    parent[1:] = id_open[ko[np.searchsorted(keys, (depth[1:] - 1) * (n + 1) + rest) - 1]]
    # labels and lengths
    seg = np.empty(n, dtype=np.int64)  # the structural character whose piece names the node
    seg[id_tip] = k_tip
    seg[id_open] = match
    names = list(map(pieces.__getitem__, label_piece[seg].tolist()))
    length = np.full(n, np.nan)
    w = np.flatnonzero(has_len[seg])
    if w.size:
        try:
            vals = np.fromiter(map(float, map(pieces.__getitem__, len_piece[seg[w]].tolist())),
                               dtype=np.float64, count=len(w))
        except ValueError:
            return None
        if not (np.isfinite(vals) & (vals >= 0)).all():
            return None
        length[w] = vals
    support = np.full(n, np.nan)
    warnings: list[tuple[str, str | None]] = []
    by_close = id_open[np.argsort(match)]  # internal labels in the order the token parser meets them
    internal = [(i, names[i]) for i in by_close[np.fromiter(map(bool, map(names.__getitem__, by_close.tolist())),
                                                            dtype=bool, count=len(by_close))].tolist()]
    mode = internal_labels
    if mode == "auto":
        mode = "support" if internal and all(_NUMERIC.match(v) for _, v in internal) else "name"
    if mode == "support":
        for i, label in internal:
            if _NUMERIC.match(label):
                support[i] = float(label)
                names[i] = ""
            else:
                warnings.append(("internal label is not a support value; kept as the node's name", label))
    tree = ParsedTree(parent.astype(np.int32), size.astype(np.int32), depth.astype(np.int32), names, length,
                      support, {}, name, None, warnings)
    check_tips(tree)
    return tree


def parse_newick(text: str, *, source: str | None = None, internal_labels: str = "auto",
                 line_offset: int = 0, name: str = "") -> ParsedTree:
    """Parse one Newick tree. ``internal_labels``: ``auto`` (all numeric -> support values,
    else names), ``support`` or ``name``. Raises :class:`ParseError` with line and column.

    >>> parse_newick("(A,B").names
    Traceback (most recent call last):
    ...
    kg.core.errors.ParseError: :1:1: unbalanced parentheses: '(' at offset 0 is never closed (expected ')' before the end)
    """
    tree = _parse_plain(text, internal_labels, name)
    if tree is None:
        tree = _parse_tokens(text, source=source, internal_labels=internal_labels, line_offset=line_offset,
                             name=name)
    return tree


def _parse_tokens(text: str, *, source: str | None, internal_labels: str, line_offset: int,
                  name: str) -> ParsedTree:
    """Any dialect, one token at a time (the errors say where)."""
    toks = _TOKEN.findall(text)
    parent: list[int] = []
    size: list[int] = []
    depth: list[int] = []
    names: list[str] = []
    length: list[float] = []
    internal: dict[int, str] = {}
    ann: dict[int, dict[str, str]] = {}
    stack: list[int] = []
    opened: list[int] = []  # token index of each open '('
    nan = math.nan
    state = 0  # 0 expect a node, 1 after ')', 2 after a label, 3 after a length
    cur = -1
    rooted: bool | None = None
    ended = False

    def fail(msg: str, k: int, value: str | None = None) -> ParseError:
        off, line, col = _where(text, k, line_offset)
        return ParseError(msg.replace("{off}", str(off)), source=source, line=line, column=col, value=value)

    def new_node(k: int) -> int:
        if not stack and parent:
            raise fail("text after the end of the tree (a second root?); expected ';'", k, toks[k])
        node = len(names)
        parent.append(stack[-1] if stack else -1)
        size.append(1)
        depth.append(len(stack))
        names.append("")
        length.append(nan)
        return node

    for k, t in enumerate(toks):
        c = t[0]
        if c == "(":
            if state != 0:
                raise fail("unexpected '(' after a node at offset {off}; expected ',' or ')'", k, t)
            node = new_node(k)
            stack.append(node)
            opened.append(k)
        elif c == "," or c == ")":
            if state == 0:
                if not stack:
                    raise fail(f"unexpected {t!r} at offset {{off}} outside any parentheses", k, t)
                new_node(k)  # an empty leaf, e.g. "(,)"
            if not stack:
                raise fail(f"unbalanced parentheses: {t!r} at offset {{off}} has no matching '('", k, t)
            if c == ")":
                cur = stack.pop()
                opened.pop()
                size[cur] = len(names) - cur
                state = 1
            else:
                state = 0
        elif c == ":":
            if state == 0:
                if not stack and parent:
                    raise fail("text after the end of the tree; expected ';'", k, t)
                cur = new_node(k)
            elif state == 3:
                raise fail("two branch lengths for one node at offset {off}", k, t)
            raw = t[1:].strip()
            try:
                val = float(raw)
            except ValueError:
                raise fail(f"branch length {raw!r} is not a number", k, raw) from None
            if not math.isfinite(val) or val < 0:
                raise fail(f"branch length {raw!r} must be a finite number >= 0", k, raw)
            length[cur] = val
            state = 3
        elif c == ";":
            if stack:
                off, line, col = _where(text, opened[-1], line_offset)
                raise ParseError(f"unbalanced parentheses: '(' at offset {off} is never closed (expected ')' "
                                 "before ';')", source=source, line=line, column=col)
            if not names:
                raise fail("empty tree: ';' without any node", k, t)
            ended = True
            break
        elif c == "[":
            if t in ("[&R]", "[&r]"):
                rooted = True
            elif t in ("[&U]", "[&u]"):
                rooted = False
            elif state != 0 and cur >= 0:
                kv = _comment(t)
                if kv:
                    ann.setdefault(cur, {}).update(kv)
        elif c not in "()[],;:]":
            if c in "'\"" and len(t) < 2 or (c == "'" and not t.endswith("'")):
                raise fail("unterminated quoted label", k, t)
            label = _unquote(t)
            if state == 0:
                if not stack and parent:
                    raise fail("text after the end of the tree; expected ';'", k, t)
                cur = new_node(k)
                names[cur] = label
                state = 2
            elif state == 1:
                internal[cur] = label
                state = 2
            elif state == 2 and c not in "'\"":  # unquoted label with blanks: "Danio rerio"
                if cur in internal:
                    internal[cur] += " " + label
                else:
                    names[cur] += " " + label
            else:
                raise fail(f"unexpected label {label!r} after a branch length", k, t)
        else:
            raise fail(f"unexpected character {t!r}", k, t)
    if not ended:
        if stack:
            off, line, col = _where(text, opened[-1], line_offset)
            raise ParseError(f"unbalanced parentheses: '(' at offset {off} is never closed (expected ')' "
                             "before the end)", source=source, line=line, column=col)
        if not names:
            raise ParseError("empty tree: no nodes", source=source, line=1 + line_offset)
        # a tree without the final ';' is accepted (many tools omit it)
    n = len(names)
    support = np.full(n, np.nan)
    warnings: list[tuple[str, str | None]] = []
    mode = internal_labels
    if mode == "auto":
        mode = "support" if internal and all(_NUMERIC.match(v) for v in internal.values()) else "name"
    for node, label in internal.items():
        if mode == "support" and _NUMERIC.match(label):
            support[node] = float(label)
        else:
            if mode == "support":
                warnings.append(("internal label is not a support value; kept as the node's name", label))
            names[node] = label
    for node, kv in ann.items():
        if "B" in kv and math.isnan(support[node]):
            try:
                support[node] = float(kv["B"])
            except ValueError:
                warnings.append((f"NHX B= on node {node} is not a number", kv["B"]))
    tree = ParsedTree(np.asarray(parent, dtype=np.int32), np.asarray(size, dtype=np.int32),
                      np.asarray(depth, dtype=np.int32), names, np.asarray(length, dtype=np.float64),
                      support, ann, name, rooted, warnings)
    check_tips(tree)
    return tree


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


def parse(path: str | Path | Source, *, internal_labels: str = "auto", ete_format: int | None = None) -> list[ParsedTree]:
    """Every tree in a Newick file (one per ``;``), in file order."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    if ete_format is not None:
        if ete_format not in ETE_FORMATS:
            raise ParseError(f"unknown ete format {ete_format}; expected one of {sorted(ETE_FORMATS)}",
                             source=str(src.path))
        internal_labels = ETE_FORMATS[ete_format]
    if internal_labels not in ("auto", "support", "name"):
        raise ParseError(f"internal_labels={internal_labels!r}; expected auto, support or name", source=str(src.path))
    text = src.read_text()
    trees = [parse_newick(chunk, source=str(src.path), internal_labels=internal_labels, line_offset=off)
             for chunk, off in split_trees(text)]
    if not trees:
        raise ParseError("empty tree: the file holds no Newick tree", source=str(src.path), line=1)
    return trees


# --------------------------------------------------------------------------- writing

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


# --------------------------------------------------------------------------- CDAO output

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


def write_tree(store: Store, graph: str, tree: ParsedTree, name: str, *, chunk_nodes: int = CHUNK_NODES) -> int:
    """Write the tree's CDAO triples into ``graph`` through the store's bulk path, one chunk of
    ``chunk_nodes`` nodes per load, as many loads at once as the store runs well
    (:func:`kg.core.bulk.load_chunks`), the next chunk built meanwhile. Returns how many triples were
    written (one per line: each triple is distinct, literals escape newlines)."""
    from kg.core.bulk import load_chunks

    return load_chunks(store, ((data, data.count(b"\n")) for data in cdao_ntriples(tree, name, chunk_nodes)), graph)


def store_tree(store: Store, src: Source, tree: ParsedTree, *, name: str, version: str | None,
               loader: str, parameters: dict[str, Any], report: LoadReport | None = None) -> LoadReport:
    """Write one parsed tree into its own graph (kind ``tree``) atomically, with its report."""
    rep = report or LoadReport(source=src.origin, kind=KIND)
    for msg, val in tree.warnings:
        rep.warn(msg, value=val)
    rep.counts.update({"nodes": tree.n_nodes, "tips": tree.n_tips})
    return ingest(store, src, kind=KIND, name=name, version=version, loader=loader,
                  writer=lambda g: write_tree(store, g, tree, name), parameters=parameters, report=rep,
                  counted=True)


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


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         tree: str | int | None = None, internal_labels: str = "auto", ete_format: int | None = None,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load one tree of a Newick file (``tree``: 1-based index or name; default the first)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    trees = parse(src, internal_labels=internal_labels, ete_format=ete_format)
    k, chosen = pick(trees, tree, src)
    rep = LoadReport(source=src.origin, kind=KIND)
    if len(trees) > 1:
        rep.warn(f"the file holds {len(trees)} trees; loaded tree {k + 1} (choose with tree=)")
    params: dict[str, Any] = {"format": "newick", "internal_labels": internal_labels, "tree": k + 1}
    if ete_format is not None:
        params["ete_format"] = ete_format
    rep = store_tree(store, src, chosen, name=name or slug(src.stem), version=version, loader="newick",
                     parameters=params, report=rep)
    rep.parsed = chosen  # type: ignore[attr-defined]  # the facade builds the tree index from it
    return rep
