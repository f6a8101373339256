"""Mini-batch training with PyTorch Geometric's own loader, for graphs that do not fit at once.

The supervised cells are links ``(taxon, has_presence_of | has_absence_of, entity)``, so the batches
come from PyG's :class:`~torch_geometric.loader.LinkLoader`: it draws the seed cells, asks a
sampler for their neighbourhood and builds each batch as a ``HeteroData`` subgraph (global ids in
``n_id``, the seed cells in ``edge_label_index``). PyG's ``NeighborLoader``/``LinkNeighborLoader``
sampler (``NeighborSampler``) and ``HGTLoader`` need ``pyg-lib`` or ``torch-sparse``, which have no
wheels for this torch (``ImportError: 'NeighborSampler' requires either 'pyg-lib' or
'torch-sparse'``); :class:`CellSampler` is a :class:`~torch_geometric.sampler.BaseSampler` in plain
torch/numpy with the same contract: per hop, for every edge type, at most ``num_neighbors[hop]``
incoming edges of each frontier node, drawn without replacement, from a seeded generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import LinkLoader
from torch_geometric.sampler import BaseSampler, EdgeSamplerInput, HeteroSamplerOutput

from gnn.data import TraitGraph
from gnn.models import EDGE_TYPES, TraitGNN, adjacency

SEED_TYPE = ("taxon", "has_presence_of", "entity")  # the seed cells' edge type (either value)


class CellSampler(BaseSampler):
    """Uniform k-hop neighbour sampling over a ``HeteroData``'s edge types, without pyg-lib."""

    def __init__(self, data: HeteroData, num_neighbors: tuple[int, ...], *, seed: int = 0) -> None:
        self.num_neighbors = tuple(int(k) for k in num_neighbors)
        self.rng = np.random.default_rng(seed)
        self.sizes = {t: int(data[t].num_nodes) for t in data.node_types}
        self.src: dict[tuple[str, str, str], np.ndarray] = {}
        self.dst: dict[tuple[str, str, str], np.ndarray] = {}
        self.by_dst: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
        for et in data.edge_types:
            ei = data[et].edge_index.cpu().numpy()
            self.src[et], self.dst[et] = ei[0], ei[1]
            order = np.argsort(ei[1], kind="stable")
            ptr = np.concatenate([[0], np.cumsum(np.bincount(ei[1], minlength=self.sizes[et[2]]))])
            self.by_dst[et] = (ptr, order)  # incoming edges of node v: order[ptr[v]:ptr[v+1]]

    def _incoming(self, et: tuple[str, str, str], nodes: np.ndarray, k: int) -> np.ndarray:
        """Edge ids: at most ``k`` incoming edges of each of ``nodes``, at random."""
        ptr, order = self.by_dst[et]
        counts = ptr[nodes + 1] - ptr[nodes]
        if not counts.sum():
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(ptr[nodes], counts)
        group = np.repeat(np.arange(len(nodes)), counts)
        offset = np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)
        cand = starts + offset
        key = self.rng.random(len(cand))
        o = np.lexsort((key, group))
        rank = np.arange(len(o)) - np.repeat(np.cumsum(counts) - counts, counts)
        return order[cand[o][rank < k]]

    def sample_from_edges(self, inputs: EdgeSamplerInput, neg_sampling: Any = None) -> HeteroSamplerOutput:
        seeds = {"taxon": inputs.row.numpy(), "entity": inputs.col.numpy()}
        nodes = {t: list(dict.fromkeys(seeds.get(t, np.zeros(0, dtype=np.int64)).tolist())) for t in self.sizes}
        local = {t: {v: i for i, v in enumerate(nodes[t])} for t in self.sizes}
        frontier = {t: np.asarray(nodes[t], dtype=np.int64) for t in self.sizes}
        picked: dict[tuple[str, str, str], list[np.ndarray]] = {et: [] for et in self.by_dst}
        for k in self.num_neighbors:
            new: dict[str, list[int]] = {t: [] for t in self.sizes}
            for et in self.by_dst:
                if not len(frontier[et[2]]):
                    continue
                e = self._incoming(et, frontier[et[2]], k)
                picked[et].append(e)
                for v in self.src[et][e].tolist():
                    if v not in local[et[0]]:
                        local[et[0]][v] = len(nodes[et[0]])
                        nodes[et[0]].append(v)
                        new[et[0]].append(v)
            frontier = {t: np.asarray(v, dtype=np.int64) for t, v in new.items()}
        node = {t: torch.as_tensor(np.asarray(v, dtype=np.int64)) for t, v in nodes.items()}
        row, col, edge = {}, {}, {}
        for et, parts in picked.items():
            e = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
            src, dst = self.src[et][e], self.dst[et][e]
            row[et] = torch.as_tensor([local[et[0]][v] for v in src.tolist()], dtype=torch.long)
            col[et] = torch.as_tensor([local[et[2]][v] for v in dst.tolist()], dtype=torch.long)
            edge[et] = torch.as_tensor(e, dtype=torch.long)
        label_index = torch.stack([torch.as_tensor([local["taxon"][v] for v in seeds["taxon"].tolist()]),
                                   torch.as_tensor([local["entity"][v] for v in seeds["entity"].tolist()])])
        return HeteroSamplerOutput(node=node, row=row, col=col, edge=edge, batch=None,
                                   metadata=(inputs.input_id, label_index, inputs.label, None))

    def sample_from_nodes(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - links only
        raise TypeError("CellSampler samples around cells (links); use it with LinkLoader")


def message_data(g: TraitGraph, msg: np.ndarray) -> HeteroData:
    """The message-passing graph of one epoch: tree, ontology, and the calls of the ``msg`` cells."""
    d = HeteroData()
    d["taxon"].num_nodes = g.n_taxa
    d["entity"].num_nodes = g.n_entities
    for et in EDGE_TYPES[:6]:
        d[et].edge_index = g.data[et].edge_index
    t, e, y = (torch.as_tensor(g.cells[k][msg]) for k in ("taxon", "entity", "y"))
    y = y.bool()
    d["taxon", "has_presence_of", "entity"].edge_index = torch.stack([t[y], e[y]])
    d["entity", "present_in", "taxon"].edge_index = torch.stack([e[y], t[y]])
    d["taxon", "has_absence_of", "entity"].edge_index = torch.stack([t[~y], e[~y]])
    d["entity", "absent_in", "taxon"].edge_index = torch.stack([e[~y], t[~y]])
    return d


def cell_loader(g: TraitGraph, msg: np.ndarray, sup: np.ndarray, *, batch_size: int,
                num_neighbors: tuple[int, ...], seed: int) -> LinkLoader:
    """PyG's ``LinkLoader`` over the supervised cells ``sup`` (labels: presence), sampling the
    message graph of ``msg`` around them with :class:`CellSampler`."""
    data = message_data(g, msg)
    sampler = CellSampler(data, num_neighbors, seed=seed)
    label_index = torch.stack([torch.as_tensor(g.cells["taxon"][sup]), torch.as_tensor(g.cells["entity"][sup])])
    gen = torch.Generator().manual_seed(seed)
    return LinkLoader(data, link_sampler=sampler, edge_label_index=(SEED_TYPE, label_index),
                      edge_label=torch.as_tensor(g.cells["y"][sup], dtype=torch.float32), batch_size=batch_size,
                      shuffle=True, generator=gen)


def train_minibatches(model: TraitGNN, opt: torch.optim.Optimizer, g: TraitGraph, msg: np.ndarray, sup: np.ndarray,
                      prior: torch.Tensor | None, cfg: Any, device: torch.device, path: torch.Tensor,
                      parent: torch.Tensor, anc: torch.Tensor, rng: np.random.Generator) -> int:
    """One epoch over mini-batches of the supervised cells; returns the number of batches. The
    knowledge losses act on each batch's subgraph (its taxa x entities block, the closure pairs and
    tree edges inside it)."""
    from gnn.models import ontology_loss

    loader = cell_loader(g, msg, sup, batch_size=cfg.batch_size, num_neighbors=tuple(cfg.num_neighbors),
                         seed=int(rng.integers(0, 2**31)))
    n = 0
    for batch in loader:
        batch = batch.to(device)
        tn, en = batch["taxon"].n_id, batch["entity"].n_id
        adj = {et: adjacency(batch[et].edge_index, len(tn) if et[0] == "taxon" else len(en),
                             len(tn) if et[2] == "taxon" else len(en)) for et in EDGE_TYPES}
        zt, ze = model.encode(path, adj, prior, taxa=tn, ents=en)
        li = batch[SEED_TYPE].edge_label_index
        logit = model.pair_logits(zt[li[0]], ze[li[1]], tn[li[0]], en[li[1]], prior)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, batch[SEED_TYPE].edge_label)
        if cfg.ontology_weight or cfg.smooth_weight:
            block = model.block_logits(zt, ze, tn, en, prior)
            if cfg.ontology_weight:
                pos = torch.full((g.n_entities,), -1, dtype=torch.long, device=device)
                pos[en] = torch.arange(len(en), device=device)
                a = pos[anc] if anc.numel() else anc
                inside = a[(a >= 0).all(dim=1)] if a.numel() else a
                loss = loss + cfg.ontology_weight * ontology_loss(block, inside)
            if cfg.smooth_weight:
                tpos = torch.full((g.n_taxa,), -1, dtype=torch.long, device=device)
                tpos[tn] = torch.arange(len(tn), device=device)
                kid = tpos[parent[tn].clamp(min=0)]
                ok = (parent[tn] >= 0) & (kid >= 0)
                if ok.any():
                    p = torch.sigmoid(block)
                    loss = loss + cfg.smooth_weight * (p[ok] - p[kid[ok]]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += 1
    return n
