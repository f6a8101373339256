"""Tip and node labels of one tree: sorted tables of stable 64-bit label hashes (xxh3 of the UTF-8
bytes, the same in every process, so the tables are kept in the tree index file and read back at
start), exact and normalised lookups verified against the labels themselves, ambiguity marked."""

from __future__ import annotations

from typing import Any

import numpy as np

from kg.core.hashes import label_hashes

AMBIGUOUS = -2  # a label shared by two tips (or, with no tip, two internal nodes)
_NAMES = ("x_hash", "x_node", "x_res", "k_hash", "k_node", "k_res", "lab", "res", "dup_node_off", "dup_node")


def normalise_label(name: str) -> str:
    """A label's normalised form: underscores as blanks, runs of white space folded."""
    k = name.replace("_", " ")
    if "  " in k or k[:1] == " " or k[-1:] == " " or not k.isprintable():
        k = " ".join(k.split())
    return k


def _sorted_table(h: np.ndarray, node: np.ndarray, res: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per distinct hash (its first occurrence), sorted by hash: (hash, node, result)."""
    uh, first = np.unique(h, return_index=True)
    return uh, node[first].astype(np.int32), res[first].astype(np.int32)


#: a sorted hash table at least this long is searched through buckets (:class:`Buckets`)
BUCKETED = 1 << 16


class Buckets:
    """Where each range of the top bits of a sorted array of 64-bit hashes starts, so that a
    batch of probes reads a few entries of one small bucket each instead of binary-searching the
    whole array: on a 2.4M-tip tree that array is ~36 MB, mapped from the index file, and a
    whole-array search of 1,000 names touched ~20 scattered pages each (milliseconds of page
    faults and cache misses); a bucket holds ~4 hashes. The answer is ``np.searchsorted``'s
    exactly. Built from one sequential pass over the array (tens of milliseconds at 4.5M)."""

    def __init__(self, table: np.ndarray, *, min_len: int = BUCKETED) -> None:
        n = len(table)
        self.bits = 0 if n < max(min_len, 2) else min(24, max(1, n.bit_length() - 3))
        if self.bits:
            key = self._key(np.asarray(table))
            start = np.zeros((1 << self.bits) + 1, dtype=np.int64)
            np.cumsum(np.bincount(key, minlength=1 << self.bits), out=start[1:])
            self.start = start.astype(np.int32 if n < (1 << 31) else np.int64)

    def _key(self, h: np.ndarray) -> np.ndarray:
        """The bucket of each hash: its top bits, in the order of the signed values."""
        return (h >> (64 - self.bits)) + (1 << (self.bits - 1))

    def probe(self, table: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``table`` (sorted) holding each of ``q`` (where absent: a row that does not),
        and whether each was found."""
        n = len(table)
        if n == 0:
            return np.zeros(len(q), dtype=np.int64), np.zeros(len(q), dtype=bool)
        q = np.asarray(q, dtype=np.int64)
        if not self.bits:
            at = np.minimum(np.searchsorted(table, q), n - 1)
            return at, table[at] == q
        b = self._key(q)
        lo, hi = self.start[b].astype(np.int64), self.start[b + 1].astype(np.int64)
        while True:  # a lower-bound binary search in every bucket at once: a few rounds
            live = lo < hi
            if not live.any():
                break
            mid = (lo + hi) >> 1
            less = table[np.minimum(mid, n - 1)] < q
            lo = np.where(live & less, mid + 1, lo)
            hi = np.where(live & ~less, mid, hi)
        at = np.minimum(lo, n - 1)
        return at, table[at] == q


class LabelTable:
    """Label -> node id for one tree.

    Labels as written are found by their stable hash in a sorted array (one vectorised binary
    search for a batch of names), then verified against the label stored for that hash (one list
    comparison: identical objects compare without reading them); normalised forms (``Genus
    species`` for a tip written ``Genus_species``, blanks folded) the same way in a second table.
    Two different strings with one hash are told apart by the comparison (a dict of every
    normalised label decides then). All lookups share one rule: a tip wins over an internal node
    with the same normalised label, and two tips (or, without a tip, two internal nodes) with one
    normalised label make it ambiguous. :meth:`arrays` and :meth:`from_arrays` keep the tables
    in the tree index file, so a process reads them instead of hashing millions of labels.
    """

    hashes = staticmethod(label_hashes)

    def __init__(self, names: list[str], tip: np.ndarray | None = None, *,
                 arrays: dict[str, np.ndarray] | None = None) -> None:
        self.names = names
        self._by_key: dict[str, int] | None = None
        self._buckets: dict[str, Buckets] = {}
        if arrays is not None:
            for k in _NAMES:
                setattr(self, k, np.asarray(arrays[k]))
            keys = arrays["dup_keys"]
            off = self.dup_node_off.tolist()
            nodes = self.dup_node.tolist()
            self.dups = {k: nodes[a:b] for k, a, b in zip(keys, off[:-1], off[1:])}
            return
        assert tip is not None
        lab = np.flatnonzero(np.fromiter(map(len, names), dtype=np.int64, count=len(names)))
        labels = [names[i] for i in lab.tolist()]
        keys = [normalise_label(x) for x in labels]
        hk = self.hashes(keys)
        is_tip = tip[lab]
        # group equal normalised keys (by hash; equal hashes are split by the strings themselves)
        order = np.lexsort((lab, ~is_tip, hk))
        hs = hk[order]
        start = np.ones(len(hs), dtype=bool)
        start[1:] = hs[1:] != hs[:-1]
        gid = np.cumsum(start) - 1
        single = np.bincount(gid)[gid] == 1 if len(gid) else np.zeros(0, dtype=bool)
        res = np.empty(len(lab), dtype=np.int64)  # the node each label's normalised form names
        res[order[single]] = lab[order[single]]
        self.dups: dict[str, list[int]] = {}
        groups: dict[str, list[int]] = {}
        for pos in order[~single].tolist():  # tips first, then node order
            groups.setdefault(keys[pos], []).append(pos)
        for key, poss in groups.items():
            nodes = lab[poss]
            tips = nodes[is_tip[poss]]
            win = tips if tips.size else nodes
            if len(win) == 1:
                res[poss] = win[0]
            else:
                res[poss] = AMBIGUOUS
                self.dups[key] = sorted(win.tolist())
        self.lab, self.res = lab.astype(np.int32), res.astype(np.int32)
        # the tables: labels as written, and normalised forms (a row per distinct hash; the node
        # whose label is kept there verifies a hit)
        self.x_hash, self.x_node, self.x_res = _sorted_table(self.hashes(labels), lab, res)
        self.k_hash, self.k_node, self.k_res = _sorted_table(hk, lab, res)
        dup_nodes = list(self.dups.values())
        self.dup_node_off = np.cumsum([0] + [len(v) for v in dup_nodes]).astype(np.int64)
        self.dup_node = np.asarray([x for v in dup_nodes for x in v], dtype=np.int64)

    def arrays(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """The tables as arrays, and the ambiguous normalised labels (in :attr:`dup_node_off` order)."""
        return {k: getattr(self, k) for k in _NAMES}, list(self.dups)

    @classmethod
    def from_arrays(cls, names: list[str], arrays: dict[str, np.ndarray], dup_keys: list[str]) -> LabelTable:
        return cls(names, arrays={**arrays, "dup_keys": dup_keys})

    def prepare(self) -> LabelTable:
        """Make the lookups' buckets now (a service does it at start-up, not its first request)."""
        for which in ("x", "k"):
            self._probe(which, np.zeros(0, dtype=np.int64))
        return self

    def _probe(self, which: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``which`` table (``"x"``: labels as written, ``"k"``: normalised) holding
        each of ``q``, and whether each was found (:func:`probe`, its buckets made on first use)."""
        table = getattr(self, f"{which}_hash")
        buckets = self._buckets.get(which)
        if buckets is None:
            buckets = self._buckets[which] = Buckets(table)
        return buckets.probe(table, q)

    def exact(self, items: list[Any]) -> np.ndarray | None:
        """For labels as written: each one's node (or ``AMBIGUOUS``); ``None`` if any item is
        not such a label (the caller then goes item by item)."""
        if len(items) == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            q = self.hashes(items)
        except TypeError:
            return None
        at, hit = self._probe("x", q)
        if not hit.all():
            return None
        names = self.names
        if [names[i] for i in self.x_node[at].tolist()] != items:  # another string with that hash
            return None
        return self.x_res[at].astype(np.int64)

    def by_key(self) -> dict[str, int]:
        """Normalised label -> node id (or ``AMBIGUOUS``)."""
        if self._by_key is None:
            names = self.names
            self._by_key = {normalise_label(names[i]): r for i, r in zip(self.lab.tolist(), self.res.tolist())}
        return self._by_key

    def get(self, name: str) -> int | None:
        """The node of one label (as written or normalised), ``AMBIGUOUS``, or ``None``."""
        r = self.exact([name])
        if r is not None:
            return int(r[0])
        key = normalise_label(name)
        at, hit = self._probe("k", self.hashes([key]))
        if not hit[0]:
            return None  # no normalised label has this hash, so none is this one
        i = int(at[0])
        if normalise_label(self.names[int(self.k_node[i])]) == key:
            return int(self.k_res[i])
        return self.by_key().get(key)  # another label with the same hash: the dict decides
