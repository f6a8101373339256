"""Ontology layer: the prefix map, the catalogue of known ontologies, closure and checks."""
