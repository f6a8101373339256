"""Checkpoints: the weights as safetensors plus a JSON config naming the graph they belong to.

``save(fitted, directory)`` writes ``model.safetensors`` and ``config.json`` (model and training
config, the graph's fingerprint, node counts, tree, data graphs, split, metrics). ``load(directory,
graph)`` rebuilds the model and refuses a checkpoint made on another graph, saying what differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gnn.data import TraitGraph
from gnn.models import ModelConfig, TraitGNN
from gnn.train import Fitted
from kg.core.errors import ValidationError

FORMAT = "traitkg-gnn/1"


def save(fitted: Fitted, directory: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    g = fitted.graph
    state = {k: v.detach().cpu().contiguous() for k, v in fitted.model.state_dict().items()}
    save_file(state, str(d / "model.safetensors"))
    cfg = {"format": FORMAT, "model": fitted.model.cfg.to_dict(), "train": fitted.config.to_dict(),
           "graph": {"fingerprint": g.fingerprint(), "taxa": g.n_taxa, "entities": g.n_entities, "tree": g.tree,
                     "sources": g.sources},
           "split": {"name": fitted.split.name, "seed": fitted.split.seed},
           "best_epoch": fitted.best_epoch, "best_val_auc": fitted.best_val_auc, "metrics": metrics or {}}
    (d / "config.json").write_text(json.dumps(cfg, indent=1, sort_keys=True))
    return d


def load(directory: str | Path, graph: TraitGraph, *, device: str | torch.device = "cpu") -> tuple[TraitGNN, dict[str, Any]]:
    """The model and its config; :class:`ValidationError` when the checkpoint is not for ``graph``."""
    d = Path(directory)
    try:
        cfg = json.loads((d / "config.json").read_text())
    except FileNotFoundError as exc:
        raise ValidationError(f"{d}: not a checkpoint (no config.json)") from exc
    if cfg.get("format") != FORMAT:
        raise ValidationError(f"{d}: checkpoint format {cfg.get('format')!r}, expected {FORMAT!r}")
    want = cfg["graph"]
    reasons = []
    if want["taxa"] != graph.n_taxa:
        reasons.append(f"{want['taxa']} taxon nodes in the checkpoint, {graph.n_taxa} in the graph")
    if want["entities"] != graph.n_entities:
        reasons.append(f"{want['entities']} entities in the checkpoint, {graph.n_entities} in the graph")
    if want["tree"] != graph.tree:
        reasons.append(f"tree {want['tree']!r} in the checkpoint, {graph.tree!r} in the graph")
    if not reasons and want["fingerprint"] != graph.fingerprint():
        reasons.append("same sizes but different node maps or tree shape (fingerprint "
                       f"{want['fingerprint']} vs {graph.fingerprint()})")
    if reasons:
        raise ValidationError(f"{d}: checkpoint made on an incompatible graph: " + "; ".join(reasons))
    model = TraitGNN(ModelConfig(**cfg["model"]))
    model.load_state_dict(load_file(str(d / "model.safetensors")))
    return model.to(device), cfg
