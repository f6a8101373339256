"""A genus, family or any clade rolled up: the traits of its species with the species behind
each call, and its tips on a loaded tree (what the web page's clade view draws and paints).

The clade is named as :meth:`kg.traits.Traits.clade` takes it (a taxon of a loaded taxonomy at any
rank, ``TREE:NODE``, a tree's clade label, or a genus). Each row is one entity and value
(``present`` / ``absent``) with every species that has the call, how many of them assert it and
how many have it inferred; species with both calls appear in both rows (and are ``polymorphic``).

>>> from kg import KnowledgeGraph
>>> from kg.demo import load_sample
>>> g = KnowledgeGraph.open("oxigraph:")
>>> _ = load_sample(g)
>>> r = g.rollup("Danio")
>>> r["species"], r["tree"]["tips"]
(['Danio albolineatus', 'Danio rerio'], ['Danio_albolineatus', 'Danio_rerio'])
>>> row = next(x for x in r["traits"] if x["entity_label"] == "pectoral fin" and x["value"] == "present")
>>> row["taxa"], row["n_taxa"]
(['Danio albolineatus', 'Danio rerio'], 2)
"""

from __future__ import annotations

from typing import Any

from kg.core.errors import NotFound
from kg.core.names import normalise_name, taxon_iri
from ontologies.prefixes import contract


def clade_tips(tree: Any, clade: dict[str, Any], members: list[str]) -> list[str]:
    """The clade's tips on ``tree``: below its node when the clade is a node of this tree, else
    every tip whose taxon is a member or whose genus is a member's genus."""
    from kg.core.graphs import BASE

    if clade["kind"] == "tree" and str(clade["node"]).startswith(f"{BASE}tree/{tree.name}/node/"):
        return sorted(tree.node(clade["node"]).tips())
    genera = {m.split(" ", 1)[0] for m in members}
    iris = {taxon_iri(normalise_name(m)) for m in members}
    ix = tree.index
    tips = []
    for i in ix.tips.tolist():
        label = ix.names[i]
        if label:
            nm = normalise_name(label)
            if taxon_iri(nm) in iris or nm.split(" ", 1)[0] in genera:
                tips.append(label)
    return sorted(tips)


def rollup(traits: Any, clade: str, *, tree: Any = None) -> dict[str, Any]:
    """The traits of the species in ``clade`` (see the module doc); ``tree`` (a
    :class:`kg.trees.Tree`) adds the clade's tips on it: every tip whose taxon is a member, or whose
    genus is the genus of a member."""
    try:
        c = traits.clade(clade)
    except NotFound:
        if not clade.startswith("taxon:"):
            raise
        c = traits.clade(clade.split(":", 1)[1].replace("_", " "))  # a genus known only by its species' names
    idx = traits.index
    members = sorted(c["taxa"], key=lambda t: idx.taxa.get(t, t))
    name = {t: idx.taxa.get(t, t.rsplit("/", 1)[-1].replace("_", " ")) for t in members}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    by_taxon = traits.calls_by_taxon()
    for t in members:
        for call in by_taxon.get(t, ()):
            key = (call.entity, call.value)
            r = rows.get(key)
            if r is None:
                r = rows[key] = {"entity": contract(call.entity), "entity_label": traits.label(call.entity),
                                 "value": call.value, "taxa": [], "asserted": 0, "inferred": 0, "polymorphic": []}
            r["taxa"].append(name[t])
            r["asserted" if call.tier == "asserted" else "inferred"] += 1
            if call.polymorphic:
                r["polymorphic"].append(name[t])
    out_rows = sorted(rows.values(), key=lambda r: (r["entity_label"].casefold(), r["value"]))
    for r in out_rows:
        r["n_taxa"] = len(r["taxa"])
    with_calls = sorted({x for r in out_rows for x in r["taxa"]})
    res: dict[str, Any] = {"clade": clade, "kind": c["kind"], "node": c["node"], "rank": c.get("rank"),
                           "species": [name[t] for t in members], "species_with_traits": with_calls,
                           "species_without_traits": [name[t] for t in members if name[t] not in set(with_calls)],
                           "traits": out_rows, "tree": None}
    if tree is not None:
        res["tree"] = {"name": tree.name, "tips": clade_tips(tree, c, [name[t] for t in members])}
    return res
