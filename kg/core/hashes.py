"""Stable 64-bit hashes of strings: xxh3 of their UTF-8 bytes, the same in every process and on
every machine, so sorted tables of them can be kept in index files and searched in place (the tree
index's label tables, the kept taxon names).

>>> h = label_hashes(["Danio rerio", "Danio rerio", "danio rerio"])
>>> bool(h[0] == h[1]), bool(h[0] == h[2]), str(h.dtype)
(True, False, 'int64')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xxhash


def label_hashes(items: list[Any]) -> np.ndarray:
    """xxh3-64 of each string's UTF-8 bytes, as int64 (stable across processes and machines).
    A non-string raises ``TypeError`` (lone surrogates are hashed as written, never refused)."""
    h = xxhash.xxh3_64_intdigest
    for x in items:
        if not isinstance(x, str):
            raise TypeError(f"not a label: {x!r}")
    return np.fromiter((h(x.encode("utf-8", "surrogatepass")) for x in items), dtype=np.uint64,
                       count=len(items)).view(np.int64)
