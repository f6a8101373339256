"""What the CLI, the Python API and the bench run: one task on one split of a built graph
(:func:`run_task`), and a hypotheses run that builds the graph, runs the task and writes the
hypotheses into the KG (:func:`hypothesize`).

Tasks: ``imputation`` (presence/absence per cell; the model beside every baseline, the gate on
validation AUC; with ``ablation`` the model also without each kind of knowledge guidance),
``linkpred`` (the same triples ranked as links: :mod:`gnn.link_hypotheses`) and ``placement``
(the taxa with calls but no tip, on every tied best edge: :mod:`gnn.placement`). Every task
reports every method's validation and test figures with bootstrap intervals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gnn.baselines import run_baselines
from gnn.data import TraitGraph, build_graph
from gnn.predict import Prediction, limit_note, predict
from gnn.tasks import SPLITS, make_split
from gnn.train import TrainConfig, fit, resolve_device
from kg.core.errors import ValidationError

log = logging.getLogger(__name__)

TASKS = ("imputation", "linkpred", "placement")
#: model variants: (ontology loss weight, smoothness loss weight, priors) as multipliers of the config's
VARIANTS = {"gnn": (1.0, 1.0, True), "gnn-no-ontology": (0.0, 1.0, True), "gnn-no-smoothness": (1.0, 0.0, True),
            "gnn-no-priors": (1.0, 1.0, False), "gnn-plain": (0.0, 0.0, False)}
Progress = Callable[[str, int, int], None]
__all__ = ["SPLITS", "TASKS", "VARIANTS", "TaskRun", "hypothesize", "run_task"]


@dataclass
class TaskRun:
    """One task on one split: the summary (``out``), the hypotheses, the audit record and cells."""

    out: dict[str, Any]
    pred: Prediction
    audit: dict[str, Any] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    fitted: Any = None


def run_task(g: TraitGraph, task: str, split: str, cfg: TrainConfig, *, limit: int | None = 1000,
             ablation: bool = False, progress: Progress | None = None) -> TaskRun:
    """Run ``task`` on ``split`` of ``g`` (no I/O): train (imputation, linkpred), gate, hypotheses.
    ``out`` holds every method's validation and test metrics with intervals (``methods``), the
    violations, the ablation rows, the limit report, and the CPU and wall time."""
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if task == "placement":
        tr = _place(g, split=split, seed=cfg.seed, limit=limit)
    else:
        tr = _learn(g, task, split, cfg, limit=limit, ablation=ablation, progress=progress)
    tr.out.update(task=task, split_name=split, cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0,
                  limit=tr.pred.limit, limit_note=limit_note(tr.pred.limit), conflicts=len(tr.pred.conflicts),
                  hypotheses=len(tr.pred.hypotheses), graph_counts=g.counts,
                  sample=[h.to_dict() for h in tr.pred.hypotheses[:5]])
    return tr


def _learn(g: TraitGraph, task: str, split: str, cfg: TrainConfig, *, limit: int | None, ablation: bool,
           progress: Progress | None) -> TaskRun:
    s = make_split(g, split, seed=cfg.seed)
    fits = {}
    for v in (tuple(VARIANTS) if ablation and task == "imputation" else ("gnn",)):
        wo, ws, wp = VARIANTS[v]
        vc = replace(cfg, ontology_weight=cfg.ontology_weight * wo, smooth_weight=cfg.smooth_weight * ws,
                     priors=cfg.priors if wp else ())
        t0 = time.process_time()
        fits[v] = fit(g, s, vc, progress=(lambda e, n, v=v: progress(f"train {v}", e, n)) if progress else None)
        fits[v].cpu_s = time.process_time() - t0
    f = fits["gnn"]
    probs = f.probabilities()
    if task == "linkpred":
        from gnn.link_hypotheses import link_prediction

        pred, audit, cells = link_prediction(g, s, probs, seed=cfg.seed, limit=limit)
        methods = audit["methodMetrics"]
    else:
        pred = predict(g, s, probs, limit=limit)
        audit, cells, methods = _audit(g, s, fits, probs, pred, seed=cfg.seed)
    metrics = {"split": s.summary(), f"validation_{pred.gate.metric.lower()}": {"model": pred.gate.model_val,
                                                                               **pred.gate.baseline_val},
               "test_chosen": methods[pred.gate.chosen]["test"], "best_epoch": f.best_epoch}
    out: dict[str, Any] = {"gate": pred.gate.to_dict(), "metrics": metrics, "methods": methods,
                           "violations": audit.get("violations"), "device": str(f.device),
                           "train_cpu_s": {v: fv.cpu_s for v, fv in fits.items()},
                           "epochs_run": {v: len(fv.epoch_seconds) for v, fv in fits.items()}}
    if "ablation" in audit:
        out["ablation"] = audit["ablation"]
    return TaskRun(out, pred, audit, cells, f)


def hypothesize(kg: Any, *, task: str = "imputation", tree: str | None = None, split: str = "random", seed: int = 0,
                device: str = "auto", epochs: int = 150, limit: int | None = 1000, write: bool = True,
                checkpoint: str | Path | None = None, min_taxa: int = 5, max_entities: int | None = None,
                ontology_weight: float = 1.0, smooth_weight: float = 1.0, ablation: bool = False, threads: int = 1,
                conv: str = "sage", batch_size: int | None = None, priors: tuple[str, ...] = ("label-propagation",),
                progress: Progress | None = None,
                write_to: Callable[[], AbstractContextManager[Any]] | None = None) -> dict[str, Any]:
    """Build the graph, run the task (:func:`run_task`), write the hypotheses (a ``hypotheses``
    graph, with everything :mod:`gnn.audit` needs to recompute its figures) and optionally a
    checkpoint. ``conv``: the PyG layer; ``batch_size``: mini-batches from PyG's ``LinkLoader``;
    ``priors``: the baselines the model is given; ``write_to``: a context manager giving the KG to
    write into (a server reads a snapshot and writes through its writer, under its write lock;
    default: ``kg``). Returns the summary."""
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    dev = resolve_device(device)
    g = build_graph(kg, tree=tree, min_taxa=min_taxa, max_entities=max_entities)
    cfg = TrainConfig(epochs=epochs, seed=seed, device=str(dev), ontology_weight=ontology_weight,
                      smooth_weight=smooth_weight, threads=threads, conv=conv, batch_size=batch_size,
                      priors=tuple(priors))
    tr = run_task(g, task, split, cfg, limit=limit, ablation=ablation, progress=progress)
    out = tr.out
    if checkpoint and tr.fitted is not None:
        from gnn.checkpoint import save

        out["checkpoint"] = str(save(tr.fitted, checkpoint, metrics=out["metrics"]))
    if write:
        from gnn.hypotheses import RunInfo, write_hypotheses

        params: dict[str, Any] = {"limit": limit, "min_taxa": min_taxa, "max_entities": max_entities, "tree": g.tree}
        if task != "placement":
            params.update(epochs=epochs, ontology_weight=ontology_weight, smooth_weight=smooth_weight,
                          ablation=ablation, train=cfg.to_dict(), deterministic=True)
        model = tr.pred.gate.chosen if task == "placement" else "TraitGNN"
        info = RunInfo(task, split, model, seed, str(dev), g.sources, out["metrics"], params,
                       audit=tr.audit, cells=tr.cells)
        if write_to is None:
            rec = write_hypotheses(kg.store, tr.pred, info)
            kg.invalidate()
        else:
            with write_to() as into:
                rec = write_hypotheses(into.store, tr.pred, info)
        out.update(graph=rec.iri, status=rec.status, run=rec.version)
    return out


def _audit(g: TraitGraph, s: Any, fits: dict[str, Any], probs: np.ndarray, pred: Any, *,
           seed: int) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Every method's scores on the held-out cells, its metrics with intervals, the violations, the
    split record (see :mod:`gnn.audit`)."""
    from gnn import audit as a

    ct, ce = g.cells["taxon"], g.cells["entity"]
    base_v, base_t = run_baselines(g, s.train, s.val), run_baselines(g, s.train, s.test)
    scores = {n: {"val": base_v[n], "test": base_t[n]} for n in base_v}
    for v, fv in fits.items():
        p = probs if v == "gnn" else fv.probabilities()
        scores["model" if v == "gnn" else v] = {"val": p[ct[s.val], ce[s.val]], "test": p[ct[s.test], ce[s.test]]}
    methods = a.method_metrics({"val": g.cells["y"][s.val], "test": g.cells["y"][s.test]}, scores, seed=seed)
    cells = a.split_record(g, s, scores)
    pairs = a.entity_pairs(g)
    violations = {"test": a.heldout_violations(cells, pairs, list(scores)), "written_by": pred.gate.chosen,
                  "written": a.written_violations(cells, pred.hypotheses, pairs)}
    audit: dict[str, Any] = {"heldOutClades": a.held_out_clades(g, s), "methodMetrics": methods,
                             "bootstrap": {"seed": seed, "resamples": a.RESAMPLES, "level": a.LEVEL},
                             "entityPairs": pairs, "violations": violations}
    if len(fits) > 1:
        audit["ablation"] = [{"variant": v, "method": "model" if v == "gnn" else v,
                              "ontology_weight": fv.config.ontology_weight, "smooth_weight": fv.config.smooth_weight,
                              "best_epoch": fv.best_epoch, "val": methods["model" if v == "gnn" else v]["val"],
                              "test": methods["model" if v == "gnn" else v]["test"],
                              "violations": violations["test"]["model" if v == "gnn" else v]} for v, fv in fits.items()]
    return audit, cells, methods


