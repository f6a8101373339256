"""The bundled sample world (``kg/sample``) and loading it: what ``traitkg demo`` runs.

>>> from kg import KnowledgeGraph
>>> g = KnowledgeGraph.open("oxigraph:")
>>> reports = load_sample(g)
>>> any(r.kind == "ontology" and r.triples > 100 for r in reports)
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from kg import KnowledgeGraph
    from loaders.report import LoadReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleFile:
    file: str
    kind: str
    name: str


#: What the sample holds, in load order (ontologies before the data that refers to them).
SAMPLE = (
    SampleFile("fish-anatomy-slim.ttl", "ontology", "fish-anatomy-slim"),
    SampleFile("taxonomy.csv", "taxonomy", "sample-taxonomy"),
    SampleFile("fish-tree.nwk", "tree", "sample"),
    SampleFile("phenotypes.xml", "phenotypes", "sample-phenotypes"),
    SampleFile("predictions.csv", "predictions", "sample-predictions"),
    SampleFile("key-fish-orders.tsv", "key", "sample-key"),
)


def sample_dir() -> Path:
    """Where the sample files are installed (package data of ``kg``)."""
    return Path(str(resources.files("kg") / "sample"))


def load_sample(g: KnowledgeGraph, *, on_skip: Callable[[SampleFile, str], None] | None = None,
                progress_factory: Callable[[str], object] | None = None) -> list[LoadReport]:
    """Load the sample through the facade (so ontologies get their closure and phenotypes their
    presence/absence inference); kinds without a loader yet are reported through ``on_skip``.
    Loading twice is a no-op."""
    loaders = {
        "ontology": g.load_ontology,
        "taxonomy": g.load_taxonomy,
        "tree": g.load_tree,
        "phenotypes": lambda path, name, **kw: g.load_phenotypes([path], **kw),
        "key": g.load_key,
        "predictions": lambda path, name, **kw: g.load_predictions(path, **kw),  # the model names the batch
    }
    reports: list[LoadReport] = []
    for item in SAMPLE:
        path = sample_dir() / item.file
        load = loaders.get(item.kind)
        if load is None:
            if on_skip:
                on_skip(item, f"no {item.kind} loader yet")
            continue
        kw = {"progress": progress_factory(item.file)} if progress_factory and item.kind == "phenotypes" else {}
        out = load(path, name=item.name, **kw)
        reports.extend(out if isinstance(out, list) else [out])
    if any(r.kind == "phenotypes" for r in reports):
        rec = g.infer_traits()
        log.info("presence/absence inference: %s (%s)", rec.iri, rec.status)
    return reports
