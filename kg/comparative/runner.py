"""Comparative methods on KG data: a trait on a loaded tree, a method, and the result written back
as a derived graph (kind ``comparative``) with provenance -- the "hypothesised" tier.

>>> from kg import KnowledgeGraph
>>> import tempfile, pathlib
>>> g = KnowledgeGraph.open("oxigraph:")
>>> tmp = tempfile.TemporaryDirectory()
>>> p = pathlib.Path(tmp.name) / "t.nwk"
>>> _ = p.write_text("((A_a:1,B_b:1):1,(C_c:1,D_d:1):1);")
>>> _ = g.load_tree(p, name="toy")
>>> trait = Trait.from_rows([("A a", "0"), ("B b", "0"), ("C c", "1"), ("D d", "1"), ("E e", "1")], name="spines")
>>> a = g.comparative.run("toy", trait, "fitch")
>>> a.result["score"], a.match["unmatched_taxa"]
(1, ['E e'])
>>> g.query("SELECT (COUNT(?n) AS ?c) WHERE { ?n a tkg:AncestralStateEstimate }").values()
[('3',)]
>>> tmp.cleanup()
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kg.comparative.data import TipMatch, Trait, match_tips, presence_trait
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError
from kg.core.graphs import BASE, TKG, GraphRecord, derived_sha, load_graph, slug
from kg.core.store import NamedNode, Quad, Store, typed_literal

DISCRETE = ("fitch", "mk-er", "mk-sym", "mk-ard")
CONTINUOUS = ("bm", "lambda", "k", "impute")
MULTIVARIATE = ("impute-mv",)
REGRESSION = ("pgls",)
METHODS = DISCRETE + CONTINUOUS + MULTIVARIATE + REGRESSION
KIND = "comparative"
VERSION = "1"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD = "http://www.w3.org/2001/XMLSchema#"


@dataclass
class Analysis:
    """One method run on one trait and tree: the numbers (``result``), per-node states
    (``nodes``: original tree node id -> dict) and, once written, the graph record."""

    method: str
    parameters: dict[str, Any]
    tree: str
    tree_graph: str
    trait: Trait
    match: dict[str, Any]
    result: dict[str, Any]
    nodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    taxa: dict[str, dict[str, Any]] = field(default_factory=dict)
    phylo: PhyloTree | None = None
    tip_values: dict[str, Any] = field(default_factory=dict)
    record: GraphRecord | None = None
    predictors: dict[str, dict[str, float]] = field(default_factory=dict)  # pgls: name -> tip -> value

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "parameters": self.parameters, "tree": self.tree,
                "tree_graph": self.tree_graph, "trait": self.trait.name, "trait_sources": self.trait.sources,
                "match": self.match, "result": self.result,
                "nodes": [{"node": k, **v} for k, v in sorted(self.nodes.items())],
                "imputed": [{"taxon": k, **v} for k, v in sorted(self.taxa.items())],
                "graph": self.record.iri if self.record else None}


def run(kg: Any, tree: str | None, trait: Trait | str, method: str, *, write: bool = True,
        name: str | None = None, minimum: int = 3, fuzzy: bool = False, nsim: int = 0, seed: int = 0,
        predictors: Mapping[str, Trait | Mapping[str, float]] | None = None, model: str = "BM",
        lam: float | None = None, estimation: str = "ML", vcv: str = "covariance") -> Analysis:
    """Run ``method`` (one of :data:`METHODS`) on ``trait`` over the tips of loaded tree ``tree``
    (``trait`` may be an entity CURIE: its presence/absence calls) and write the result.

    ``pgls`` regresses ``trait`` (the response) on ``predictors`` (name -> :class:`Trait` or
    taxon -> number) over the matched taxa with every value (the others are reported in
    ``result["left_out"]``), under ``model`` ``"BM"`` or ``"lambda"`` (``lam`` fixes it, else ML),
    ``estimation`` ``"ML"`` or ``"REML"``, with the tree's ``vcv="covariance"`` or nlme's
    ``"correlation"`` (see :mod:`kg.comparative.pgls`)."""
    if method not in METHODS:
        raise ValidationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(trait, str):
        trait = presence_trait(kg.traits, trait)
    if method in DISCRETE and trait.kind != "discrete":
        trait = trait.as_discrete()  # integer codes (0/1) are states
    if method in DISCRETE and trait.kind != "discrete":
        raise ValidationError(f"{method} needs a discrete trait; {trait.name!r} is continuous")
    if method in MULTIVARIATE and trait.kind != "multivariate":
        raise ValidationError(f"{method} needs several continuous traits (Trait.read_columns); {trait.name!r} is {trait.kind}")
    if method in CONTINUOUS + REGRESSION and trait.kind != "continuous":
        raise ValidationError(f"{method} needs a continuous trait; {trait.name!r} is discrete")
    t = kg.tree(tree)
    m = match_tips(t, trait, minimum=minimum, store=kg.store, fuzzy=fuzzy)
    params: dict[str, Any] = {"method": method, "minimum": minimum}
    if method == "k":
        params.update(nsim=nsim, seed=seed)
    rec = t.record
    a = Analysis(method, params, t.name, rec.iri if rec else "", trait, m.summary(), {})
    if method == "pgls":
        from kg.comparative.regression import fit_pgls, pgls_tips

        a.parameters.update(model=model, lam=lam, estimation=estimation, vcv=vcv)
        pt = PhyloTree.from_index(t.index, pgls_tips(a, t.index, m, predictors, minimum=minimum))
        a.phylo = pt
        fit_pgls(a, pt)
        if write:
            a.record = write_analysis(kg.store, a, name=name)
        return a
    if method in ("impute", "impute-mv"):
        pt = PhyloTree.from_index(t.index)
    else:
        pt = PhyloTree.from_index(t.index, m.tips)
    a.phylo, a.tip_values = pt, m.values
    _compute(a, pt, m, nsim, seed)
    if write:
        a.record = write_analysis(kg.store, a, name=name)
    return a


def _orig(pt: PhyloTree, v: int) -> int:
    return int(pt.source["nodes"][v])


def _compute(a: Analysis, pt: PhyloTree, m: TipMatch, nsim: int, seed: int) -> None:
    from kg.comparative import continuous, signal

    method = a.method
    if method in DISCRETE:
        from kg.comparative.characters import encode

        chars = encode(pt, m.values)
        if method == "fitch":
            from kg.comparative.parsimony import fitch, sankoff

            f = fitch(pt, chars)
            s = sankoff(pt, chars)
            sets = s.sets(0)
            a.result = {"score": int(f.score[0]), "states": chars.states}
            for v in np.flatnonzero(~pt.is_tip).tolist():
                a.nodes[_orig(pt, v)] = {"parsimony_states": sets[v]}
            return
        from kg.comparative.mk import fit_mk

        fit = fit_mk(pt, chars, method.split("-")[1].upper())
        a.result = {k: v for k, v in fit.to_dict(pt).items() if k != "nodes"}
        for v, probs, j in zip(fit.nodes.tolist(), fit.marginal, fit.joint.tolist()):
            a.nodes[_orig(pt, v)] = {"marginal": dict(zip(chars.states, map(float, probs))),
                                     "most_likely": chars.states[int(np.argmax(probs))],
                                     "joint": chars.states[j]}
        return
    if method == "bm":
        r = continuous.bm_ancestral(pt, m.values)
        lo, hi = r.ci()
        a.result = {"sigma2": r.sigma2, "sigma2_ml": r.sigma2_ml, "loglik": r.loglik, "n": r.n}
        for i, v in enumerate(r.nodes.tolist()):
            a.nodes[_orig(pt, v)] = {"estimate": float(r.states[i]), "variance": float(r.var[i]),
                                     "ci95": [float(lo[i]), float(hi[i])]}
    elif method == "lambda":
        a.result = signal.pagel_lambda(pt, m.values, m.se).to_dict()
    elif method == "k":
        a.result = signal.blomberg_k(pt, m.values, m.se, nsim=nsim, seed=seed).to_dict()
    elif method == "impute":
        r = continuous.impute(pt, m.values, m.se)
        a.result = {"sigma2": r.sigma2, "root": r.root, "n_imputed": len(r.taxa)}
        for tx, mu, var in zip(r.taxa, r.mean.tolist(), r.var.tolist()):
            a.taxa[tx] = {"estimate": mu, "variance": var}
    elif method == "impute-mv":
        from kg.comparative.multivariate import impute_mv

        cols = a.trait.columns or []
        r = impute_mv(pt, m.values)
        a.result = {"traits": cols, "R": r.R.tolist(), "root": r.root.tolist(), "loglik": r.loglik,
                    "n_taxa_imputed": len(r.taxa)}
        for tx, miss, mu, cov in zip(r.taxa, r.traits_missing, r.mean, r.var):
            a.taxa[tx] = {"estimates": {cols[j]: float(mu[i]) for i, j in enumerate(miss)},
                          "variances": {cols[j]: float(cov[i, i]) for i, j in enumerate(miss)}}


# --------------------------------------------------------------------------- write-back

_SCALARS = {"loglik": "logLikelihood", "lambda": "pagelLambda", "K": "blombergK", "p_value": "pValue",
            "sigma2": "sigma2", "score": "parsimonyScore", "loglik0": "logLikelihoodNull", "aic": "aic",
            "sigma": "residualSigma"}


def analysis_quads(a: Analysis, graph: str, iri: str) -> list[Quad]:
    from loaders.cdao import node_iri, tree_iri

    g = NamedNode(graph)
    s = NamedNode(iri)
    q: list[Quad] = []

    def add(subj: NamedNode, pred: str, obj: Any) -> None:
        q.append(Quad(subj, NamedNode(pred), obj if isinstance(obj, NamedNode) else typed_literal(obj), g))

    add(s, RDF_TYPE, NamedNode(TKG + "ComparativeAnalysis"))
    add(s, RDFS_LABEL, f"{a.method} of {a.trait.name} on {a.tree}")
    add(s, TKG + "method", a.method)
    add(s, TKG + "traitName", a.trait.name)
    add(s, TKG + "onTree", NamedNode(tree_iri(a.tree)))
    add(s, TKG + "tier", "hypothesised")
    add(s, TKG + "matchedTaxa", int(a.match["matched"]))
    add(s, TKG + "unmatchedTaxa", int(a.match["unmatched"]))
    add(s, TKG + "resultJson", json.dumps(a.result, sort_keys=True, default=float))
    add(s, TKG + "tipMatchJson", json.dumps(a.match, sort_keys=True))
    for k, p in _SCALARS.items():
        v = a.result.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None:
            add(s, TKG + p, float(v) if k != "score" else int(v))
    for nid, d in a.nodes.items():
        e = NamedNode(f"{iri}/node/{nid}")
        add(e, RDF_TYPE, NamedNode(TKG + "AncestralStateEstimate"))
        add(e, TKG + "analysis", s)
        add(e, TKG + "atNode", NamedNode(node_iri(a.tree, nid)))
        add(e, TKG + "tier", "hypothesised")
        for st in d.get("parsimony_states", []):
            add(e, TKG + "parsimonyState", st)
        if "marginal" in d:
            add(e, TKG + "mostLikelyState", d["most_likely"])
            add(e, TKG + "jointState", d["joint"])
            for st, pr in d["marginal"].items():
                sp = NamedNode(f"{iri}/node/{nid}/state/{slug(st)}")
                add(e, TKG + "stateProbability", sp)
                add(sp, RDF_TYPE, NamedNode(TKG + "StateProbability"))
                add(sp, TKG + "stateLabel", st)
                add(sp, TKG + "probability", float(pr))
        if "estimate" in d:
            add(e, TKG + "estimate", d["estimate"])
            add(e, TKG + "variance", d["variance"])
            add(e, TKG + "ciLower", d["ci95"][0])
            add(e, TKG + "ciUpper", d["ci95"][1])
    for c in a.result.get("coefficients", []):
        e = NamedNode(f"{iri}/coefficient/{slug(c['term'])}")
        add(e, RDF_TYPE, NamedNode(TKG + "RegressionCoefficient"))
        add(e, TKG + "analysis", s)
        add(e, TKG + "term", c["term"])
        add(e, TKG + "tier", "hypothesised")
        add(e, TKG + "estimate", float(c["estimate"]))
        add(e, TKG + "standardError", float(c["se"]))
        if c.get("t") is not None:
            add(e, TKG + "tValue", float(c["t"]))
    from kg.core.names import normalise_name, taxon_iri

    for tx, d in a.taxa.items():
        # univariate: one ImputedValue per taxon; multivariate: one per (taxon, trait)
        cells = [("", None, d["estimate"], d["variance"])] if "estimate" in d else \
            [(f"/{slug(col)}", col, mu, d["variances"][col]) for col, mu in d["estimates"].items()]
        for suffix, col, mu, var in cells:
            e = NamedNode(f"{iri}/taxon/{slug(tx)}{suffix}")
            add(e, RDF_TYPE, NamedNode(TKG + "ImputedValue"))
            add(e, TKG + "analysis", s)
            add(e, TKG + "taxon", NamedNode(taxon_iri(normalise_name(tx))))
            add(e, TKG + "tier", "hypothesised")
            if col is not None:
                add(e, TKG + "traitName", col)
            add(e, TKG + "estimate", mu)
            add(e, TKG + "variance", var)
    return q


def write_analysis(store: Store, a: Analysis, *, name: str | None = None) -> GraphRecord:
    """Write an analysis into its own graph ``graph/comparative/<name>/<version>``; the version
    fingerprints the tree graph, the trait's source graphs, its values and the parameters."""
    from kg.core.graphs import get_graph

    inputs = [get_graph(store, a.tree_graph)] if a.tree_graph else []
    for src in a.trait.sources:
        try:
            inputs.append(get_graph(store, src))
        except Exception:  # a source that is not a graph (a file) is fingerprinted through the values
            pass
    data = hashlib.sha256(json.dumps([a.trait.values, a.trait.se, a.predictors],
                                     sort_keys=True, default=str).encode()).hexdigest()
    params = {**a.parameters, "trait": a.trait.name, "trait_source": a.trait.source, "trait_sha256": data,
              "tree": a.tree}
    sha = derived_sha(inputs, params)
    gname = name or slug(f"{a.method}-{a.trait.name}-{a.tree}")
    version = sha[:12]
    iri = f"{BASE}hypothesis/comparative/{gname}/{version}"
    quads_cache: dict[str, list[Quad]] = {}

    def writer(graph: str) -> int:
        quads_cache["q"] = analysis_quads(a, graph, iri)
        return store.add_quads(quads_cache["q"])

    return load_graph(store, kind=KIND, name=gname, writer=writer, source="derived", sha256=sha, byte_size=0,
                      loader="comparative", loader_version=VERSION, version=version, parameters=params,
                      derived_from=[r.iri for r in inputs])
