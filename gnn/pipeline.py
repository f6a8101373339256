"""What the CLI and the bench run: the full table (splits x methods) and a hypotheses run.

Rows of the table: one per (dataset, task, split, method) with validation and test metrics; the
model appears with and without each kind of knowledge guidance (the ablation rows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from gnn.baselines import run_baselines
from gnn.data import TraitGraph, build_graph
from gnn.evaluate import binary_metrics, ontology_violations
from gnn.predict import limit_note, predict
from gnn.tasks import SPLITS, make_split
from gnn.train import TrainConfig, fit, resolve_device
from kg.core.errors import ValidationError

log = logging.getLogger(__name__)

TASKS = ("imputation", "placement", "linkpred")
TABLE_TASKS = ("imputation", "link-prediction", "placement")
#: imputation baselines that also score triples in the link-prediction rows (with the marginal one)
LINK_BASELINES = ("label-propagation", "phylo-nn")
#: model variants: (ontology loss weight, smoothness loss weight) as multipliers of the config's
VARIANTS = {"gnn": (1.0, 1.0), "gnn-no-ontology": (0.0, 1.0), "gnn-no-smoothness": (1.0, 0.0), "gnn-plain": (0.0, 0.0)}
Progress = Callable[[str, int, int], None]


def evaluation_table(g: TraitGraph, *, dataset: str = "kg", splits: tuple[str, ...] = SPLITS, seed: int = 0,
                     cfg: TrainConfig | None = None, variants: tuple[str, ...] = tuple(VARIANTS),
                     tasks: tuple[str, ...] = TABLE_TASKS, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every baseline and model variant on every split: validation and test metrics, ontology
    violations of the predictions on the test taxa, epoch and training time (models); with
    ``link-prediction`` in ``tasks``, the same models and the marginal baseline ranked on the
    same held-out triples (filtered, both sides). ``gate_choice``: what the gate picks per (task, split)."""
    from gnn.baselines import baselines_at
    from gnn.linkpred import marginal_scores, presence_scores, scorer_rows

    cfg = cfg or TrainConfig(seed=seed)
    rows: list[dict[str, Any]] = []
    link = "link-prediction" in tasks
    val_probs: dict[tuple[str, str], np.ndarray] = {}  # (split, method) -> validation probabilities (imputation)
    gt, ge = np.repeat(g.tips, g.n_entities), np.tile(np.arange(g.n_entities), len(g.tips))  # every tip x entity
    for sp in splits:
        s = make_split(g, sp, seed=seed)
        yv, yt = g.cells["y"][s.val], g.cells["y"][s.test]
        test_taxa = np.unique(g.cells["taxon"][s.test])
        base_v = run_baselines(g, s.train, s.val)
        val_probs.update({(sp, n): p for n, p in base_v.items()})
        base_t = run_baselines(g, s.train, s.test)
        for name in base_v:
            rows.append({"dataset": dataset, "task": "imputation", "split": sp, "method": name, "kind": "baseline",
                         "val": binary_metrics(yv, base_v[name]), "test": binary_metrics(yt, base_t[name]),
                         "split_sizes": s.summary()})
        scorers: dict[str, Any] = {}
        if link:
            scorers["marginal"] = lambda s=s: marginal_scores(g, s.train)
            for name in LINK_BASELINES:
                def grid(name: str = name, s: Any = s) -> Any:
                    m = np.zeros((g.n_taxa, g.n_entities))
                    m[gt, ge] = baselines_at(g, s.train, gt, ge, [name])[name]
                    return presence_scores(m)
                scorers[name] = grid
        for v in variants:
            wo, ws = VARIANTS[v]
            vc = replace(cfg, ontology_weight=cfg.ontology_weight * wo, smooth_weight=cfg.smooth_weight * ws, seed=seed)
            t0 = time.perf_counter()
            f = fit(g, s, vc, progress=(lambda e, n, v=v, sp=sp: progress(f"{sp}/{v}", e, n)) if progress else None)
            wall = time.perf_counter() - t0
            probs = f.probabilities()
            val_probs[(sp, v)] = probs[g.cells["taxon"][s.val], g.cells["entity"][s.val]]
            rows.append({"dataset": dataset, "task": "imputation", "split": sp, "method": v, "kind": "model",
                         "val": binary_metrics(yv, probs[g.cells["taxon"][s.val], g.cells["entity"][s.val]]),
                         "test": binary_metrics(yt, probs[g.cells["taxon"][s.test], g.cells["entity"][s.test]]),
                         "ontology_violations": ontology_violations(probs, g.entity_anc, test_taxa),
                         "epochs": len(f.epoch_seconds), "best_epoch": f.best_epoch,
                         "epoch_s": round(float(np.median(f.epoch_seconds)), 4), "train_s": round(wall, 2),
                         "device": str(f.device), "split_sizes": s.summary()})
            if link:
                scorers[v] = lambda probs=probs: presence_scores(probs)
        if link:
            for name, m in scorer_rows(g, s.train, s.val, s.test, scorers).items():
                rows.append({"dataset": dataset, "task": "link-prediction", "split": sp, "method": name,
                             "kind": "model" if name in VARIANTS else "baseline", "val": m["val"], "test": m["test"],
                             "split_sizes": s.summary()})
        if "placement" in tasks:
            from gnn.placement import placement_table

            for name, m in placement_table(g, sp, seed=seed).items():
                rows.append({"dataset": dataset, "task": "placement", "split": sp, "method": name, "kind": "baseline",
                             "val": {}, "test": m, "gate_choice": "none (no learned placement model)"})
    for sp in splits:
        mine = [r for r in rows if r["split"] == sp]
        choice = gate_choice(rows, "imputation", sp, val_probs, g.cells["y"][make_split(g, sp, seed=seed).val])
        for r in mine:
            if r["task"] == "imputation":
                r["gate_choice"], r["gate_confidence"] = choice
            elif r["task"] == "link-prediction":
                r["gate_choice"] = gate_choice(rows, "link-prediction", sp)[0]
    return rows


