"""The learned model (no I/O): a heterogeneous GNN over taxa and anatomical entities.

Taxon inputs are *phylogenetic path encodings*: each tree node owns an increment vector
(initialised at zero) and a taxon's input is the sum of the increments on its path from the root,
so a taxon never seen in training (a held-out clade) still starts from what its ancestors learnt.
Entity inputs are embeddings. ``layers`` rounds of ``HeteroConv(SAGEConv)`` pass messages along
the tree, the ontology (subclass/part-of both ways) and the training presence/absence edges
(mean aggregation: works without torch-scatter / torch-sparse). The decoder is bilinear with an
entity bias, so the whole taxon x entity logit matrix is one matrix product (the knowledge losses
use it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import HeteroConv, SAGEConv

from gnn.data import CALL_EDGES, ONTOLOGY_EDGES, TREE_EDGES

EDGE_TYPES = TREE_EDGES + ONTOLOGY_EDGES + CALL_EDGES


@dataclass
class ModelConfig:
    n_taxa: int
    n_entities: int
    dim: int = 32
    layers: int = 2
    dropout: float = 0.1

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def path_matrix(parent: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Sparse (taxa x taxa) matrix with 1 at (t, a) for every ancestor-or-self ``a`` of ``t``.

    >>> path_matrix(np.array([-1, 0, 1])).to_dense().tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    rows, cols = [], []
    anc: list[list[int]] = []
    for i, p in enumerate(parent.tolist()):
        a = ([] if p < 0 else anc[p]) + [i]
        anc.append(a)
        rows.extend([i] * len(a))
        cols.extend(a)
    idx = torch.tensor([rows, cols], dtype=torch.long)
    return torch.sparse_coo_tensor(idx, torch.ones(len(rows)), (len(parent), len(parent)),
                                   check_invariants=False).coalesce().to(device)


class TraitGNN(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.increment = nn.Parameter(torch.zeros(cfg.n_taxa, d))
        self.taxon_base = nn.Parameter(torch.randn(d) * 0.1)
        self.entity = nn.Embedding(cfg.n_entities, d)
        nn.init.normal_(self.entity.weight, std=0.1)
        self.entity_bias = nn.Parameter(torch.zeros(cfg.n_entities))
        self.convs = nn.ModuleList(
            HeteroConv({et: SAGEConv((d, d), d) for et in EDGE_TYPES}, aggr="sum") for _ in range(cfg.layers))
        self.drop = nn.Dropout(cfg.dropout)

    def encode(self, path: torch.Tensor, edges: dict[tuple[str, str, str], torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Node representations (taxa, entities) given the message-passing edges."""
        h = {"taxon": torch.sparse.mm(path, self.increment) + self.taxon_base, "entity": self.entity.weight}
        for conv in self.convs:
            out = conv(h, edges)
            h = {k: h[k] + self.drop(torch.relu(out[k])) if k in out else h[k] for k in h}
        return h["taxon"], h["entity"]

    def all_logits(self, ht: torch.Tensor, he: torch.Tensor) -> torch.Tensor:
        """(taxa, entities) logits of presence."""
        return ht @ he.T / ht.shape[1] ** 0.5 + self.entity_bias

    def logits(self, ht: torch.Tensor, he: torch.Tensor, taxa: torch.Tensor, ents: torch.Tensor) -> torch.Tensor:
        return (ht[taxa] * he[ents]).sum(-1) / ht.shape[1] ** 0.5 + self.entity_bias[ents]


def ontology_loss(logits: torch.Tensor, anc: torch.Tensor) -> torch.Tensor:
    """Presence of a part (or subtype) implies presence of the whole (or supertype); equivalently
    absence of the whole implies absence of the part: penalise p(part) > p(whole), squared.
    ``anc``: (pairs, 2) entity indices (descendant, ancestor)."""
    if anc.numel() == 0:
        return logits.new_zeros(())
    p = torch.sigmoid(logits)
    return torch.relu(p[:, anc[:, 0]] - p[:, anc[:, 1]]).pow(2).mean()


def smoothness_loss(logits: torch.Tensor, parent: torch.Tensor) -> torch.Tensor:
    """Phylogenetic smoothness: a node's predicted presence close to its parent's (squared difference)."""
    kids = torch.arange(1, logits.shape[0], device=logits.device)
    p = torch.sigmoid(logits)
    return (p[kids] - p[parent[1:]]).pow(2).mean()
