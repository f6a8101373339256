"""Hypotheses back into the KG: one named graph (kind ``hypotheses``) per run.

The run node ``<BASE>hypothesis/<run>`` (a ``tkg:HypothesisRun``) carries the provenance: task,
split, model, code version, the data graphs used (``prov:used``), seed, device, the gate and the
split metrics (JSON literals). Each hypothesis ``<BASE>hypothesis/<run>/<n>`` (a
``tkg:Hypothesis``) is a reified statement (``rdf:subject`` taxon, ``rdf:predicate``
``tkg:hasPresenceOf``/``tkg:hasAbsenceOf``, ``rdf:object`` entity; for placement ``tkg:placedOn``
a tree node) with ``tkg:score``,
``tkg:method``, ``tkg:modelScore``, ``tkg:baseline``, ``tkg:baselineScore``,
``tkg:modelValidation``, ``tkg:baselineValidation``, ``tkg:chosen`` and ``prov:wasGeneratedBy``
the run, and ``tkg:tier "hypothesised"`` (the tier the comparative runs write). Cells whose calls
contradict each other are never hypothesised: each is a ``tkg:CallConflict`` of the run
(``tkg:reportsConflict``; ``rdf:subject`` taxon, ``rdf:object`` entity, ``tkg:callTiers``).

Identity: the run id (the graph's version) and the manifest checksum hash the run's *content*
(every hypothesis with its full-precision scores, the metrics, the split, the conflicts, the
library versions), so two runs that differ in anything they wrote get different identities, and
an identical rerun is a no-op. ``prov:generatedAtTime`` is the one triple left out of the hash.
Read them back with :mod:`kg.hypotheses` (SPARQL), the API or ``traitkg hypothesize --list``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gnn.evaluate import jsonable
from gnn.predict import Prediction
from kg.core.graphs import BASE, TKG, GraphRecord, derived_sha, get_graph, load_graph
from kg.core.store import Literal, NamedNode, Quad, typed_literal
from kg.core.version import __version__
from ontologies.prefixes import expand

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PROV = "http://www.w3.org/ns/prov#"
XSD = "http://www.w3.org/2001/XMLSchema#"


def code_version() -> str:
    """traitkg's version plus the git commit of this checkout when there is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def library_versions() -> dict[str, str]:
    """The versions of the libraries whose arithmetic a run's numbers depend on."""
    import numpy
    import torch
    import torch_geometric

    return {"traitkg": code_version(), "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


@dataclass
class RunInfo:
    task: str
    split: str
    model: str
    seed: int
    device: str
    sources: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    code: str = field(default_factory=code_version)
    software: dict[str, str] = field(default_factory=library_versions)
    #: what else the run stores for its audit (see :mod:`gnn.audit`): JSON-able run-level fields
    #: (``tkg:<name>`` JSON literals) and the evaluation cells
    audit: dict[str, Any] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)


def content_digest(pred: Prediction, info: RunInfo) -> str:
    """sha256 of everything a run writes (but its time): scores at full precision, metrics, split,
    audit, conflicts, limit report, library versions and the data graphs it read."""
    body = {"task": info.task, "split": info.split, "model": info.model, "seed": info.seed, "device": info.device,
            "sources": info.sources, "metrics": info.metrics, "parameters": info.parameters, "code": info.code,
            "software": info.software, "audit": info.audit, "cells": info.cells, "gate": pred.gate.to_dict(),
            "hypotheses": [h.to_dict() for h in pred.hypotheses], "limit": pred.limit, "conflicts": pred.conflicts}
    return hashlib.sha256(_json(body).encode()).hexdigest()


def _json(obj: Any) -> str:
    """Canonical, valid JSON (NaN as null, full precision)."""
    return json.dumps(jsonable(obj), sort_keys=True, allow_nan=False, separators=(",", ":"))