def _key(r: dict[str, Any]) -> float:
    v = r["val"]
    return float(np.nan_to_num(v["auc"] if "auc" in v else v["both"]["mrr"], nan=-1.0))


def gate_choice(rows: list[dict[str, Any]], task: str, split: str,
                val_probs: dict[tuple[str, str], np.ndarray] | None = None,
                y_val: np.ndarray | None = None) -> tuple[str, float]:
    """The best model variant on validation if it beats the best baseline on validation (AUC for
    imputation, both-sided MRR for link prediction), else that baseline; for imputation (with
    ``val_probs``) it must also win in 95% of paired bootstrap resamples, as in :func:`gnn.predict.gate`.
    Returns (choice, bootstrap share of wins or nan)."""
    from gnn.predict import CONFIDENCE, bootstrap_win

    mine = [r for r in rows if r["task"] == task and r["split"] == split]
    bb = max((r for r in mine if r["kind"] == "baseline"), key=_key)
    mm = [r for r in mine if r["kind"] == "model"]
    if not mm:
        return bb["method"], float("nan")
    bm = max(mm, key=_key)
    conf = float("nan")
    if val_probs is not None and y_val is not None:
        conf = bootstrap_win(y_val, val_probs[(split, bm["method"])], val_probs[(split, bb["method"])])
        if _key(bm) > _key(bb) and conf >= CONFIDENCE:
            return bm["method"], conf
        return bb["method"], conf
    return (bm["method"] if _key(bm) > _key(bb) else bb["method"]), conf


imputation_table = evaluation_table


