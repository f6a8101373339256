"""Dichotomous keys generated from a taxa x characters matrix, splitting by information gain.

At each couplet the taxa still possible are split in two by one character: the states of the
character are divided into two groups (every division for up to 6 states, one state against the
rest beyond), a taxon going to the side(s) its states fall on. A taxon with an unknown cell, or
with states on both sides (polymorphic), goes to both sides, so it keys out wherever it could be.
The split with the largest information gain (uniform prior over the taxa) that leaves fewer taxa
on each side is chosen; when no split makes progress the taxa left cannot be told apart by the
matrix and are keyed out together (``groups``). Taxa with no coded state for any character that
varies are left out and listed (``uncoded``): the matrix cannot place them anywhere. Iterative.

>>> m = Matrix(["A", "B", "C"], ["fin"], {"A": {"fin": {"present"}}, "B": {"fin": {"absent"}},
...                                      "C": {"fin": {"absent"}}})
>>> g = generate(m)
>>> g.stats()["depth"], g.groups
(1, [['B', 'C']])
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from loaders.keymodel import Key

MAX_PARTITION_STATES = 6


@dataclass
class Matrix:
    """Taxa, characters (labels) and cells: taxon -> character -> states (labels); missing = unknown."""

    taxa: list[str]
    characters: list[str]
    cells: dict[str, dict[str, set[str]]]
    title: str = ""


def from_phenex(m: Any) -> Matrix:
    """A Phenex matrix (:func:`loaders.phenex.parse`) as a :class:`Matrix`: OTU labels (made
    unique), character labels (numbered), state labels."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for o in m.otus:
        name = " ".join((o.label or o.id).split()).replace(":", " ")
        seen[name] = seen.get(name, 0) + 1
        labels[o.id] = name if seen[name] == 1 else f"{name} ({o.id})"
    chars = {c.id: f"{c.number}. {c.label or 'character ' + str(c.number)}" for c in m.characters}
    states = {c.id: {s.id: (s.label or s.symbol or s.id) for s in c.states} for c in m.characters}
    cells: dict[str, dict[str, set[str]]] = {labels[o.id]: {} for o in m.otus}
    for cell in m.cells:
        if cell.otu in labels and cell.character in chars:
            cells[labels[cell.otu]].setdefault(chars[cell.character], set()).update(
                states[cell.character].get(s, s) for s in cell.states)
    return Matrix(list(cells), list(chars.values()), cells, getattr(m, "title", "") or "")


def read_matrix(path: str | Path) -> Matrix:
    """A Phenex NeXML or SDD file as a :class:`Matrix` (by the XML root element)."""
    from kg.core.sources import Source

    src = Source.resolve(path)
    with src.open() as fh:
        head = fh.read(4096)
    if b"rs.tdwg.org/UBIF" in head:
        from loaders import sdd

        ds = sdd.parse(src)
        taxa, labels, cells = ds.matrix()
        return Matrix(taxa, list(labels.values()), cells, ds.title)
    from loaders import phenex

    return from_phenex(phenex.parse(src))


