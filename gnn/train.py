"""Training the imputation model on one split: fixed seed, best epoch by validation AUC (the
untrained model, which with priors scores like them, is a candidate too).

Each epoch the training cells are divided into message-passing edges and supervised targets (a
cell never sees its own edge): at random, or with priors (:mod:`gnn.priors`) by taking turns over
the folds the priors were fitted without; evaluation uses every training cell as an edge.
``batch_size`` trains on mini-batches of supervised cells instead of all of them at once (each a
sampled subgraph from PyG's ``LinkLoader``, :mod:`gnn.loader`).
Knowledge guidance is two weighted losses on the whole taxon x entity logit matrix:
``ontology_weight`` (:func:`gnn.models.ontology_loss`) and ``smooth_weight``
(:func:`gnn.models.smoothness_loss`); 0 switches one off (the ablation rows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from gnn.data import TraitGraph
from gnn.evaluate import auc
from gnn.models import ModelConfig, TraitGNN, adjacencies, ontology_loss, path_matrix, smoothness_loss
from gnn.priors import fold_priors
from gnn.tasks import Split
from kg.core.errors import ValidationError

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 150
    lr: float = 0.01
    weight_decay: float = 1e-5
    ontology_weight: float = 1.0
    smooth_weight: float = 1.0
    message_frac: float = 0.7
    eval_every: int = 5
    patience: int = 40
    dim: int = 32
    layers: int = 2
    dropout: float = 0.1
    conv: str = "sage"  # gnn.models.CONVS
    priors: tuple[str, ...] = ("label-propagation",)  # baselines given to the model (gnn.priors)
    folds: int = 5
    batch_size: int | None = None  # supervised cells per mini-batch (None: full batch)
    num_neighbors: tuple[int, ...] = (10, 10)  # per edge type and hop, mini-batch sampling
    seed: int = 0
    device: str = "cpu"
    threads: int = 1  # torch's CPU threads: fixed, so that a CPU run is bit-reproducible for a seed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(name: str | None) -> torch.device:
    """``cpu``, ``cuda``/``cuda:N`` (an error naming what is there when CUDA is absent), or ``auto``."""
    name = (name or "auto").strip()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValidationError(f"device {name!r} requested but CUDA is not available here "
                                  f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); use --device cpu")
        k = int(name.split(":", 1)[1]) if ":" in name else 0
        if k >= torch.cuda.device_count():
            raise ValidationError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValidationError(f"unknown device {name!r}: expected cpu, cuda, cuda:N or auto")


def deterministic(cfg: TrainConfig, device: torch.device) -> None:
    """Seed everything and ask torch for deterministic kernels: on CPU with a fixed number of
    threads, a run is bit-for-bit reproducible for a seed (on CUDA, kernels without a deterministic
    version only warn)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, int(cfg.threads)))
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    if device.type == "cuda":
        torch.cuda.manual_seed_all(cfg.seed)
        torch.backends.cudnn.benchmark = False


def call_edges(g: TraitGraph, cells: np.ndarray, device: torch.device) -> dict[tuple[str, str, str], torch.Tensor]:
    """The message-passing adjacencies: tree, ontology, and presence/absence of the given cells only."""
    out = {et: g.data[et].edge_index.to(device) for et in
           [("taxon", "parent_of", "taxon"), ("taxon", "child_of", "taxon"), ("entity", "subclass_of", "entity"),
            ("entity", "superclass_of", "entity"), ("entity", "part_of", "entity"), ("entity", "has_part", "entity")]}
    t = torch.as_tensor(g.cells["taxon"][cells], device=device)
    e = torch.as_tensor(g.cells["entity"][cells], device=device)
    y = torch.as_tensor(g.cells["y"][cells], device=device).bool()
    out["taxon", "has_presence_of", "entity"] = torch.stack([t[y], e[y]])
    out["entity", "present_in", "taxon"] = torch.stack([e[y], t[y]])
    out["taxon", "has_absence_of", "entity"] = torch.stack([t[~y], e[~y]])
    out["entity", "absent_in", "taxon"] = torch.stack([e[~y], t[~y]])
    return adjacencies(out, {"taxon": g.n_taxa, "entity": g.n_entities})


@dataclass
class Fitted:
    """A trained model with what it needs to predict: the graph, its split and the message edges."""

    model: TraitGNN
    graph: TraitGraph
    split: Split
    config: TrainConfig
    device: torch.device
    best_epoch: int = 0
    best_val_auc: float = float("nan")
    epoch_seconds: list[float] = field(default_factory=list)
    prior: torch.Tensor | None = None  # the priors fitted on every training cell
    cpu_s: float = 0.0  # CPU time of the fit (set by the caller that measures it)

    def probabilities(self) -> np.ndarray:
        """(taxa, entities) probabilities of presence, every training cell as an edge."""
        g = self.graph
        self.model.eval()
        with torch.no_grad():
            ht, he = self.model.encode(path_matrix(g.parent, self.device), call_edges(g, self.split.train, self.device),
                                       self.prior)
            return torch.sigmoid(self.model.all_logits(ht, he, self.prior)).cpu().numpy()

    def predict_cells(self, cells: np.ndarray) -> np.ndarray:
        p = self.probabilities()
        return p[self.graph.cells["taxon"][cells], self.graph.cells["entity"][cells]]


