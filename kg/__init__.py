"""traitkg: a knowledge graph linking organismal traits to phylogeny.

The Python API. The CLI and the web API only call this.

>>> from kg import KnowledgeGraph
>>> g = KnowledgeGraph.open("oxigraph:")          # in memory; default: oxigraph:./traitkg-data
>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.ttl"
>>> _ = p.write_text('<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .')
>>> g.load_rdf(p, name="toy").status
'loaded'
>>> g.query("SELECT ?l WHERE { ?s rdfs:label ?l }").values()
[('a',)]
>>> tmp.cleanup()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.core import graphs as _graphs
from kg.core.errors import TraitKGError
from kg.core.store import SelectResult, Store, Term, Triple, open_store, query_kind
from kg.core.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from loaders.report import LoadReport

__all__ = ["KnowledgeGraph", "TraitKGError", "__version__", "open_store"]


class KnowledgeGraph:
    """The facade: a store plus everything traitkg knows how to do with it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Any] = {}

    @classmethod
    def open(cls, selector: str | None = None) -> KnowledgeGraph:
        """Open a store by selector (``oxigraph:PATH``, ``oxigraph:``, ``sparql:URL``;
        default ``$TRAITKG_STORE`` or ``oxigraph:./traitkg-data``)."""
        store = open_store(selector)
        from kg.core.recovery import owns, recover

        if owns(store):  # the only writer: clear what a killed write left (kg.core.recovery)
            recover(store)
        return cls(store)

    @property
    def selector(self) -> str:
        return self.store.selector

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KnowledgeGraph({self.selector!r})"

    def invalidate(self) -> None:
        """Forget cached derived views (indices, closures) after the store changed."""
        self._cache.clear()

    # loading -----------------------------------------------------------------------------------
    def load(self, path: str | Path, *, format: str | None = None, kind: str | None = None,
             name: str | None = None, version: str | None = None, **options: Any) -> LoadReport:
        """Load any supported source; the loader is picked by ``format`` or file extension."""
        from kg.core.sources import Source
        from loaders import loader_for

        src = Source.resolve(path)
        mod = loader_for(format, extension=src.format_hint, kind=kind)
        if format and format not in mod.FORMATS[:1] and "fmt" not in options:
            options["fmt"] = format
        report = mod.load(self.store, src, name=name, version=version, **options)
        self.invalidate()
        return report

    def load_rdf(self, path: str | Path, *, name: str | None = None, version: str | None = None,
                 format: str | None = None, kind: str = "rdf", **options: Any) -> LoadReport:
        """Load an RDF file (Turtle, N-Triples, N-Quads, RDF/XML, JSON-LD; ``.gz`` too)."""
        from loaders import rdf

        report = rdf.load(self.store, path, name=name, version=version, fmt=format, kind=kind, **options)
        self.invalidate()
        return report

    # ontologies --------------------------------------------------------------------------------
    def load_ontology(self, path_or_url: str | Path, *, name: str | None = None, version: str | None = None,
                      closure: bool = True, lenient: bool = False, import_map: Any = None,
                      syntax: str | None = None, closure_properties: Sequence[str] | None = None,
                      progress: Any = None, **options: Any) -> LoadReport:
        """Load an ontology (OBO or OWL, path or URL, ``.gz``; owl:imports resolved through the
        catalogue) and, unless ``closure=False``, materialise its closure graphs (every property, or
        only ``closure_properties``: names such as ``part_of``, CURIEs or IRIs). ``progress(done,
        total)`` follows the parse (bytes) and, per stage where it has stages, the closure."""
        from loaders import ontology

        report = ontology.load(self.store, path_or_url, name=name, version=version, lenient=lenient,
                               import_map=import_map, syntax=syntax, progress=progress, **options)
        if closure:  # saturated over every loaded ontology; the other ontologies' closures follow
            from kg.core.graphs import graph_iri
            from ontologies.closure.loaded import refresh, want_closure, wanted_for

            own = [report.graph, *report.counts.get("imports", [])]
            props = self._closure_properties(closure_properties)
            w = wanted_for(own, name=report.name, version=report.version, properties=props)
            want_closure(self.store, w)  # durable: a killed load leaves it asked for (graphs --stale)
            results = refresh(self.store, [w], progress=progress)
            res = next(r for r in results if r.graph == graph_iri("closure", report.name, report.version))
            report.counts["closure_triples"] = res.triples
            report.counts["nonredundant_triples"] = res.nonredundant_triples
        self.invalidate()
        return report

    @staticmethod
    def _closure_properties(properties: Sequence[str] | None) -> list[str] | None:
        from kg.terms import predicate_iri

        return [predicate_iri(p) for p in properties] if properties is not None else None

    def refresh_closures(self) -> list[Any]:
        """Bring every ontology's closure up to date with the loaded ontologies (after a load with
        ``closure=False``, a reload or a drop): one saturation over all of them (see
        :mod:`ontologies.closure.loaded`). Unchanged closures are no-ops."""
        from ontologies.closure.loaded import refresh

        out = refresh(self.store)
        self.invalidate()
        return out

    def stale(self) -> list[dict[str, str]]:
        """Derived graphs that no longer match their inputs: graph, reason and the command that
        rebuilds it (closures that miss a loaded ontology, inference over changed graphs...)."""
        from kg.core.graphs import stale_derived
        from ontologies.closure.loaded import REFRESH_COMMAND, stale_closures

        out = {s.graph: s.to_dict() for s in stale_closures(self.store)}
        commands = {"closure": REFRESH_COMMAND, "inference": "traitkg infer"}
        for rec, why in stale_derived(self.store):
            if rec.iri not in out:
                cmd = commands.get(rec.kind, f"reload {rec.kind}/{rec.name}")
                if rec.kind == "closure" and rec.parameters.get("scope") is None:
                    names = " ".join(g.split("/graph/", 1)[-1] for g in rec.derived_from)
                    cmd = (f"traitkg closure {names} --name {rec.name.removesuffix('-nonredundant')} "
                           f"--version {rec.version}")
                out[rec.iri] = {"graph": rec.iri, "reason": why, "command": cmd}
        return list(out.values())

    def closure(self, graphs: list[str], *, name: str, version: str, properties: Sequence[str] | None = None) -> Any:
        """Materialise the closure of ontology graphs as ``closure/<name>/<version>`` and
        ``closure/<name>-nonredundant/<version>`` (see :mod:`ontologies.closure`), for every
        property or only ``properties`` (names such as ``part_of``, CURIEs or IRIs)."""
        from ontologies.closure import materialise

        out = materialise(self.store, graphs, name=name, version=version,
                          properties=self._closure_properties(properties))
        self.invalidate()
        return out

    @property
    def terms(self) -> Any:
        """The term index (:class:`kg.terms.TermIndex`), built once per ontology version and kept on disk."""
        if "terms" not in self._cache:  # kept on disk per graph version (kg.term_cache)
            from kg.term_cache import open_terms

            self._cache["terms"] = open_terms(self.store)
        return self._cache["terms"]

    def ontology_diff(self, a: str, b: str) -> Any:
        """Terms added / removed, labels changed and obsoletions between two ontology releases."""
        from ontologies.diff import diff_ontologies

        return diff_ontologies(self.store, a, b)

    def check_ontology(self, ref: str, *, reasoner: str = "hermit") -> Any:
        """Unsatisfiable classes and consistency of a loaded ontology (owlready2 + HermiT/Pellet)."""
        from ontologies.check import check_graph

        return check_graph(self.store, self.graph(ref).iri, reasoner=reasoner)

    # trees and taxa ----------------------------------------------------------------------------
    def load_tree(self, path: str | Path, *, name: str | None = None, format: str | None = None,
                  version: str | None = None, progress: Any = None, **options: Any) -> LoadReport:
        """Load a tree (Newick, NEXUS, NeXML; ``format`` or the extension decides) into its own
        graph and build its index. Options: ``tree`` (index or name), ``internal_labels``;
        ``progress(done, total)`` follows the parse, the write and the index (one stage each where
        the callback has stages: :func:`kg.core.bulk.stage`)."""
        from kg.core.bulk import stage
        from kg.core.sources import Source
        from kg.taxon_names import keep, tips_share
        from kg.trees import open_tree
        from loaders import loader_for

        src = Source.resolve(path)
        ext = "nexml" if src.format_hint == "xml" and not format else src.format_hint
        mod = loader_for(format, extension=ext, kind="tree")
        report = mod.load(self.store, src, name=name, version=version, progress=progress, **options)
        self.invalidate()
        parsed = getattr(report, "parsed", None)
        if report.status == "loaded" and parsed is not None:
            keep(self.store, report.graph, tips_share(parsed))  # its names: no resolver reads the tree back
            bar = stage(progress, "index", "tree")
            if bar:
                bar(0, 1)
            self._cache[("tree", report.graph)] = open_tree(self.store, report.graph, parsed=parsed)
            if bar:
                bar(1, 1)
        return report

    def load_taxonomy(self, path: str | Path, *, name: str | None = None, version: str | None = None,
                      **options: Any) -> LoadReport:
        """Load a classification table (CSV/TSV: rank columns, optional synonyms, ids and common
        names). Options: ``columns`` (role -> column, e.g. ``{"order": "ORDER1", "ott": "OTT_ID"}``),
        ``delimiter``, ``lenient`` (see :mod:`loaders.taxonomy` and docs/formats/taxonomy.md)."""
        from kg.taxon_names import keep, taxa_share
        from loaders import taxonomy

        report = taxonomy.load(self.store, path, name=name, version=version, **options)
        self.invalidate()
        table = report.__dict__.pop("parsed", None)  # the table is let go with this call
        if report.status == "loaded" and table is not None:
            keep(self.store, report.graph, taxa_share(table))  # its names: no resolver reads the taxonomy back
        return report

    def tree(self, name: str | None = None) -> Any:
        """A loaded tree (:class:`kg.trees.Tree`) backed by its cached array index."""
        from kg.trees import cached_tree

        return cached_tree(self.store, self._cache, name)

    def resolve(self, names: Any, *, tree: str | None = None, fuzzy: bool = True) -> list[Any]:
        """Resolve taxon names to taxon nodes; one :class:`kg.core.names.NameMatch` per name, never
        an error for the batch. With ``tree``, resolve against that tree's tips."""
        from kg.core.names import resolver
        from kg.taxon_names import store_resolver

        key = ("resolver", tree)
        if key not in self._cache:
            self._cache[key] = resolver(self.store, tree=self.tree(tree)) if tree else store_resolver(self.store)
        return self._cache[key].resolve([names] if isinstance(names, str) else list(names), fuzzy=fuzzy)

    # phenotypes and traits ---------------------------------------------------------------------
    def load_phenotypes(self, paths: Any, *, lenient: bool = False, progress: Any = None, infer: bool = False,
                        **options: Any) -> list[LoadReport]:
        """Load Phenex NeXML matrices (files or directories), one ``phenotypes`` graph per file. With
        ``infer``, the presence/absence inference graph (:meth:`infer_traits`) is made in the same
        batch (one load, listed with the matrices; all or nothing) and the answer's ``inference``
        is its record."""
        from kg.phenoindex import part_from_ntriples
        from kg.taxon_names import store_resolver
        from loaders import phenex

        parts = {}  # what the phenotype index reads from each graph written, from its N-Triples (no read-back)

        def keep(graph: str, data: bytes) -> None:
            parts[graph] = part_from_ntriples(data)

        inferred: list[Any] = []

        def then(batch: Any, feed: Any) -> None:
            inferred.append(self.traits.infer_batch(batch, feed, parts))

        options.setdefault("resolver", store_resolver(self.store))
        try:
            reports = phenex.load_many(self.store, [paths] if isinstance(paths, (str, Path)) else list(paths),
                                       lenient=lenient, progress=progress, on_written=keep,
                                       then=then if infer else None, **options)
        finally:
            self.invalidate()
        if not infer:
            self._cache["phenoparts"] = parts  # used once, by the next phenotype index build
        out = PhenotypeReports(reports)
        out.inference = inferred[0] if inferred else None
        return out

    @property
    def traits(self) -> Any:
        """Trait queries and presence/absence inference (:class:`kg.traits.Traits`)."""
        from kg.traits import Traits

        return Traits(self.store, self._cache)

    def rollup(self, clade: str, *, tree: str | None = None) -> dict[str, Any]:
        """A genus, family or any clade: its species' traits with the species behind each call and
        its tips on a loaded tree (``tree``; default the only one loaded, else no tips), see
        :mod:`kg.traits.rollup`."""
        from kg.core.graphs import list_graphs
        from kg.traits.rollup import rollup

        trees = {r.name for r in list_graphs(self.store, kind="tree")}
        t = self.tree(tree) if tree or len(trees) == 1 else None
        return rollup(self.traits, clade, tree=t)

    def infer_traits(self, **kw: Any) -> Any:
        """Write presence/absence calls with evidence into a derived ``inference`` graph."""
        rec = self.traits.infer(**kw)
        return rec

    @property
    def predictions(self) -> Any:
        """ML predictions from images: load batches, summaries, accuracy, agreement
        (:class:`kg.predictions.Predictions`)."""
        from kg.predictions import Predictions

        return Predictions(self.store, self._cache, kg=self)

    def load_predictions(self, path: str | Path, **options: Any) -> LoadReport:
        """Load one batch of ML predictions (see :meth:`kg.predictions.Predictions.load`)."""
        return self.predictions.load(path, **options)

    @property
    def similarity(self) -> Any:
        """Semantic similarity over the phenotype corpus (:class:`kg.similarity.Similarity`)."""
        if "similarity" not in self._cache:
            from kg.similarity import Similarity

            self._cache["similarity"] = Similarity(self.traits)
        return self._cache["similarity"]

    # identification keys -----------------------------------------------------------------------
    def load_key(self, path: str | Path, *, format: str | None = None, name: str | None = None,
                 version: str | None = None, **options: Any) -> LoadReport:
        """Load a key: KeyBase CSV/TSV or project export zip, or TDWG SDD XML (``format`` or the
        file's content decides). Every key is validated; problems come back in the report."""
        from kg.core.sources import Source
        from kg.keys.files import key_loader

        src = Source.resolve(path)
        report = key_loader(src, format).load(self.store, src, name=name, version=version, **options)
        self.invalidate()
        return report

    @property
    def keys(self) -> Any:
        """Identification keys: list, show, validate, identify, batch (:class:`kg.keys.Keys`)."""
        from kg.keys import Keys

        return Keys(self.store, self._cache)

    @property
    def training(self) -> Any:
        """Inputs for knowledge-guided model training (:class:`kg.training.Training`): distance matrices,
        rank and level labels, trait expectations, splits, image manifests, trainer exports."""
        from kg.training import Training

        return Training(self.store, self._cache)

    @property
    def comparative(self) -> Any:
        """Phylogenetic comparative methods on KG traits and trees, written back as derived
        ``comparative`` graphs (:class:`kg.comparative.api.Comparative`)."""
        from kg.comparative.api import Comparative

        return Comparative(self)

    # hypotheses (written by gnn, read here through SPARQL) ---------------------------------------
    def hypotheses(self, **filters: Any) -> list[dict[str, Any]]:
        """Hypotheses of the ``hypotheses`` graphs, most confident first (filters: ``run``,
        ``subject``, ``predicate``, ``object``, ``method``, ``min_score``); see :mod:`kg.hypotheses`."""
        from kg.hypotheses import list_hypotheses

        return list_hypotheses(self.store, **filters)

    def hypothesis_runs(self) -> list[dict[str, Any]]:
        """The hypotheses runs with their provenance, gate and metrics, newest first."""
        from kg.hypotheses import list_runs

        return list_runs(self.store)

    # querying ----------------------------------------------------------------------------------
    def query(self, sparql: str, bindings: Mapping[str, Term] | None = None,
              *, union_default_graph: bool = True) -> SelectResult | bool | list[Triple]:
        """Run a SPARQL query. Values are bound, never pasted into the text. The default graph
        is the union of all graphs unless ``union_default_graph=False``. The project's prefixes
        (``rdfs:``, ``UBERON:``, ``tkg:``, ...) are declared for you."""
        from ontologies.prefixes import prologue_for

        kind = query_kind(sparql)
        sparql = prologue_for(sparql) + sparql
        if kind == "SELECT":
            return self.store.select(sparql, bindings, union_default_graph=union_default_graph)
        if kind == "ASK":
            return self.store.ask(sparql, bindings, union_default_graph=union_default_graph)
        return self.store.construct(sparql, bindings, union_default_graph=union_default_graph)

    # graphs and provenance ---------------------------------------------------------------------
    def graphs(self, *, kind: str | None = None, name: str | None = None) -> list[_graphs.GraphRecord]:
        """The manifest: every loaded or derived graph with its provenance."""
        return _graphs.list_graphs(self.store, kind=kind, name=name)

    def graph(self, ref: str) -> _graphs.GraphRecord:
        """One graph by IRI, ``kind/name/version``, or ``kind/name`` / ``name`` (latest version)."""
        return _graphs.get_graph(self.store, ref)

    def drop(self, ref: str) -> _graphs.GraphRecord:
        """Drop a graph and its manifest entry; a prediction batch's side table (its per-image rows
        in Parquet) goes with it, after it (:mod:`kg.core.tables`)."""
        from kg.core import tables

        rec = _graphs.drop_graph(self.store, ref)
        if rec.kind == tables.TABLE_KIND:
            tables.drop_table(self.store, rec)
        else:
            tables.drop_tables_of(self.store, rec.iri)
        self.invalidate()
        return rec

    def diff(self, a: str, b: str, *, sample: int = 10) -> _graphs.GraphDiff:
        """Triples added and removed between two graphs (e.g. two releases of one source)."""
        return _graphs.diff_graphs(self.store, a, b, sample=sample)

    def export(self, directory: str | Path, **kw: Any) -> dict[str, Any]:
        """Write a KG release: every graph as N-Quads plus ``release.json`` with checksums."""
        from kg.core.releases import export_release

        return export_release(self.store, directory, **kw)

    def import_release(self, directory: str | Path, **kw: Any) -> dict[str, Any]:
        """Restore a release written by :meth:`export` (checksums verified first)."""
        from kg.core.releases import import_release

        out = import_release(self.store, directory, **kw)
        self.invalidate()
        return out


class PhenotypeReports(list):
    """The reports of :meth:`KnowledgeGraph.load_phenotypes` (a list, one per file) and ``inference``:
    the inference graph's record when the load made it, else None."""

    inference: Any = None
