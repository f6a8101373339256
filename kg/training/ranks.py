"""Taxonomic rank labels from the loaded taxonomy graphs (``tkg:parentTaxon`` chains).

A species' lineage is read from its own taxon node when the taxonomy names it, else from its
genus (the first word of the name). Ranks missing along a lineage stay empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kg.core.graphs import TKG
from kg.core.names import normalise_name
from kg.core.store import Store
from ontologies.prefixes import PREFIXES

#: ranks in the order of a lineage (loaders.taxonomy.RANKS, repeated here: the domain reads, the loader writes)
RANK_ORDER = ("domain", "kingdom", "phylum", "subphylum", "superclass", "class", "subclass", "infraclass",
              "superorder", "order", "suborder", "infraorder", "superfamily", "family", "subfamily", "tribe",
              "subtribe", "genus", "subgenus", "species", "subspecies")

_QUERY = f"""SELECT ?t ?name ?rank ?parent WHERE {{ ?t a <{TKG}Taxon> ;
  <http://rs.tdwg.org/dwc/terms/scientificName> ?name .
  OPTIONAL {{ ?t <http://rs.tdwg.org/dwc/terms/taxonRank> ?rank }} OPTIONAL {{ ?t <{TKG}parentTaxon> ?parent }} }}"""

_OTT = f"""SELECT ?t ?x WHERE {{ ?t a <{TKG}Taxon> ; <http://www.w3.org/2004/02/skos/core#exactMatch> ?x .
  FILTER(STRSTARTS(STR(?x), "{PREFIXES['OTT']}")) }}"""


@dataclass
class Taxonomy:
    """The union of the loaded taxonomy graphs: name -> (rank, parent name), plus OTT ids."""

    rank: dict[str, str | None] = field(default_factory=dict)
    parent: dict[str, str | None] = field(default_factory=dict)
    ott: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store) -> Taxonomy:
        out = cls()
        iri_name: dict[str, str] = {}
        rows = store.select(_QUERY, union_default_graph=True).rows
        parents: dict[str, str | None] = {}
        for t, nm, rk, par in rows:
            name = normalise_name(nm.value)
            iri_name[t.value] = name
            out.rank.setdefault(name, rk.value if rk is not None else None)
            parents.setdefault(name, par.value if par is not None else None)
        for name, p in parents.items():
            out.parent[name] = iri_name.get(p) if p else None
        for t, x in store.select(_OTT, union_default_graph=True).rows:
            name = iri_name.get(t.value)
            digits = x.value[len(PREFIXES["OTT"]):]
            if name and digits.isdigit():
                out.ott.setdefault(name, digits)
        return out

    def __bool__(self) -> bool:
        return bool(self.rank)

    def lineage(self, name: str) -> dict[str, str]:
        """rank -> name along the parent chain of a taxon (its genus' chain for an unknown species)."""
        name = normalise_name(name)
        out: dict[str, str] = {}
        cur: str | None = name
        if cur not in self.rank and " " in name:
            out["species"] = name
            cur = name.split(" ", 1)[0]
        seen: set[str] = set()
        while cur and cur in self.rank and cur not in seen:
            seen.add(cur)
            rk = self.rank[cur]
            if rk:
                out.setdefault(rk, cur)
            cur = self.parent.get(cur)
        return out

    def ranks_present(self) -> list[str]:
        have = {r for r in self.rank.values() if r}
        return [r for r in RANK_ORDER if r in have]


def rank_labels(taxonomy: Taxonomy, taxa: Sequence[str], ranks: Sequence[str] | None = None,
                prefix: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per taxon, one column per rank (names; empty where the taxonomy says nothing).
    ``prefix`` fills ranks above the taxonomy (``{"kingdom": "Animalia", ...}``) for every taxon."""
    ranks = list(ranks) if ranks is not None else taxonomy.ranks_present()
    rows: list[dict[str, Any]] = []
    for t in taxa:
        lin = {**(prefix or {}), **taxonomy.lineage(t)}
        rows.append({r: lin.get(r, "") for r in ranks})
    return pd.DataFrame(rows, index=pd.Index([normalise_name(t) for t in taxa], name="taxon"), columns=ranks)