def _place(g: TraitGraph, *, split: str, seed: int, limit: int | None) -> TaskRun:
    """Placement hypotheses for the taxa with calls that are not on the tree (see
    :func:`gnn.placement.place_unplaced`): no learned model; the method with the best edge-level
    expected accuracy on held-out tips places them."""
    from gnn.placement import place_unplaced
    from gnn.predict import conflict_list

    gate_, hyps, summary = place_unplaced(g, split=split, seed=seed, limit=limit)
    table = summary["validation"]
    metrics = {"validation_placement": table, "placed_taxa": summary["placed_taxa"],
               "too_few_calls": summary["too_few_calls"], "taxa_with_hypotheses": summary["taxa_with_hypotheses"]}
    out: dict[str, Any] = {"gate": {**gate_.to_dict(), "reason": (
        f"edge-level expected accuracy on held-out tips ({split} split): "
        + ", ".join(f"{m} {v:.4f}" for m, v in gate_.baseline_val.items()))}, "metrics": metrics,
        "methods": {m: {"test": v} for m, v in table.items()}, "violations": None, "device": "cpu",
        "taxa_with_hypotheses": summary["taxa_with_hypotheses"]}
    return TaskRun(out, Prediction(gate_, hyps, summary["limit"], conflict_list(g)),
                   {"methodMetrics": out["methods"]})