def fit(g: TraitGraph, split: Split, cfg: TrainConfig | None = None,
        progress: Callable[[int, int], None] | None = None) -> Fitted:
    """Train on ``split.train``, pick the epoch with the best validation AUC (checked before
    training and every ``eval_every`` epochs)."""
    cfg = cfg or TrainConfig()
    device = resolve_device(cfg.device)
    deterministic(cfg, device)
    rng = np.random.default_rng(cfg.seed)
    pri = fold_priors(g, split, tuple(cfg.priors), folds=cfg.folds, seed=cfg.seed) if cfg.priors else None
    model = TraitGNN(ModelConfig(g.n_taxa, g.n_entities, cfg.dim, cfg.layers, cfg.dropout, cfg.conv,
                                 len(cfg.priors))).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    path = path_matrix(g.parent, device)
    parent = torch.as_tensor(g.parent, device=device)
    anc = torch.as_tensor(g.entity_anc, device=device)
    full_prior = torch.as_tensor(pri.full, device=device) if pri else None
    fold_prior = [torch.as_tensor(p, device=device) for p in pri.by_fold] if pri else []
    yv = g.cells["y"][split.val]
    full_edges = call_edges(g, split.train, device)
    vt = torch.as_tensor(g.cells["taxon"][split.val], device=device)
    ve = torch.as_tensor(g.cells["entity"][split.val], device=device)
    fitted = Fitted(model, g, split, cfg, device, prior=full_prior)
    best_state: dict[str, torch.Tensor] | None = None
    since = 0

    def evaluate(epoch: int) -> bool:
        """Validation AUC now; keep the state if it is the best; False when patience ran out."""
        nonlocal best_state, since
        model.eval()
        with torch.no_grad():
            ht, he = model.encode(path, full_edges, full_prior)
            pv = torch.sigmoid(model.logits(ht, he, vt, ve, full_prior)).cpu().numpy()
        a = auc(yv, pv)
        if not (a <= fitted.best_val_auc):  # first, or better (nan-safe)
            fitted.best_val_auc, fitted.best_epoch = a, epoch
            best_state = {n: p.detach().clone() for n, p in model.state_dict().items()}
            since = 0
        else:
            since += cfg.eval_every
        return since < cfg.patience

    evaluate(0)
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        if pri is not None:
            k = (epoch - 1) % cfg.folds
            msg, sup, prior = split.train[pri.fold != k], split.train[pri.fold == k], fold_prior[k]
        else:
            perm = rng.permutation(len(split.train))
            cut = int(len(perm) * cfg.message_frac)
            msg, sup, prior = split.train[perm[:cut]], split.train[perm[cut:]], None
        if not len(sup):  # a fold with no cells (fewer tips than folds): nothing to learn from this turn
            continue
        if cfg.batch_size:
            from gnn.loader import train_minibatches

            train_minibatches(model, opt, g, msg, sup, prior, cfg, device, path, parent, anc, rng)
        else:
            ht, he = model.encode(path, call_edges(g, msg, device), prior)
            loss = _loss(model, g, ht, he, sup, prior, cfg, device, parent, anc)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        fitted.epoch_seconds.append(time.perf_counter() - t0)
        if (epoch % cfg.eval_every == 0 or epoch == cfg.epochs) and not evaluate(epoch):
            break
        if progress:
            progress(epoch, cfg.epochs)
    if best_state is not None:
        model.load_state_dict(best_state)
    log.info("trained %s split: best epoch %d, val AUC %.4f", split.name, fitted.best_epoch, fitted.best_val_auc)
    return fitted


def _loss(model: TraitGNN, g: TraitGraph, ht: torch.Tensor, he: torch.Tensor, sup: np.ndarray,
          prior: torch.Tensor | None, cfg: TrainConfig, device: torch.device, parent: torch.Tensor,
          anc: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the supervised cells plus the weighted knowledge losses on the whole logit matrix."""
    st = torch.as_tensor(g.cells["taxon"][sup], device=device)
    se = torch.as_tensor(g.cells["entity"][sup], device=device)
    sy = torch.as_tensor(g.cells["y"][sup], device=device, dtype=torch.float32)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model.logits(ht, he, st, se, prior), sy)
    if cfg.ontology_weight or cfg.smooth_weight:
        full = model.all_logits(ht, he, prior)
        if cfg.ontology_weight:
            loss = loss + cfg.ontology_weight * ontology_loss(full, anc)
        if cfg.smooth_weight:
            loss = loss + cfg.smooth_weight * smoothness_loss(full, parent)
    return loss
