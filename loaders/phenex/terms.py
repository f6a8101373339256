"""Ontology term checks of a parsed matrix: which ids do not expand or are not classes of the
loaded ontologies, and (lenient mode) leaving out the phenotypes that use them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from functools import lru_cache

from kg.core.errors import UnknownPrefix
from kg.core.graphs import list_graphs
from kg.core.store import NamedNode, Store
from loaders.phenex.rdf import expand
from loaders.phenex.records import PhenexMatrix
from ontologies.prefixes import OBO, PREFIXES

OWL = PREFIXES["owl"]
RDFS = PREFIXES["rdfs"]


@lru_cache(maxsize=4)
def _id_spaces(known: frozenset[str]) -> frozenset[str]:
    """The OBO id spaces (``UBERON``, ``PATO``) of a set of class IRIs (a batch of files shares
    one set: computed once; a frozenset keeps its hash)."""
    return frozenset(i[len(OBO):].split("_", 1)[0] for i in known if i.startswith(OBO))


def unknown_terms(m: PhenexMatrix, known: Collection[str] | None) -> list[tuple[str, int | None, str]]:
    """(term, line, problem) for every class id that does not expand or is not in ``known``."""
    # only terms of ontologies that are loaded can be checked: PATO ids against a store holding
    # only UBERON are not "unknown", just unchecked
    spaces = None if known is None else _id_spaces(frozenset(known))  # no copy when it is one
    out, seen = [], set()
    for c in m.characters:
        for s in c.states:
            for ph in s.phenotypes:
                for e in (ph.entity, ph.quality, ph.related):
                    for t in (e.terms() if e else ()):
                        if t in seen:
                            continue
                        seen.add(t)
                        try:
                            iri = expand(t)
                        except UnknownPrefix as exc:
                            out.append((t, s.line, str(exc)))
                            continue
                        if known is not None and iri not in known and iri.startswith(OBO) \
                                and iri[len(OBO):].split("_", 1)[0] in spaces:
                            out.append((t, s.line, "not a class of any loaded ontology"))
    return out


def drop_phenotypes_with(m: PhenexMatrix, bad: set[str]) -> int:
    """Remove phenotypes that use any term in ``bad`` (lenient mode); returns how many went."""
    n = 0
    for c in m.characters:
        for s in c.states:
            keep = [ph for ph in s.phenotypes
                    if not any(t in bad for e in (ph.entity, ph.quality, ph.related) if e for t in e.terms())]
            n += len(s.phenotypes) - len(keep)
            s.phenotypes = keep
    return n


def ontology_classes(store: Store) -> frozenset[str] | None:
    """IRIs declared (typed or labelled) in the store's ontology graphs; None when there are none."""
    graphs = list_graphs(store, kind="ontology")
    if not graphs:
        return None
    out: set[str] = set()
    for g in graphs:
        rows = store.select("SELECT DISTINCT ?c WHERE { GRAPH ?g { { ?c a <%sClass> } UNION { ?c <%slabel> ?l } } "
                            "FILTER(STRSTARTS(STR(?c), '%s')) }" % (OWL, RDFS, OBO), {"g": NamedNode(g.iri)})
        iris = [r[0].value for r in rows]
        # the graph's own namespace: the prefix its name spells (uberon -> UBERON), else its commonest
        counts = Counter(i[len(OBO):].split("_", 1)[0] for i in iris)
        own = [p for p in counts if p.lower() == g.name.lower()] or [p for p, _ in counts.most_common(1)]
        out.update(i for i in iris if i[len(OBO):].split("_", 1)[0] in own)
    return frozenset(out)
