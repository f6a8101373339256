"""The facade's ``kg.comparative`` sub-API: traits from tables or the KG, methods on loaded
trees, results written back and read again.

>>> from kg import KnowledgeGraph
>>> g = KnowledgeGraph.open("oxigraph:")
>>> g.comparative.methods()[:3]
['fitch', 'mk-er', 'mk-sym']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kg.comparative.data import Trait, presence_trait
from kg.comparative.runner import METHODS, Analysis, run
from kg.core.graphs import TKG, get_graph, list_graphs


class Comparative:
    def __init__(self, kg: Any) -> None:
        self.kg = kg

    @staticmethod
    def methods() -> list[str]:
        return list(METHODS)

    def table(self, path: str | Path, **kw: Any) -> Trait:
        """A trait from a TSV/CSV table (``taxon, value[, se]``); see :meth:`Trait.read`."""
        return Trait.read(path, **kw)

    def rows(self, rows: Any, **kw: Any) -> Trait:
        """A trait from ``(taxon, value[, se])`` rows (e.g. predicted means with their SEs)."""
        return Trait.from_rows(rows, **kw)

    def presence(self, entity: str) -> Trait:
        """Presence/absence of an anatomical entity per taxon, from the KG's calls."""
        return presence_trait(self.kg.traits, entity)

    def run(self, tree: str | None, trait: Trait | str, method: str, **kw: Any) -> Analysis:
        """Run a method (see :func:`kg.comparative.runner.run`; ``pgls`` takes ``predictors``,
        ``model``, ``lam``, ``estimation`` and ``vcv``) and write the result graph."""
        return run(self.kg, tree, trait, method, **kw)

    def read(self, graph: str) -> dict[str, Any]:
        """One stored analysis (graph IRI or ``comparative/<name>/<version>``) in the shape a run's
        :meth:`Analysis.to_dict` has; see :func:`kg.comparative.stored.read`."""
        from kg.comparative.stored import read

        return read(self.kg.store, get_graph(self.kg.store, graph).iri)

    def estimates(self, graph: str) -> list[dict[str, Any]]:
        """Every stored value of one analysis per node, taxon or coefficient
        (:func:`kg.comparative.stored.estimates`)."""
        from kg.comparative.stored import estimates

        return estimates(self.kg.store, get_graph(self.kg.store, graph).iri)

    def analyses(self) -> list[dict[str, Any]]:
        """The comparative graphs in the store with their method, trait, tree and headline numbers."""
        q = f"""SELECT ?g ?a ?m ?t ?tree ?ll ?lam ?k ?p ?score WHERE {{ GRAPH ?g {{
          ?a a <{TKG}ComparativeAnalysis> ; <{TKG}method> ?m ; <{TKG}traitName> ?t ; <{TKG}onTree> ?tree .
          OPTIONAL {{ ?a <{TKG}logLikelihood> ?ll }} OPTIONAL {{ ?a <{TKG}pagelLambda> ?lam }}
          OPTIONAL {{ ?a <{TKG}blombergK> ?k }} OPTIONAL {{ ?a <{TKG}pValue> ?p }}
          OPTIONAL {{ ?a <{TKG}parsimonyScore> ?score }} }} }} ORDER BY ?g"""
        res = self.kg.store.select(q)
        out = []
        for row in res.rows:
            d = dict(zip(res.variables, row))
            out.append({"graph": d["g"].value, "analysis": d["a"].value, "method": d["m"].value,
                        "trait": d["t"].value, "tree": d["tree"].value,
                        **{k: float(d[k].value) for k in ("ll", "lam", "k", "p", "score") if d.get(k) is not None}})
        return out

    def graphs(self) -> list[Any]:
        return list_graphs(self.kg.store, kind="comparative")
