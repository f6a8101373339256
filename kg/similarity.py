"""Semantic similarity of terms, phenotypes and taxon profiles, as Phenoscape and rphenoscape do it.

The corpus is the taxa with asserted phenotypes. A phenotype's subsumers are itself, its
entity with the entity's closure ancestors (subClassOf and part_of) and its quality with the
quality's superclasses. A taxon's profile is its set of asserted phenotypes; its subsumer set
the union of theirs. Information content is corpus based: ``IC(t) = -log2(n_t / N)`` with
``n_t`` the taxa whose subsumer set holds ``t`` and ``N`` all annotated taxa.

* Resnik: IC of the most informative common subsumer (MICA).
* Jaccard: ``|S(a) ∩ S(b)| / |S(a) ∪ S(b)|``.
* simGIC: ``Σ IC(S(a) ∩ S(b)) / Σ IC(S(a) ∪ S(b))``.
* Best match: for each term of one profile the best Resnik score in the other, aggregated by
  median or mean, averaged over both directions.

>>> from kg import KnowledgeGraph
>>> s = Similarity(KnowledgeGraph.open("oxigraph:").traits)
>>> s.corpus_size
0
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kg.core.errors import NotFound, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from kg.traits import Traits

METRICS = ("simgic", "jaccard", "resnik-bma")


class Similarity:
    """Similarity over the phenotype corpus of one store (the facade's ``kg.similarity``)."""

    def __init__(self, traits: Traits) -> None:
        self.traits = traits
        idx = traits.index
        self._idx = idx
        self.profiles: dict[str, set[str]] = {}
        for cell in idx.cells:
            prof = self.profiles.setdefault(cell.taxon, set())
            for s in cell.states:
                prof.update(idx.state_phenotypes.get(s, ()))
        self.profiles = {t: p for t, p in self.profiles.items() if p}
        self._subs: dict[str, frozenset[str]] = {}
        self.taxon_subsumers = {t: self.profile_subsumers(p) for t, p in self.profiles.items()}
        counts: Counter[str] = Counter()
        for s in self.taxon_subsumers.values():
            counts.update(s)
        self.corpus_size = len(self.taxon_subsumers)
        n = max(self.corpus_size, 1)
        self.ic: dict[str, float] = {t: -math.log2(c / n) for t, c in counts.items()}

    # ------------------------------------------------------------------ subsumers
    def subsumers(self, term: str) -> frozenset[str]:
        """A term's (or phenotype's) subsumers, itself included. Accepts CURIEs or IRIs."""
        from ontologies.prefixes import expand

        t = term if term.startswith("http") else expand(term)
        got = self._subs.get(t)
        if got is not None:
            return got
        idx = self._idx
        ph = idx.phenotypes.get(t)
        if ph is not None:
            out = {t, ph.entity} | idx.ancestors(ph.entity) if ph.entity else {t}
            if ph.quality:
                out |= {ph.quality} | idx.ancestors(ph.quality, parts=False)
        else:
            out = {t} | idx.ancestors(t)
        self._subs[t] = frozenset(out)
        return self._subs[t]

    def profile_subsumers(self, terms: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for t in terms:
            out |= self.subsumers(t)
        return frozenset(out)

    def information_content(self, term: str) -> float:
        """Corpus IC of a term; 0 for the root-like terms every taxon has, inf for unused terms."""
        from ontologies.prefixes import expand

        t = term if term.startswith("http") else expand(term)
        return self.ic.get(t, math.inf)

    # ------------------------------------------------------------------ term measures
    def resnik(self, a: str, b: str) -> float:
        """IC of the most informative common subsumer (0 when there is none)."""
        common = self.subsumers(a) & self.subsumers(b)
        return max((self.ic[t] for t in common if t in self.ic), default=0.0)

    def mica(self, a: str, b: str) -> str | None:
        common = [t for t in self.subsumers(a) & self.subsumers(b) if t in self.ic]
        return max(common, key=lambda t: (self.ic[t], t)) if common else None

    def jaccard(self, a: str | Iterable[str], b: str | Iterable[str]) -> float:
        sa, sb = self._set(a), self._set(b)
        union = sa | sb
        return len(sa & sb) / len(union) if union else 0.0

    def simgic(self, a: str | Iterable[str], b: str | Iterable[str]) -> float:
        sa, sb = self._set(a), self._set(b)
        ic = self.ic
        den = sum(ic.get(t, 0.0) for t in sa | sb)
        return sum(ic.get(t, 0.0) for t in sa & sb) / den if den else 0.0

    def _set(self, x: str | Iterable[str]) -> frozenset[str]:
        return self.subsumers(x) if isinstance(x, str) else self.profile_subsumers(x)

    # ------------------------------------------------------------------ profiles
    def best_match(self, a: Iterable[str], b: Iterable[str], *, aggregate: str = "median") -> float:
        """Symmetric best-match Resnik similarity of two profiles (median or mean)."""
        if aggregate not in ("median", "mean"):
            raise ValidationError(f"aggregate {aggregate!r}: expected 'median' or 'mean'")
        la, lb = list(a), list(b)
        if not la or not lb:
            return 0.0
        agg = statistics.median if aggregate == "median" else statistics.fmean
        ab = agg([max(self.resnik(x, y) for y in lb) for x in la])
        ba = agg([max(self.resnik(y, x) for x in la) for y in lb])
        return (ab + ba) / 2

    def profile(self, taxon: str) -> set[str]:
        """The asserted phenotype IRIs of a taxon."""
        t = self.traits.taxon(taxon)
        if t not in self.profiles:
            raise NotFound(f"taxon {taxon!r} has no phenotypes")
        return self.profiles[t]

    def similar(self, query: str | Iterable[str], *, k: int = 10, metric: str = "simgic",
                aggregate: str = "median") -> list[dict[str, Any]]:
        """The ``k`` taxa most similar to a taxon (name) or to a profile (iterable of terms)."""
        if metric not in METRICS:
            raise ValidationError(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
        if isinstance(query, str):
            me = self.traits.taxon(query)
            prof = self.profile(query)
        else:
            me, prof = None, list(query)
            if not prof:
                raise ValidationError("an empty profile has no similar taxa")
        sq = self.profile_subsumers(prof)
        ic = self.ic
        scores = []
        if metric == "simgic":
            icq = sum(ic.get(t, 0.0) for t in sq)
            for t, st in self.taxon_subsumers.items():
                if t == me:
                    continue
                inter = sum(ic.get(x, 0.0) for x in sq & st)
                den = icq + sum(ic.get(x, 0.0) for x in st - sq)
                scores.append((inter / den if den else 0.0, t))
        elif metric == "jaccard":
            for t, st in self.taxon_subsumers.items():
                if t != me:
                    scores.append((len(sq & st) / len(sq | st), t))
        else:
            for t, p in self.profiles.items():
                if t != me:
                    scores.append((self.best_match(prof, p, aggregate=aggregate), t))
        scores.sort(key=lambda x: (-x[0], x[1]))
        taxa = self.traits.index.taxa
        return [{"taxon": taxa[t], "taxon_iri": t, "score": round(s, 6), "metric": metric} for s, t in scores[:k]]
