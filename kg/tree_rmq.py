"""Range minima in O(1) after O(n) work (a sparse table over blocks of 32) and sums to the root by
pointer jumping: the two array structures behind :class:`kg.treeindex.TreeIndex`'s LCA and distances."""

from __future__ import annotations

import numpy as np

BLOCK = 32  # block size of the range-minimum structure


def jump_sum(parent: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Sum of ``weight`` from each node up to the root, by pointer jumping (log-depth passes)."""
    acc = weight.astype(np.float64, copy=True)
    anc = parent.astype(np.int64, copy=True)
    live = np.flatnonzero(anc >= 0)
    while live.size:
        a = anc[live]
        acc[live] += acc[a]
        anc[live] = anc[a]
        live = live[anc[live] >= 0]
    return acc


class RangeMinimum:
    """Position of the minimum of ``values[l..r]``, vectorised over query arrays."""

    def __init__(self, values: np.ndarray | None, *, arrays: dict[str, np.ndarray] | None = None) -> None:
        if arrays is not None:  # as :meth:`arrays` gave them (kept in the tree index file)
            self.keys, self.prefix, self.suffix = arrays["keys"], arrays["prefix"], arrays["suffix"]
            self.n = int(arrays["n"])
            self.table = [arrays[f"t{k}"] for k in range(len(arrays) - 4)]
            return
        assert values is not None
        n = len(values)
        self.n = n
        nb = max(1, -(-n // BLOCK))
        pad = np.full(nb * BLOCK, np.iinfo(np.int32).max, dtype=np.int64)
        pad[:n] = values
        keys = (pad << 32) | np.arange(nb * BLOCK, dtype=np.int64)
        blocks = keys.reshape(nb, BLOCK)
        self.keys = keys
        self.prefix = np.minimum.accumulate(blocks, axis=1).ravel()
        self.suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
        table = [blocks.min(axis=1)]
        k = 1
        while (1 << k) <= nb:
            prev = table[-1]
            half = 1 << (k - 1)
            table.append(np.minimum(prev[:-half], prev[half:]))
            k += 1
        self.table = table

    def arrays(self) -> dict[str, np.ndarray]:
        """The structure as arrays (see ``arrays=`` of the constructor)."""
        return {"keys": self.keys, "prefix": self.prefix, "suffix": self.suffix, "n": np.array(self.n),
                **{f"t{k}": t for k, t in enumerate(self.table)}}

    def argmin_one(self, lo: int, hi: int) -> int:
        """:meth:`argmin` of one range with scalar reads (a handful of them instead of some twenty
        array operations on one-element arrays)."""
        bl, br = lo // BLOCK, hi // BLOCK
        if bl == br:
            return int(self.keys[lo:hi + 1].min()) & 0xFFFFFFFF
        best = min(int(self.suffix[lo]), int(self.prefix[hi]))
        if br - bl > 1:
            k = (br - bl - 1).bit_length() - 1
            t = self.table[k]
            best = min(best, int(t[bl + 1]), int(t[br - (1 << k)]))
        return best & 0xFFFFFFFF

    def argmin(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        bl, br = lo // BLOCK, hi // BLOCK
        out = np.empty(lo.shape, dtype=np.int64)
        same = bl == br
        if same.any():
            ls, hs, bs = lo[same], hi[same], bl[same]
            cols = np.arange(BLOCK)
            rows = self.keys[(bs * BLOCK)[:, None] + cols]
            off = cols[None, :]
            mask = (off < (ls - bs * BLOCK)[:, None]) | (off > (hs - bs * BLOCK)[:, None])
            rows = np.where(mask, np.iinfo(np.int64).max, rows)
            out[same] = rows.min(axis=1)
        diff = ~same
        if diff.any():
            l2, h2, b1, b2 = lo[diff], hi[diff], bl[diff], br[diff]
            best = np.minimum(self.suffix[l2], self.prefix[h2])
            cnt = b2 - b1 - 1
            mid = cnt > 0
            if mid.any():
                c = cnt[mid]
                k = np.floor(np.log2(c)).astype(np.int64)
                s = b1[mid] + 1
                e = b2[mid] - (1 << k)
                vals = np.empty(len(c), dtype=np.int64)
                for kk in np.unique(k):
                    sel = k == kk
                    t = self.table[kk]
                    vals[sel] = np.minimum(t[s[sel]], t[e[sel]])
                best[mid] = np.minimum(best[mid], vals)
            out[diff] = best
        return out & 0xFFFFFFFF


