"""Every taxon's traits, encoded once per store state: what ``GET /api/v1/taxa/{ref}/traits`` serves.

A taxon's traits (:meth:`Traits.trait_rows`: presence/absence calls and asserted phenotypes) are
kept as arrays: per row its kind and tier (for the filters), its JSON text up to where the
evidence goes, what closes it, and the states behind it; per state its evidence entry as JSON
text. A page is then a few slices of those arrays and one bytes join, with or without the
evidence, identical to :meth:`Traits.trait_json` row by row. Every taxon with phenotypes is
covered, not only the taxa asked for.

The arrays are built from the phenotype index, the calls, the term labels and the states'
evidence, in bulk (:func:`kg.traits.page_encode.page_arrays`: array operations and pieces of JSON
encoded once per distinct entity or phenotype, not a trait row at a time), and kept beside the
store (:mod:`kg.indexcache`, kind ``traitpages``) under the key of every graph of the manifest (the
term labels' key) and the inference rules: a later process maps the file (its pages are shared by
the server's workers) instead of building it.

>>> from kg import KnowledgeGraph
>>> TraitPages.build(KnowledgeGraph.open("oxigraph:").traits).taxa
0
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from kg import indexcache as ic
from kg.core.graphs import list_graphs
from kg.traits.inference_graph import RULES
from kg.traits.page_encode import CLOSE as _CLOSE
from kg.traits.page_encode import KINDS, TIERS, page_arrays

if TYPE_CHECKING:
    from kg.traits.queries import Traits

log = logging.getLogger(__name__)
FORMAT = 1
__all__ = ["KINDS", "TIERS", "TraitPages"]
_EVIDENCE = b', "evidence": ['


class TraitPages:
    """The encoded traits of every taxon with phenotypes (see the module's text)."""

    def __init__(self, a: dict[str, Any]) -> None:
        self._a = a
        taxa = ic.unpack_strings(a, "taxa")
        self._taxon = {t: i for i, t in enumerate(taxa)}
        self._tx_off = a["tx_off"]
        self._kind, self._tier, self._close = a["kind"], a["tier"], a["close"]
        self._head, self._head_off = memoryview(a["head"]), a["head_off"]
        self._ev_off, self._ev = a["ev_off"], a["ev"]
        self._state, self._state_off = memoryview(a["state"]), a["state_off"]

    @property
    def taxa(self) -> int:
        return len(self._taxon)

    @property
    def rows(self) -> int:
        return len(self._kind)

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for k, v in self._a.items() if isinstance(v, np.ndarray))

    def __contains__(self, taxon: object) -> bool:
        return taxon in self._taxon

    def select(self, taxon: str, tiers: Collection[str] | None = None,
               kinds: Collection[str] | None = None) -> np.ndarray:
        """The rows of a taxon (its IRI) in :meth:`Traits.trait_rows`' order, only ``tiers`` and
        ``kinds`` when given."""
        i = self._taxon.get(taxon)
        if i is None:
            return np.zeros(0, dtype=np.int64)
        lo, hi = int(self._tx_off[i]), int(self._tx_off[i + 1])
        rows = np.arange(lo, hi, dtype=np.int64)
        if tiers:
            rows = rows[np.isin(self._tier[lo:hi], [TIERS.index(t) for t in tiers])]
        if kinds:
            rows = rows[np.isin(self._kind[rows], [KINDS.index(k) for k in kinds])]
        return rows

    def items(self, rows: np.ndarray, *, evidence: bool = True) -> bytes:
        """The rows' JSON objects joined with commas (what :meth:`Traits.trait_json` gives, row by row)."""
        if not len(rows):
            return b""
        head, state = self._head, self._state
        starts, ends = self._head_off[rows].tolist(), self._head_off[rows + 1].tolist()
        closes = self._close[rows].tolist()
        out: list[Any] = []
        if not evidence:
            for a, b, c in zip(starts, ends, closes):
                out += (head[a:b], _CLOSE[c], b",")
            out.pop()
            return b"".join(out)
        e0, e1 = self._ev_off[rows].tolist(), self._ev_off[rows + 1].tolist()
        ids = self._ev[self._ev_off[rows[0]]:self._ev_off[rows[-1] + 1]]
        s_start, s_end = self._state_off[ids].tolist(), self._state_off[ids + 1].tolist()
        base = e0[0]
        for a, b, c, x, y in zip(starts, ends, closes, e0, e1):
            out += (head[a:b], _EVIDENCE)
            for k in range(x - base, y - base):
                out += (state[s_start[k]:s_end[k]], b", ")
            if y > x:
                out.pop()
            out += (b"]", _CLOSE[c], b",")
        out.pop()
        return b"".join(out)

    # ------------------------------------------------------------------ building and keeping
    @classmethod
    def build(cls, traits: Traits) -> TraitPages:
        """Encode every taxon's traits (every taxon of the phenotype index, in IRI order)."""
        return cls(page_arrays(traits))

    @classmethod
    def open(cls, traits: Traits) -> TraitPages:
        """From the file kept for this store's graph versions, else built and written."""
        store = traits.store
        path = ic.path_for(store, "traitpages", ic.graphs_key(list_graphs(store), FORMAT, RULES))

        def build() -> ic.Built[TraitPages]:
            pages = cls.build(traits)
            return ic.Built(pages, {k: v for k, v in pages._a.items() if k != "__meta__"} if pages.taxa else None)

        return ic.load_or_build(path, kind="traitpages", fmt=FORMAT, read=cls, build=build)

