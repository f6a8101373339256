"""Tip and node labels of one tree: an open-addressing hash table over the labels (a probe reads a
window of slots at once), exact and normalised lookups, ambiguity marked."""

from __future__ import annotations

from typing import Any

import numpy as np

AMBIGUOUS = -2  # a label shared by two tips (or, with no tip, two internal nodes)
_EMPTY = -1  # an empty slot of the label table
_WINDOW = 4  # slots of a probe read at once


def normalise_label(name: str) -> str:
    """A label's normalised form: underscores as blanks, runs of white space folded."""
    k = name.replace("_", " ")
    if "  " in k or k[:1] == " " or k[-1:] == " " or not k.isprintable():
        k = " ".join(k.split())
    return k


class LabelTable:
    """Label -> node id for one tree.

    Labels as written sit in an open-addressing table keyed by their Python string hash (numpy
    arrays, linear probing): a batch of names costs one hash each, a few vectorised gathers and
    one list comparison with the labels found (identical objects compare without reading them).
    Normalised forms (``Genus species`` for a tip written ``Genus_species``, blanks folded) go
    through a dict that is built on the first miss. All lookups share one rule: a tip wins over an
    internal node with the same normalised label, and two tips (or, without a tip, two internal
    nodes) with one normalised label make it ambiguous.
    """

    def __init__(self, names: list[str], tip: np.ndarray) -> None:
        self.names = names
        lab = np.flatnonzero(np.fromiter(map(len, names), dtype=np.int64, count=len(names)))
        labels = [names[i] for i in lab.tolist()]
        keys = [normalise_label(x) for x in labels]
        hk = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
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
        del keys, hk, order, hs, start, gid, single, groups
        self._lab, self._res = lab, res
        self._by_key: dict[str, int] | None = None
        # labels as written: one slot per distinct hash, placed in home-slot order (linear probing)
        hr = np.fromiter(map(hash, labels), dtype=np.int64, count=len(labels))
        uh, first = np.unique(hr, return_index=True)
        size = 8
        while size < 2 * len(uh):
            size <<= 1
        self.mask = size - 1
        home = uh & self.mask
        o = np.argsort(home, kind="stable")
        k = np.arange(len(o), dtype=np.int64)
        pos = k + np.maximum.accumulate(home[o] - k) if len(o) else k
        n_slots = max(size, int(pos[-1]) + 1 if len(pos) else 0) + _WINDOW  # empty slots end every probe
        self.th = np.zeros(n_slots, dtype=np.int64)
        self.tres = np.full(n_slots, _EMPTY, dtype=np.int64)
        self.tlab = np.full(n_slots, None, dtype=object)  # the label (compared with each hit)
        self.th[pos] = uh[o]
        self.tres[pos] = res[first[o]]
        self.tlab[pos] = np.asarray(labels, dtype=object)[first[o]]

    def exact(self, items: list[Any]) -> np.ndarray | None:
        """For labels as written: each one's node (or ``AMBIGUOUS``); ``None`` if any item is
        not such a label (the caller then goes item by item)."""
        k = len(items)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            q = np.fromiter(map(hash, items), dtype=np.int64, count=k)
        except TypeError:
            return None
        p = q & self.mask
        hit = self.th[p[:, None] + np.arange(_WINDOW)] == q[:, None]  # the first slots of each probe at once
        step = hit.argmax(axis=1)
        at = p + step
        for j in np.flatnonzero(~hit[np.arange(k), step]).tolist():  # a longer probe (rare)
            x = int(p[j]) + _WINDOW
            while self.tres[x] != _EMPTY and self.th[x] != q[j]:
                x += 1
            at[j] = x
        res = self.tres[at]
        if (res == _EMPTY).any() or self.tlab[at].tolist() != items:  # a miss, or another string with that hash
            return None
        return res

    def by_key(self) -> dict[str, int]:
        """Normalised label -> node id (or ``AMBIGUOUS``)."""
        if self._by_key is None:
            names = self.names
            self._by_key = {normalise_label(names[i]): r for i, r in zip(self._lab.tolist(), self._res.tolist())}
        return self._by_key

    def get(self, name: str) -> int | None:
        """The node of one label (as written or normalised), ``AMBIGUOUS``, or ``None``."""
        r = self.exact([name])
        if r is not None:
            return int(r[0])
        return self.by_key().get(normalise_label(name))


