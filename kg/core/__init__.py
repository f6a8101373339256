"""The ground every other layer stands on: the store seam (:mod:`kg.core.store`), named graphs and
their PROV-O manifest (:mod:`kg.core.graphs`), errors (:mod:`kg.core.errors`), taxon names and
identifiers (:mod:`kg.core.names`), sources (:mod:`kg.core.sources`), bulk writes
(:mod:`kg.core.bulk`) and the version (:mod:`kg.core.version`).

Nothing here imports ontologies/, loaders/, the domain query modules, the facade, api/ or gnn/
(``tests/test_architecture.py`` checks it on the import graph).
"""