def hypothesize(kg: Any, *, task: str = "imputation", tree: str | None = None, split: str = "random", seed: int = 0,
                device: str = "auto", epochs: int = 150, limit: int | None = 1000, write: bool = True,
                checkpoint: str | Path | None = None, min_taxa: int = 5, max_entities: int | None = None,
                ontology_weight: float = 1.0, smooth_weight: float = 1.0, ablation: bool = False, threads: int = 1,
                conv: str = "sage", batch_size: int | None = None, priors: tuple[str, ...] = ("label-propagation",),
                progress: Progress | None = None) -> dict[str, Any]:
    """Build the graph, train on ``split``, gate against the baselines, write the hypotheses
    (a ``hypotheses`` graph, with everything :mod:`gnn.audit` needs to recompute its figures) and
    optionally a checkpoint. ``ablation``: also train the model without each kind of knowledge
    guidance and report (and store) those rows; ``linkpred``: the same model ranked as links
    (:mod:`gnn.link_hypotheses`). ``conv``: the PyG layer; ``batch_size``: mini-batches from PyG's
    ``LinkLoader``; ``priors``: the baselines the model is given. Returns a summary."""
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    dev = resolve_device(device)
    g = build_graph(kg, tree=tree, min_taxa=min_taxa, max_entities=max_entities)
    if task == "placement":
        return _place(kg, g, split=split, seed=seed, limit=limit, write=write, device=str(dev), min_taxa=min_taxa,
                      max_entities=max_entities)
    s = make_split(g, split, seed=seed)
    cfg = TrainConfig(epochs=epochs, seed=seed, device=str(dev), ontology_weight=ontology_weight,
                      smooth_weight=smooth_weight, threads=threads, conv=conv, batch_size=batch_size,
                      priors=tuple(priors))
    fits = {}
    for v in (tuple(VARIANTS) if ablation and task == "imputation" else ("gnn",)):
        wo, ws = VARIANTS[v]
        vc = replace(cfg, ontology_weight=cfg.ontology_weight * wo, smooth_weight=cfg.smooth_weight * ws)
        fits[v] = fit(g, s, vc, progress=(lambda e, n, v=v: progress(f"train {v}", e, n)) if progress else None)
    f = fits["gnn"]
    probs = f.probabilities()
    if task == "linkpred":
        from gnn.link_hypotheses import link_prediction

        pred, audit, cells = link_prediction(g, s, probs, seed=seed, limit=limit)
        methods = audit["methodMetrics"]
    else:
        pred = predict(g, s, probs, limit=limit)
        audit, cells, methods = _audit(g, s, fits, probs, pred, seed=seed)
    chosen = pred.gate.chosen
    metrics = {"split": s.summary(), f"validation_{pred.gate.metric.lower()}": {"model": pred.gate.model_val,
                                                                               **pred.gate.baseline_val},
               "test_chosen": methods[chosen]["test"], "best_epoch": f.best_epoch}
    out: dict[str, Any] = {"graph_counts": g.counts, "gate": pred.gate.to_dict(), "metrics": metrics,
                           "methods": methods, "violations": audit.get("violations"), "hypotheses": len(pred.hypotheses),
                           "limit": pred.limit, "limit_note": limit_note(pred.limit), "conflicts": len(pred.conflicts),
                           "device": str(dev), "sample": [h.to_dict() for h in pred.hypotheses[:5]]}
    if ablation:
        out["ablation"] = audit["ablation"]
    if checkpoint:
        from gnn.checkpoint import save

        out["checkpoint"] = str(save(f, checkpoint, metrics=metrics))
    if write:
        from gnn.hypotheses import RunInfo, write_hypotheses

        info = RunInfo(task, split, "TraitGNN", seed, str(dev), g.sources, metrics,
                       {"epochs": epochs, "limit": limit, "min_taxa": min_taxa, "max_entities": max_entities,
                        "ontology_weight": ontology_weight, "smooth_weight": smooth_weight, "tree": g.tree,
                        "ablation": ablation, "train": cfg.to_dict(), "deterministic": True},
                       audit=audit, cells=cells)
        rec = write_hypotheses(kg.store, pred, info)
        kg.invalidate()
        out["graph"] = rec.iri
        out["status"] = rec.status
        out["run"] = rec.version
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


def _place(kg: Any, g: TraitGraph, *, split: str, seed: int, limit: int | None, write: bool, device: str,
           min_taxa: int, max_entities: int | None) -> dict[str, Any]:
    """Placement hypotheses for the taxa with calls that are not on the tree (see
    :func:`gnn.placement.place_unplaced`): no learned model, the better placement method on
    held-out tips is used."""
    from gnn.placement import place_unplaced
    from gnn.predict import Prediction, conflict_list

    gate_, hyps, summary = place_unplaced(g, split=split, seed=seed, limit=limit)
    metrics = {"validation_placement": summary["validation"], "placed_taxa": summary["placed_taxa"],
               "too_few_calls": summary["too_few_calls"]}
    out: dict[str, Any] = {"graph_counts": g.counts, "gate": {**gate_.to_dict(), "reason": (
        f"expected accuracy on held-out tips ({split} split): "
        + ", ".join(f"{m} {v:.4f}" for m, v in gate_.baseline_val.items()))}, "metrics": metrics,
        "hypotheses": len(hyps), "limit": summary["limit"], "limit_note": limit_note(summary["limit"]),
        "taxa_with_hypotheses": summary["taxa_with_hypotheses"], "conflicts": len(conflict_list(g)), "device": device,
        "sample": [h.to_dict() for h in hyps[:5]]}
    if write:
        from gnn.hypotheses import RunInfo, write_hypotheses

        info = RunInfo("placement", split, gate_.chosen, seed, device, g.sources, metrics,
                       {"limit": limit, "min_taxa": min_taxa, "max_entities": max_entities, "tree": g.tree})
        rec = write_hypotheses(kg.store, Prediction(gate_, hyps, summary["limit"], conflict_list(g)), info)
        kg.invalidate()
        out.update(graph=rec.iri, status=rec.status, run=rec.version)
    return out
