"""Hypotheses back into the KG: one named graph (kind ``hypotheses``) per run.

The run node ``<BASE>hypothesis/<run>`` (a ``tkg:HypothesisRun``) carries the provenance: task,
split, model, code version, the data graphs used (``prov:used``), seed, device, the gate and the
split metrics (JSON literals). Each hypothesis ``<BASE>hypothesis/<run>/<n>`` (a
``tkg:Hypothesis``) is a reified statement (``rdf:subject`` taxon, ``rdf:predicate``
``tkg:hasPresenceOf``/``tkg:hasAbsenceOf``, ``rdf:object`` entity; for placement ``tkg:placedOn``
a tree node) with ``tkg:score``,
``tkg:method``, ``tkg:modelScore``, ``tkg:baseline``, ``tkg:baselineScore``,
``tkg:modelValidation``, ``tkg:baselineValidation``, ``tkg:chosen`` and ``prov:wasGeneratedBy``
the run. Read them back with :mod:`kg.hypotheses` (SPARQL), the API or ``traitkg hypothesize --list``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

    def run_id(self, n: int) -> str:
        key = json.dumps([self.task, self.split, self.model, self.seed, self.sources, self.parameters, n], sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:12]


def hypothesis_quads(pred: Prediction, info: RunInfo, run: str, graph: str) -> Iterator[Quad]:
    g = NamedNode(graph)
    r = NamedNode(f"{BASE}hypothesis/{run}")
    a = NamedNode(RDF + "type")

    def q(s: NamedNode, p: str, o: Any) -> Quad:
        return Quad(s, NamedNode(p), o if isinstance(o, NamedNode) else typed_literal(o), g)

    yield q(r, RDF + "type", NamedNode(TKG + "HypothesisRun"))
    for p, v in (("task", info.task), ("split", info.split), ("model", info.model), ("codeVersion", info.code),
                 ("seed", int(info.seed)), ("device", info.device), ("hypothesisCount", len(pred.hypotheses)),
                 ("gate", json.dumps(pred.gate.to_dict(), sort_keys=True)),
                 ("metrics", json.dumps(info.metrics, sort_keys=True)),
                 ("parameters", json.dumps(info.parameters, sort_keys=True))):
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
        yield q(n, PROV + "wasGeneratedBy", r)


def write_hypotheses(store: Any, pred: Prediction, info: RunInfo, *, name: str | None = None) -> GraphRecord:
    """Write one run's hypotheses as a ``hypotheses`` graph (idempotent for identical runs)."""
    inputs = [get_graph(store, s) for s in info.sources]
    params = {"task": info.task, "split": info.split, "model": info.model, "seed": info.seed, **info.parameters}
    run = info.run_id(len(pred.hypotheses))

    def writer(graph: str) -> int:
        return store.add_quads(list(hypothesis_quads(pred, info, run, graph)))

    return load_graph(store, kind="hypotheses", name=name or info.task, writer=writer, source="derived",
                      sha256=derived_sha(inputs, {**params, "n": len(pred.hypotheses)}), byte_size=0, loader="gnn",
                      loader_version=info.code, version=run, parameters=params, derived_from=info.sources)
