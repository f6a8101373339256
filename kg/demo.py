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

from kg.errors import UnknownFormat

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
    """Load every sample file for which a loader of its kind exists; report the others through
    ``on_skip`` (a later issue's loader will pick them up). Loading twice is a no-op."""
    from loaders import loader_for
    from loaders.source import Source

    reports = []
    for item in SAMPLE:
        path = sample_dir() / item.file
        if not path.is_file():
            if on_skip:
                on_skip(item, "file not bundled yet")
            continue
        src = Source.resolve(path)
        try:
            mod = loader_for(extension=src.format_hint, kind=item.kind)
        except UnknownFormat:
            if item.kind == "ontology":  # no dedicated ontology loader: the generic RDF loader will do
                reports.append(g.load_rdf(path, name=item.name, kind="ontology"))
                continue
            if on_skip:
                on_skip(item, f"no {item.kind} loader installed")
            continue
        kw = {"progress": progress_factory(item.file)} if progress_factory else {}
        reports.append(mod.load(g.store, src, name=item.name, **kw))
        g.invalidate()
    return reports
