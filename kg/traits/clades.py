"""Clades named by a string: a loaded taxonomy's taxon at any rank, ``TREE:NODE``, a tree's clade
label, or a genus (the ``within`` of trait queries)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from kg.core.errors import NotFound, ValidationError
from kg.core.graphs import TKG
from kg.core.names import normalise_name, taxon_iri
from ontologies.closure import reachable
from ontologies.prefixes import contract, expand


class CladeQueries:
    """Clade resolution for :class:`kg.traits.Traits` (uses its ``store``, ``index`` and cache)."""

    store: Any
    index: Any
    _cache: dict[str, Any]

    def _within(self, within: Iterable[str] | str | None) -> set[str] | None:
        """The phenotype taxa in a clade (see :meth:`clade`); a collection is taken as taxa."""
        if within is None:
            return None
        if hasattr(within, "tips"):  # a kg.trees node: the tips below it
            within = within.tips()
        if isinstance(within, str):
            return self.clade(within)["taxa"]
        out = set()
        for x in within:
            out.add(x if x.startswith("http") else taxon_iri(normalise_name(x)))
        return out

    def clade(self, name: str) -> dict[str, Any]:
        """The taxa with phenotypes in a clade named by a string, tried in this order:

        1. ``TREE:NODE`` (a loaded tree's name): the tips below that node;
        2. a taxon of a loaded taxonomy, at any rank (name, ``taxon:`` CURIE or IRI): the taxa
           below it, plus taxa with phenotypes whose genus (first word) is a genus below it;
        3. a node label (a clade name) of a loaded tree: the tips below it;
        4. a genus name: the taxa whose name starts with it.

        Returns ``{"kind": "tree"|"taxonomy"|"genus", "node": ..., "taxa": set of taxon IRIs}``."""
        idx = self.index
        text = name.strip()
        tree_names = self._tree_names()
        if ":" in text and not text.startswith(("http", "taxon:")) and text.split(":", 1)[0] in tree_names:
            tree, node = text.split(":", 1)
            return self._tree_clade(tree, node)
        tax = self._taxonomy()
        hits = tax["by_name"].get(normalise_name(text).casefold(), [])
        if not hits and text.startswith(("http", "taxon:")):
            iri = expand(text) if text.startswith("taxon:") else text
            hits = [iri] if iri in tax["rank"] else []
        if len(hits) > 1:
            raise ValidationError(f"clade {name!r} names {len(hits)} taxa of the taxonomy: "
                                  + ", ".join(f"{contract(h)} ({tax['rank'].get(h) or 'no rank'})" for h in hits)
                                  + "; give its IRI or taxon: CURIE")
        if hits:
            below = descendants(tax["children"], hits[0])
            genera = {tax["name"][t].casefold() for t in below if tax["rank"].get(t) == "genus"}
            members = {t for t, label in idx.taxa.items()
                       if t in below or label.split(" ", 1)[0].casefold() in genera}
            return {"kind": "taxonomy", "node": hits[0], "rank": tax["rank"].get(hits[0]), "taxa": members}
        in_trees = [t for t in tree_names if self._tree(t).index.find(text) is not None]
        if len(in_trees) > 1:
            raise ValidationError(f"clade {name!r} is a node of several trees ({', '.join(in_trees)}); "
                                  "name one as TREE:NODE")
        if in_trees:
            return self._tree_clade(in_trees[0], text)
        genus = normalise_name(text)
        members = {tx for tx, lab in idx.taxa.items() if lab == genus or lab.startswith(genus + " ")}
        if not members:
            raise NotFound(f"clade {name!r}: not a taxon of a loaded taxonomy, a node of a loaded tree or a genus "
                           "of a taxon with phenotypes (give a taxon name at any rank with a taxonomy loaded, "
                           "TREE:NODE, or a list of taxa)")
        return {"kind": "genus", "node": genus, "taxa": members}

    def _tree_names(self) -> list[str]:
        from kg.core.graphs import list_graphs

        return sorted({r.name for r in list_graphs(self.store, kind="tree")})

    def _tree(self, name: str) -> Any:
        from kg.trees import cached_tree

        return cached_tree(self.store, self._cache, name)

    def _tree_clade(self, tree: str, node: str) -> dict[str, Any]:
        n = self._tree(tree).node(node)
        tips = {taxon_iri(normalise_name(t)) for t in n.tips()}
        return {"kind": "tree", "node": n.iri, "taxa": {t for t in self.index.taxa if t in tips}}

    def _taxonomy(self) -> dict[str, Any]:
        """The taxonomy graphs' hierarchy: children, names, ranks and a name -> taxa lookup."""
        if "taxonomy" not in self._cache:
            children: dict[str, list[str]] = defaultdict(list)
            names: dict[str, str] = {}
            rank: dict[str, str | None] = {}
            rows = self.store.select(_TAXONOMY, union_default_graph=True).rows
            for t, nm, rk, parent in rows:
                names[t.value] = nm.value
                rank[t.value] = rk.value if rk is not None else None
                if parent is not None:
                    children[parent.value].append(t.value)
            by_name: dict[str, list[str]] = defaultdict(list)
            for t, nm in names.items():
                by_name[normalise_name(nm).casefold()].append(t)
            self._cache["taxonomy"] = {"children": dict(children), "name": names, "rank": rank,
                                       "by_name": dict(by_name)}
        return self._cache["taxonomy"]



_TAXONOMY = f"""SELECT ?t ?name ?rank ?parent WHERE {{ ?t a <{TKG}Taxon> ;
  <http://rs.tdwg.org/dwc/terms/scientificName> ?name .
  OPTIONAL {{ ?t <http://rs.tdwg.org/dwc/terms/taxonRank> ?rank }} OPTIONAL {{ ?t <{TKG}parentTaxon> ?parent }} }}"""


def descendants(children: dict[str, list[str]], root: str) -> set[str]:
    """A taxon and everything below it (iterative; a cycle in bad data cannot loop)."""
    return reachable(children, [root])


