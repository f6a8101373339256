"""Search over term labels and synonyms (exact, prefix, fuzzy; ranked): a part of
:class:`kg.terms.TermIndex`."""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass
from typing import Any

_NORM = re.compile(r"[\s_\-]+")


def normalise(text: str) -> str:
    """Lower-case, fold runs of white space, ``_`` and ``-`` to one space.

    >>> normalise("  Pectoral_Fin ")
    'pectoral fin'
    """
    return _NORM.sub(" ", text.lower()).strip()


@dataclass
class SearchHit:
    """One search result: the term, what matched, how, and a score in [0, 100]."""

    curie: str
    label: str | None
    matched: str
    match: str  # exact | prefix | fuzzy
    field: str  # label | EXACT | NARROW | BROAD | RELATED
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TermSearch:
    """Ranked label and synonym search (a mixin of :class:`kg.terms.TermIndex`)."""

    terms: dict[str, Any]
    _names: dict[str, list[tuple[str, str]]]
    _keys: list[str]

    def search(self, text: str, *, limit: int = 10, fuzzy: bool = True, obsolete: bool = False,
               prefix: str | None = None) -> list[SearchHit]:
        """Ranked search over labels and synonyms: exact, then prefix, then (when nothing matched
        exactly) fuzzy by rapidfuzz edit-distance ratio."""
        q = normalise(text)
        if not q:
            return []
        hits: dict[str, SearchHit] = {}

        def add(key: str, match: str, base: float) -> None:
            for iri, fld in self._names.get(key, ()):
                t = self.terms[iri]
                if (t.obsolete and not obsolete) or (prefix and not t.curie.startswith(prefix + ":")):
                    continue
                score = base - (0 if fld == "label" else 2 if fld == "EXACT" else 5)
                old = hits.get(iri)
                if old is None or score > old.score:
                    hits[iri] = SearchHit(t.curie, t.label, key, match, fld, round(score, 2))

        add(q, "exact", 100.0)
        i = bisect.bisect_left(self._keys, q)
        n_prefix = 0
        while i < len(self._keys) and self._keys[i].startswith(q) and n_prefix < 50 * limit:
            k = self._keys[i]
            if k != q:
                add(k, "prefix", 90.0 - min(20.0, (len(k) - len(q)) / 2))
                n_prefix += 1
            i += 1
        if fuzzy and len(hits) < limit and not any(h.match == "exact" for h in hits.values()):
            # only when nothing matched exactly: a full fuzzy scan costs ~10x an exact/prefix lookup
            from rapidfuzz import fuzz, process

            for k, score, _ in process.extract(q, self._keys, scorer=fuzz.ratio, limit=limit * 3, score_cutoff=60):
                if not k.startswith(q):
                    add(k, "fuzzy", 0.7 * score)
        return sorted(hits.values(), key=lambda h: (-h.score, len(h.matched), h.curie))[:limit]
