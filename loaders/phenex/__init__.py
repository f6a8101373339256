"""Phenex NeXML character matrices with entity–quality (EQ) phenotypes (Phenoscape).

``parse(path)`` is pure: it reads one NeXML file with lxml and returns a :class:`PhenexMatrix`
(OTUs with VTO ids and specimens, characters, states with their EQ phenotypes, matrix cells
including polymorphic and uncertain state sets, and the publication). ``load(...)`` writes one
graph of kind ``phenotypes`` per file. Post-composed terms (``X and part_of some Y``) become
minted classes carrying their OWL class expression, direct ``S P O`` triples in the shape of
the ontology closure, and the expression text (see :mod:`loaders.phenex.rdf`).

The package, by responsibility: :mod:`~loaders.phenex.records` (the records),
:mod:`~loaders.phenex.nexml` (NeXML -> records), :mod:`~loaders.phenex.terms` (ontology term
checks), :mod:`~loaders.phenex.names` (OTU name resolution), :mod:`~loaders.phenex.rdf` (records
-> N-Triples) and :mod:`~loaders.phenex.load` (the load entry points).

>>> from pathlib import Path
>>> m = parse(Path(__file__).parent.parent.parent / "kg" / "sample" / "phenotypes.xml")
>>> len(m.otus), m.characters[0].number
(32, 1)
"""

from __future__ import annotations

from loaders.phenex.load import KIND, expand_paths, load, load_many
from loaders.phenex.names import NAME_STATUSES, names_report, resolve_otus
from loaders.phenex.nexml import NEXML, PHEN, XSI_TYPE, parse
from loaders.phenex.records import Cell, Character, Expr, Otu, PhenexMatrix, Phenotype, State
from loaders.phenex.terms import drop_phenotypes_with, unknown_terms

FORMATS = ("phenex", "phenoscape")
EXTENSIONS = ("xml",)

__all__ = [
    "EXTENSIONS", "FORMATS", "KIND", "NAME_STATUSES", "NEXML", "PHEN", "XSI_TYPE",
    "Cell", "Character", "Expr", "Otu", "PhenexMatrix", "Phenotype", "State",
    "drop_phenotypes_with", "expand_paths", "load", "load_many", "names_report", "parse", "resolve_otus",
    "unknown_terms",
]
