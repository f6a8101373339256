"""Information content of terms, intrinsic (from the structure) and corpus-based (from annotation
counts), and the most informative common ancestor: a part of :class:`kg.terms.TermIndex`."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ontologies.prefixes import contract


class InformationContent:
    """IC and MICA over the index's entailed ancestors (a mixin of :class:`kg.terms.TermIndex`)."""

    terms: dict[str, Any]
    up: Any
    _ic: dict[tuple[str, ...], dict[str, float]]

    def intrinsic_ic(self, ref: str | None = None, predicates: Sequence[str] | None = None) -> Any:
        """Intrinsic IC: ``-log2((descendants + 1) / N)`` over ``predicates``; one term or all (dict)."""
        key = tuple(sorted(self._preds(predicates)))
        if key not in self._ic:
            counts: dict[str, int] = defaultdict(int)
            for iri in self.terms:
                counts[iri] += 1
                for a in self._entailed(iri, predicates, self.up, False):
                    counts[a] += 1
            n = len(self.terms) or 1
            self._ic[key] = {i: 0.0 - math.log2(min(c, n) / n) for i, c in counts.items()}
        table = self._ic[key]
        if ref is None:
            return {contract(k): v for k, v in table.items()}
        return table.get(self.iri(ref), 0.0)

    def corpus_ic(self, counts: Mapping[str, int], predicates: Sequence[str] | None = None) -> dict[str, float]:
        """Corpus IC from annotation counts ``{term: n}``: a term's frequency includes annotations to
        its descendants; ``IC = -log2(freq / total)``. Terms with no annotations are left out.

        >>> from kg.terms import SUBCLASS, TermIndex
        >>> idx = TermIndex(); idx._edge("http://x/b", SUBCLASS, "http://x/a")
        >>> sorted(idx.corpus_ic({"<http://x/b>": 1, "<http://x/a>": 1}, ["is_a"]).values())
        [0.0, 1.0]
        """
        freq: dict[str, int] = defaultdict(int)
        total = 0
        for ref, n in counts.items():
            iri = self._expand(ref)
            total += n
            freq[iri] += n
            for a in self._entailed(iri, predicates, self.up, False):
                freq[a] += n
        return {contract(k): 0.0 - math.log2(v / total) for k, v in freq.items() if v} if total else {}

    def mica(self, a: str, b: str, predicates: Sequence[str] | None = None,
             ic: Mapping[str, float] | None = None) -> tuple[str, float] | None:
        """Most informative common ancestor (reflexive) of two terms and its IC (intrinsic unless ``ic``)."""
        ia, ib = self.iri(a), self.iri(b)
        preds = self._preds(predicates)
        common = (set(self._entailed(ia, predicates, self.up, False)) | {ia}) & \
            (set(self._entailed(ib, predicates, self.up, False)) | {ib})
        if not common:
            return None
        if ic is None:
            self.intrinsic_ic(None, predicates)
            table = self._ic[tuple(sorted(preds))]
            score = {c: table.get(c, 0.0) for c in common}
        else:
            score = {c: ic.get(contract(c), 0.0) for c in common}
        self.intrinsic_ic(None, predicates)
        tie = self._ic[tuple(sorted(preds))]  # ties go to the more specific term
        best = max(sorted(common), key=lambda c: (score[c], tie.get(c, 0.0)))
        return contract(best), score[best]
