"""Inputs for knowledge-guided model training, from one pinned KG (the facade's ``kg.training``).

Phylogenetic distance matrices, hierarchical labels per taxonomic rank and per tree cut (fixed or
chosen from the data), ancestor paths, species-level trait expectation matrices with tiers,
seeded splits (random, leave-species-out, hold-out of whole clades by size, taxonomic rank or a
cut through the tree, with validation drawn by the same rule), checked image manifests with quality
weights, and exporters writing each trainer's files with a manifest of the graph versions used
(:mod:`kg.training.exporters`). Plain numpy / pandas; the torch ``Dataset`` is in ``gnn.datasets``.

>>> from kg import KnowledgeGraph
>>> from kg.demo import load_sample
>>> g = KnowledgeGraph.open("oxigraph:")
>>> _ = load_sample(g)
>>> t = g.training
>>> t.distance_matrix(["Danio rerio", "Danio albolineatus"]).tolist()
[[0.0, 44.0], [44.0, 0.0]]
>>> t.rank_labels(["Danio rerio"]).loc["Danio rerio", "family"]
'Danionidae'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ValidationError
from kg.core.graphs import GraphRecord, list_graphs
from kg.core.store import Store
from kg.training.images import ImageManifest, apply_quality, read_images
from kg.training.levels import Levels, ancestor_paths, check_levels, choose_cuts, level_groups
from kg.training.ranks import Taxonomy, rank_labels
from kg.training.splits import Split, clade_split, random_split, species_split
from kg.training.taxa import MIN_FRACTION, TaxonSet, match_taxa
from kg.training.traitmatrix import TraitMatrix, trait_matrix

__all__ = ["ImageManifest", "Levels", "Split", "TaxonSet", "TraitMatrix", "Training"]
log = logging.getLogger(__name__)


class Training:
    """Training inputs over one store (tree indices and taxonomy cached in the facade's cache)."""

    def __init__(self, store: Store, cache: dict[Any, Any] | None = None) -> None:
        self.store = store
        self._cache = cache if cache is not None else {}

    # ------------------------------------------------------------------ sources
    def tree(self, name: str | None = None) -> Any:
        """A loaded tree (:class:`kg.trees.Tree`), cached under the facade's key."""
        from kg.trees import cached_tree

        return cached_tree(self.store, self._cache, name)

    def taxonomy(self) -> Taxonomy:
        """The loaded taxonomy graphs (ranks, parents, OTT ids), read once."""
        if "training_taxonomy" not in self._cache:
            self._cache["training_taxonomy"] = Taxonomy.from_store(self.store)
        return self._cache["training_taxonomy"]

    @property
    def traits(self) -> Any:
        from kg.traits import Traits

        return Traits(self.store, self._cache)

    def taxa(self, taxa: Sequence[str] | None = None, *, tree: str | None = None,
             min_fraction: float = MIN_FRACTION) -> TaxonSet:
        """Match taxa to the tree's tips (every tip when ``None``); names that are not tips are
        reported, and fewer than ``min_fraction`` matched is refused."""
        t = self.tree(tree)
        ts = match_taxa(t.index, taxa, min_fraction=min_fraction, tree_name=t.name, resolve=self.resolver(tree))
        if ts.missing:
            log.warning("%s (every name in the report's missing_names)", ts.summary_line())
        return ts

    def resolver(self, tree: str | None = None) -> Any:
        """Names -> tip names of the tree through synonyms and external ids (no fuzzy matching):
        a function returning only the names it resolved."""
        from kg.core.names import resolver

        t = self.tree(tree)
        key = ("training_resolver", t.record.iri if t.record else t.name)

        def resolve(names: list[str]) -> dict[str, str]:
            if not names:
                return {}
            if key not in self._cache:  # built on the first name that is not a tip
                self._cache[key] = resolver(self.store, tree=t)
            out = {}
            for n, m in zip(names, self._cache[key].resolve(names, fuzzy=False)):
                if m.status == "matched" and m.matched_name:
                    out[n] = m.matched_name
            return out

        return resolve

    def graph_records(self, *, tree: str | None = None, traits: bool = False) -> list[GraphRecord]:
        """The manifest records of the graphs a training input is built from."""
        recs = [self.tree(tree).record] + list_graphs(self.store, kind="taxonomy")
        if traits:
            idx = self.traits.index
            recs += list(idx.phenotype_graphs) + list(idx.closure_graphs)
            recs += list_graphs(self.store, kind="inference")
        seen: dict[str, GraphRecord] = {}
        for r in recs:
            if r is not None:
                seen.setdefault(r.iri, r)
        return list(seen.values())

    # ------------------------------------------------------------------ matrices and labels
    def distance_matrix(self, taxa: Sequence[str] | TaxonSet | None = None, *, tree: str | None = None,
                        topological: bool = False, min_fraction: float = 1.0) -> np.ndarray:
        """K x K patristic (or ``topological``) distances, rows in the order of the matched taxa
        (``self.taxa(...)``; by default every name must be a tip)."""
        from kg.tree_distances import distance_matrix

        t = self.tree(tree)
        ts = taxa if isinstance(taxa, TaxonSet) else self.taxa(taxa, tree=tree, min_fraction=min_fraction)
        if not topological and not t.index.has_lengths:
            raise ValidationError(f"tree {t.name!r} has no branch lengths; ask for topological distances")
        return distance_matrix(t.index, ts.ids, topological=topological)

    def rank_labels(self, taxa: Sequence[str] | TaxonSet, ranks: Sequence[str] | None = None, *,
                    prefix: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Names per taxonomic rank (columns) for each taxon (rows), from the loaded taxonomy;
        ``prefix`` fills ranks above it (``{"kingdom": "Animalia"}``)."""
        tax = self.taxonomy()
        if not tax:
            raise ValidationError("no taxonomy is loaded: run `traitkg load taxonomy PATH` first")
        names = taxa.names if isinstance(taxa, TaxonSet) else list(taxa)
        return rank_labels(tax, names, ranks, dict(prefix or {}))

    def levels(self, taxa: Sequence[str] | TaxonSet | None = None, cuts: Sequence[float] | None = None, *,
               by: str = "auto", choose: str = "balanced", n_levels: int = 3, values: pd.DataFrame | None = None,
               tree: str | None = None, min_fraction: float = MIN_FRACTION, strict: bool = False) -> Levels:
        """Level groups at fixed ``cuts`` (ages, relative heights or depths), or ``n_levels`` cuts
        chosen from the data (``choose='balanced'`` or ``'signal'`` with trait ``values``). ``by='auto'``:
        ages on an ultrametric tree, else depths. Fewer levels than asked (few taxa, few distinct
        cuts) or a level of one group is a warning in every level's report (``strict``: an error)."""
        from kg.training.levels import ULTRAMETRIC_TOL

        t = self.tree(tree)
        if by == "auto":
            by = "age" if t.index.is_ultrametric(ULTRAMETRIC_TOL) else "depth"
        ts = taxa if isinstance(taxa, TaxonSet) else self.taxa(taxa, tree=tree, min_fraction=min_fraction)
        if cuts:
            return check_levels(level_groups(t.index, ts, cuts, by=by), len(cuts), len(ts.names), strict=strict)
        return check_levels(choose_cuts(t.index, ts, n_levels, method=choose, by=by, values=values), n_levels,
                            len(ts.names), strict=strict)

    def ancestor_paths(self, taxa: Sequence[str] | TaxonSet | None = None, *, tree: str | None = None,
                       names: bool = True) -> dict[str, list[Any]]:
        """Per taxon, its ancestors from the root to the tip."""
        t = self.tree(tree)
        ts = taxa if isinstance(taxa, TaxonSet) else self.taxa(taxa, tree=tree)
        return ancestor_paths(t.index, ts, names=names)

    def trait_matrix(self, taxa: Sequence[str] | TaxonSet, entities: Sequence[str] | None = None, *,
                     predicted: pd.DataFrame | None = None, min_taxa: int = 1) -> TraitMatrix:
        """Species-level trait expectations (presence 1, absence 0, polymorphic 0.5, missing NaN) with the
        tier of each cell; ``predicted`` (taxon x trait -> mean) adds columns of tier ``predicted``."""
        names = taxa.names if isinstance(taxa, TaxonSet) else list(taxa)
        has_pheno = bool(list_graphs(self.store, kind="phenotypes"))
        return trait_matrix(self.traits if has_pheno else None, names, entities, predicted=predicted,
                            min_taxa=min_taxa)

    # ------------------------------------------------------------------ splits and images
    def split(self, taxa: Sequence[str] | TaxonSet | None = None, *, method: str = "clade", seed: int = 0,
              fractions: Sequence[float] = (0.8, 0.1, 0.1), min_size: int = 2, max_size: int = 20,
              test: float = 0.2, val: float = 0.1, tree: str | None = None,
              min_fraction: float = MIN_FRACTION, rank: str = "genus", cut: float | None = None,
              strict: bool = False) -> Split:
        """A seeded split of the taxa. Whole groups held out for test, then validation by the same
        rule (``test``, ``val`` of the taxa): ``clade`` (clades of ``min_size..max_size`` taxa),
        ``rank`` (whole genera, families, orders...: ``rank``, from the loaded taxonomy), ``age``,
        ``depth`` or ``relative`` (whole clades below a ``cut`` through the tree); or
        leave-``species``-out and ``random`` (``fractions``). A set left empty although asked for is
        a warning in the report (``strict``: an error)."""
        from kg.training.groupsplit import CUT_SPLITS, cut_groups, group_split, rank_groups

        if method in ("clade", "rank") + CUT_SPLITS:
            t = self.tree(tree)
            ts = taxa if isinstance(taxa, TaxonSet) else self.taxa(taxa, tree=tree, min_fraction=min_fraction)
            if method == "clade":
                return clade_split(t.index, ts, min_size=min_size, max_size=max_size, test=test, val=val, seed=seed,
                                   strict=strict)
            if method == "rank":
                labels = self.rank_labels(ts, [rank])
                present = self.taxonomy().ranks_present()
                if rank not in present:
                    raise ValidationError(f"rank {rank!r} is not in the loaded taxonomy; ranks present: "
                                          f"{', '.join(present)}")
                groups, missing = rank_groups(labels, rank)
                groups = dict(zip(ts.names, groups.values()))
                if missing:
                    log.warning("split by %s: %d of %d taxa have no %s in the taxonomy and stand alone, e.g. %s",
                                rank, len(missing), len(ts.names), rank, ", ".join(missing[:5]))
                return group_split(groups, test=test, val=val, seed=seed, method="rank", rule={"rank": rank},
                                   strict=strict, ungrouped=missing)
            if cut is None:
                raise ValidationError(f"a split by {method} needs a cut (the {method} where clades are cut)")
            return group_split(cut_groups(t.index, ts, cut, method), test=test, val=val, seed=seed, method=method,
                               rule={"cut": float(cut), "by": method}, strict=strict)
        names = taxa.names if isinstance(taxa, TaxonSet) else (
            list(taxa) if taxa is not None else self.taxa(None, tree=tree).names)
        if method == "species":
            return species_split(names, fractions=fractions, seed=seed, strict=strict)
        if method == "random":
            return random_split(names, fractions=fractions, seed=seed, strict=strict)
        raise ValidationError(f"split method {method!r}: expected clade, rank, age, depth, relative, species or random")

    def images(self, table: str | Path | pd.DataFrame, *, tree: str | None = None, root: str | Path | None = None,
               check_files: bool = True, strict: bool = False, weight: str | None = None,
               higher_is_better: bool = True, min_quality: Mapping[str, float] | None = None,
               max_quality: Mapping[str, float] | None = None, id_column: str | None = None,
               path_column: str | None = None, taxon_column: str | None = None, warn: bool = True) -> ImageManifest:
        """An image manifest checked against the tree's tips and the file system, with quality filters
        and a ``weight`` column from a quality column. The image id, file path and taxon columns are
        found by name (``image_id``, ``id``, ``ark_id``, ``camid``...; ``path``, ``file_path``...;
        ``taxon``, ``species``, ``scientific_name``...) unless ``id_column``, ``path_column`` or
        ``taxon_column`` name them (e.g. ``id_column="X"``). Every row left out (off-tree taxon,
        missing file, duplicate id, quality filter) is in ``problems`` with its line and reason, and
        a run that leaves rows out logs one warning line (counts per reason, the first ids)."""
        tips = self.taxa(None, tree=tree).names
        m = read_images(table, root=root, known_taxa=tips, check_files=check_files, strict=strict,
                        resolve=self.resolver(tree), id_column=id_column, path_column=path_column,
                        taxon_column=taxon_column)
        if weight or min_quality or max_quality:
            m.quality = apply_quality(m, weight=weight, higher_is_better=higher_is_better,
                                      min_quality=min_quality, max_quality=max_quality)
        line = m.summary_line() if warn else None
        if line:
            log.warning("%s", line)
        return m

    def image_labels(self, images: str | Path | pd.DataFrame | ImageManifest, *, tree: str | None = None,
                     cuts: Sequence[float] | None = None, by: str = "auto", n_levels: int = 3,
                     choose: str = "balanced", ranks: Sequence[str] | None = None,
                     lineage: Mapping[str, str] | None = None, traits: bool = True,
                     entities: Sequence[str] | None = None, predicted: pd.DataFrame | None = None,
                     split: str | Split | None = "species", seed: int = 0, **image_options: Any) -> Any:
        """An image manifest joined with every label (:class:`kg.training.labels.ImageLabels`): species,
        ranks, level groups, trait expectations with masks, split and weights; what
        ``gnn.datasets.TraitImageDataset`` serves. ``image_options`` go to :meth:`images`: ``root``,
        ``id_column`` / ``path_column`` / ``taxon_column`` (the manifest's columns when not found by
        name, e.g. ``id_column="CAMID"`` or ``"X"``), ``check_files``, ``strict``, ``weight`` and the
        quality bounds."""
        from kg.training.labels import build_image_labels

        m = images if isinstance(images, ImageManifest) else self.images(images, tree=tree, **image_options)
        if m.frame.empty:
            raise ValidationError(f"no usable image in the manifest ({len(m.problems)} rows left out; "
                                  f"first: {m.problems[0]['message'] if m.problems else 'none'})")
        ts = self.taxa(sorted(set(m.frame["taxon"])), tree=tree)
        rk = self.rank_labels(ts, ranks, prefix=lineage) if self.taxonomy() else None
        lv = self.levels(ts, cuts, by=by, choose=choose, n_levels=n_levels, tree=tree) if len(ts.names) > 2 or cuts \
            else None
        tm = self.trait_matrix(ts, entities, predicted=predicted) if traits else None
        sp = split if isinstance(split, Split) or split is None else self.split(ts, method=split, seed=seed, tree=tree)
        out = build_image_labels(m, rk, lv, tm, sp)
        out.report["images"] = m.report()
        return out

    # ------------------------------------------------------------------ exports
    def export(self, directory: str | Path, formats: Sequence[str], **spec: Any) -> dict[str, Any]:
        """Write the trainers' input files (see :mod:`kg.training.exporters`) and ``manifest.json``."""
        from kg.training.exporters import ExportSpec, export

        return export(self, Path(directory), ExportSpec(formats=list(formats), **spec))

    def reproduce(self, manifest: str | Path, directory: str | Path) -> dict[str, Any]:
        """Re-run an export from its ``manifest.json`` after checking the store holds the same graph
        versions; returns the new manifest with ``reproduced`` (file -> identical?)."""
        from kg.training.exporters import reproduce

        return reproduce(self, Path(manifest), Path(directory))
