"""The Newick grammar: a regex tokenizer and one loop over the tokens with an explicit stack (no
recursion), and a faster path for trees without quotes or comments. Nodes come out in preorder."""

from __future__ import annotations

import math
import re

import numpy as np

from kg.core.errors import ParseError
from loaders.parsed_tree import ParsedTree, check_tips

_TOKEN = re.compile(r"\[[^\]]*\]|'(?:[^']|'')*'|\"[^\"]*\"|:[^()\[\],;:'\"]*|[(),;]|[^()\[\],;:'\"\s]+|\S")
_NUMERIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


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


def parse_plain(text: str, internal_labels: str, name: str) -> ParsedTree | None:
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
    tree = parse_plain(text, internal_labels, name)
    if tree is None:
        tree = parse_tokens(text, source=source, internal_labels=internal_labels, line_offset=line_offset,
                             name=name)
    return tree


def parse_tokens(text: str, *, source: str | None, internal_labels: str, line_offset: int,
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