@dataclass
class GeneratedKey:
    """The key, the groups of taxa it cannot separate, and per-taxon path lengths."""

    key: Key
    groups: list[list[str]] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)  # depth of every leaf (item lead)
    taxa: int = 0
    #: taxa with no coded state for any character that varies: not keyed out (the matrix says nothing)
    uncoded: list[str] = field(default_factory=list)
    #: couplet -> (character, states of its first lead, states of its second lead)
    splits: dict[str, tuple[str, list[str], list[str]]] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        """Depth (most couplets on a path), mean path length (couplets per leaf), leaves, groups, and
        how many taxa key out alone somewhere (a poorly coded taxon also shares others' leaves)."""
        alone = {x.item for x in self.key.leads if x.item and x.item not in self._group_names()}
        return {"taxa": self.taxa, "couplets": len(self.key.couplets()), "leaves": len(self.depths),
                "depth": max(self.depths, default=0),
                "mean_path_length": round(sum(self.depths) / len(self.depths), 3) if self.depths else 0.0,
                "indistinguishable_groups": len(self.groups),
                "taxa_in_groups": len({t for g in self.groups for t in g}),
                "taxa_keyed_alone": len(alone), "uncoded_taxa": len(self.uncoded)}

    def _group_names(self) -> set[str]:
        return {", ".join(g) for g in self.groups}

    def to_csv(self) -> str:
        """The key as KeyBase CSV (``from,statement,to``; a group keyed out together is one item
        naming its taxa, comma-separated, as KeyBase writes unfinished keys)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["from", "statement", "to"])
        w.writerows(self.key.to_rows())
        return buf.getvalue()


class _Bits:
    """Per character: a bitmask of taxa for each state, and of taxa whose cell is unknown."""

    def __init__(self, m: Matrix) -> None:
        self.index = {t: i for i, t in enumerate(m.taxa)}
        self.chars: list[tuple[str, list[str], list[int], int]] = []
        for ch in m.characters:
            per: dict[str, int] = {}
            unknown = 0
            for t, i in self.index.items():
                st = m.cells.get(t, {}).get(ch)
                if not st:
                    unknown |= 1 << i
                    continue
                for s in st:
                    per[s] = per.get(s, 0) | (1 << i)
            if len(per) >= 2:
                names = sorted(per)
                self.chars.append((ch, names, [per[s] for s in names], unknown))


def _partitions(n: int) -> list[tuple[int, ...]]:
    """Ways to split state indices 0..n-1 in two non-empty sides (each once; the side holding 0 first)."""
    if n > MAX_PARTITION_STATES:
        return [(i,) for i in range(n)]
    return [(0, *rest) for size in range(0, n - 1) for rest in combinations(range(1, n), size)]


def _gain(n: int, a: int, b: int) -> float:
    tot = a + b
    return math.log2(n) - (a / tot) * math.log2(a) - (b / tot) * math.log2(b)


def _best_split(bits: _Bits, taxa: int, n: int) -> tuple[float, str, list[str], list[str], int, int] | None:
    best = None
    for ch, names, masks, unknown in bits.chars:
        unk = unknown & taxa
        present = [m & taxa for m in masks]
        if sum(1 for p in present if p) < 2:
            continue
        for side in _partitions(len(names)):
            left = unk
            right = unk
            for i, p in enumerate(present):
                if i in side:
                    left |= p
                else:
                    right |= p
            na, nb = left.bit_count(), right.bit_count()
            if not na or not nb or na >= n or nb >= n:
                continue
            g = _gain(n, na, nb)
            if best is None or g > best[0] + 1e-12:
                best = (g, ch, [names[i] for i in side], [names[i] for i in range(len(names)) if i not in side],
                        left, right)
    return best


def generate(m: Matrix, *, key_id: str = "generated", title: str = "") -> GeneratedKey:
    """A dichotomous key for the matrix's taxa (see the module docstring for the method)."""
    informative = _Bits(m).chars
    uncoded = [t for t in m.taxa if not any(m.cells.get(t, {}).get(ch) for ch, *_ in informative)]
    if uncoded:
        m = Matrix([t for t in m.taxa if t not in set(uncoded)], m.characters, m.cells, m.title)
    bits = _Bits(m)
    names = m.taxa
    n_all = len(names)
    key = Key(key_id, title=title or f"Key generated from {m.title or 'a character matrix'}")
    out = GeneratedKey(key, taxa=n_all + len(uncoded), uncoded=uncoded)
    if n_all < 2:
        return out
    groups: dict[tuple[str, ...], None] = {}
    rows: list[tuple[str, str, str]] = []
    counter = 1
    # stack of (couplet number, taxa mask, depth); couplet numbers given when a couplet is made
    stack: list[tuple[str, int, int]] = [("1", (1 << n_all) - 1, 1)]
    pending: dict[str, tuple[float, str, list[str], list[str], int, int]] = {}
    first = _best_split(bits, (1 << n_all) - 1, n_all)
    if first is None:
        out.groups = [list(names)]
        return out
    pending["1"] = first
    while stack:
        c, _mask, depth = stack.pop()
        _, ch, lside, rside, left, right = pending.pop(c)
        out.splits[c] = (ch, lside, rside)
        for states, sub in ((lside, left), (rside, right)):
            statement = f"{ch}: {' or '.join(states)}"
            members = [names[i] for i in range(n_all) if sub >> i & 1]
            if len(members) == 1:
                rows.append((c, statement, members[0]))
                out.depths.append(depth)
                continue
            split = _best_split(bits, sub, len(members))
            if split is None:
                rows.append((c, statement, ", ".join(members)))
                groups.setdefault(tuple(members), None)
                out.depths.append(depth)
                continue
            counter += 1
            nc = str(counter)
            pending[nc] = split
            rows.append((c, statement, nc))
            stack.append((nc, sub, depth + 1))
    rows.sort(key=lambda r: int(r[0]))  # couplets in number order, each couplet's two leads together
    key.leads = Key.from_rows(key_id, rows).leads
    out.groups = [list(g) for g in groups]
    return out