def hypothesis_quads(pred: Prediction, info: RunInfo, run: str, graph: str) -> Iterator[Quad]:
    g = NamedNode(graph)
    r = NamedNode(f"{BASE}hypothesis/{run}")
    a = NamedNode(RDF + "type")

    def q(s: NamedNode, p: str, o: Any) -> Quad:
        return Quad(s, NamedNode(p), o if isinstance(o, NamedNode) else typed_literal(o), g)

    yield q(r, RDF + "type", NamedNode(TKG + "HypothesisRun"))
    for p, v in (("task", info.task), ("split", info.split), ("model", info.model), ("codeVersion", info.code),
                 ("seed", int(info.seed)), ("device", info.device), ("hypothesisCount", len(pred.hypotheses)),
                 ("gate", _json(pred.gate.to_dict())), ("metrics", _json(info.metrics)),
                 ("parameters", _json(info.parameters)), ("softwareVersions", _json(info.software)),
                 ("limitReport", _json(pred.limit)), ("conflictCount", len(pred.conflicts)),
                 ("tier", "hypothesised"), *((k, _json(v)) for k, v in sorted(info.audit.items()))):
        yield q(r, TKG + p, v)
    yield Quad(r, NamedNode(PROV + "generatedAtTime"),
               Literal(datetime.now(UTC).isoformat(), datatype=NamedNode(XSD + "dateTime")), g)
    for s in info.sources:
        yield q(r, PROV + "used", NamedNode(s))
    for k, h in enumerate(pred.hypotheses):
        n = NamedNode(f"{BASE}hypothesis/{run}/{k}")
        yield Quad(n, a, NamedNode(TKG + "Hypothesis"), g)
        yield q(n, RDF + "subject", NamedNode(expand(h.subject)))
        yield q(n, RDF + "predicate", NamedNode(expand(h.predicate)))
        yield q(n, RDF + "object", NamedNode(expand(h.object)))
        for p, v in (("score", h.score), ("method", h.method), ("modelScore", h.model_score), ("baseline", h.baseline),
                     ("baselineScore", h.baseline_score), ("modelValidation", h.model_val),
                     ("baselineValidation", h.baseline_val), ("chosen", h.chosen)):
            yield q(n, TKG + p, v)
        yield q(n, TKG + "tier", "hypothesised")
        yield q(n, PROV + "wasGeneratedBy", r)
    for k, c in enumerate(pred.conflicts):
        n = NamedNode(f"{BASE}hypothesis/{run}/conflict/{k}")
        yield Quad(n, a, NamedNode(TKG + "CallConflict"), g)
        yield q(r, TKG + "reportsConflict", n)
        yield q(n, RDF + "subject", NamedNode(expand(c["taxon"])))
        yield q(n, RDF + "object", NamedNode(expand(c["entity"])))
        yield q(n, TKG + "callTiers", c["tiers"])
    yield from cell_quads(info.cells, run, g)


def cell_quads(cells: list[dict[str, Any]], run: str, g: NamedNode) -> Iterator[Quad]:
    """The evaluation cells of a run: every labelled cell with its side of the split, its observed
    value and (validation and test cells) every method's probability of presence (JSON)."""
    a = NamedNode(RDF + "type")
    for k, c in enumerate(cells):
        n = NamedNode(f"{BASE}hypothesis/{run}/cell/{k}")
        yield Quad(n, a, NamedNode(TKG + "EvaluationCell"), g)
        yield Quad(n, NamedNode(RDF + "subject"), NamedNode(expand(c["taxon"])), g)
        yield Quad(n, NamedNode(RDF + "object"), NamedNode(expand(c["entity"])), g)
        yield Quad(n, NamedNode(TKG + "observedPresent"), typed_literal(bool(c["y"])), g)
        yield Quad(n, NamedNode(TKG + "splitSide"), typed_literal(c["side"]), g)
        yield Quad(n, NamedNode(TKG + "cellIndex"), typed_literal(k), g)
        if c.get("scores"):
            yield Quad(n, NamedNode(TKG + "methodScores"), typed_literal(_json(c["scores"])), g)


def write_hypotheses(store: Any, pred: Prediction, info: RunInfo, *, name: str | None = None) -> GraphRecord:
    """Write one run's hypotheses as a ``hypotheses`` graph (idempotent for identical runs)."""
    inputs = [get_graph(store, s) for s in info.sources]
    params = {"task": info.task, "split": info.split, "model": info.model, "seed": info.seed, **info.parameters}
    digest = content_digest(pred, info)
    run = digest[:12]

    def writer(graph: str) -> int:
        return store.add_quads(list(hypothesis_quads(pred, info, run, graph)))

    return load_graph(store, kind="hypotheses", name=name or info.task, writer=writer, source="derived",
                      sha256=derived_sha(inputs, {**params, "content": digest}), byte_size=0, loader="gnn",
                      loader_version=info.code, version=run, parameters=params, derived_from=info.sources)
