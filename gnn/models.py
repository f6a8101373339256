"""The learned model (no I/O): a heterogeneous GNN over taxa and anatomical entities, built from
PyTorch Geometric's own layers.

Taxon inputs are *phylogenetic path encodings*: each tree node owns an increment vector
(initialised at zero) and a taxon's input is the sum of the increments on its path from the root,
so a taxon never seen in training (a held-out clade) still starts from what its ancestors learnt;
with *priors* (what the baselines know: e.g. label propagation's probabilities for every entity)
the taxon's row of priors is an input too. Entity inputs are embeddings. ``layers`` rounds of
``HeteroConv({edge type: conv}, aggr="sum")`` pass messages along the tree, the ontology
(subclass/part-of both ways) and the training presence/absence edges; ``conv`` picks the layer
(:data:`CONVS`: ``sage`` = ``SAGEConv`` (mean), ``gat`` = ``GATConv``, ``graph`` = ``GraphConv``
(mean)), with a residual connection around each round. The adjacency each layer receives is a
``torch.sparse`` CSR matrix (destination x source), which PyG's layers accept in place of
``edge_index``: no torch-scatter, torch-sparse or pyg-lib needed, and the same code on CUDA.

The decoder is bilinear with an entity bias plus, with priors, a residual on the priors'
logits (one learnt scale per prior and entity, initialised at 1) and the bilinear part scaled by a
learnt ``mix`` initialised at 0, so an untrained model scores exactly like the prior and training
learns where to depart from it. The whole taxon x entity logit
matrix is one matrix product (the knowledge losses use it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import GATConv, GraphConv, HeteroConv, SAGEConv

from gnn.data import CALL_EDGES, ONTOLOGY_EDGES, TREE_EDGES
from kg.core.errors import ValidationError

EDGE_TYPES = TREE_EDGES + ONTOLOGY_EDGES + CALL_EDGES


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


EdgeType = tuple[str, str, str]


def adjacency(edge_index: torch.Tensor, n_src: int, n_dst: int) -> torch.Tensor:
    """(dst x src) sparse CSR matrix with 1 at each edge: what PyG's layers take as ``edge_index``
    (the transposed adjacency; mean layers divide by the in-degree themselves).

    >>> adjacency(torch.tensor([[0, 1, 1], [0, 0, 1]]), 2, 2).to_dense().tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    src, dst = edge_index[0], edge_index[1]
    coo = torch.sparse_coo_tensor(torch.stack([dst, src]), torch.ones(len(src), device=edge_index.device),
                                  (n_dst, n_src), check_invariants=False).coalesce()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the layers' own fast path uses it
        warnings.simplefilter("ignore", UserWarning)
        return coo.to_sparse_csr()


def adjacencies(edges: dict[EdgeType, torch.Tensor], sizes: dict[str, int]) -> dict[EdgeType, torch.Tensor]:
    return {et: adjacency(ei, sizes[et[0]], sizes[et[2]]) for et, ei in edges.items()}


#: the message-passing layer, by name: ``conv(dim)`` for one edge type (bipartite: source, target)
CONVS: dict[str, Callable[[int], nn.Module]] = {
    "sage": lambda d: SAGEConv((d, d), d, aggr="mean"),
    "gat": lambda d: GATConv((d, d), d, heads=1, add_self_loops=False),
    "graph": lambda d: GraphConv((d, d), d, aggr="mean"),
}


@dataclass
class ModelConfig:
    n_taxa: int
    n_entities: int
    dim: int = 32
    layers: int = 2
    dropout: float = 0.1
    conv: str = "sage"
    n_priors: int = 0  # prior probability matrices (taxa x entities) given as input and residual

    def to_dict(self) -> dict[str, int | float | str]:
        return asdict(self)


def prior_logits(prior: torch.Tensor) -> torch.Tensor:
    """Logits of prior probabilities (clipped to [1e-6, 1 - 1e-6]: an order-preserving map of every
    probability a baseline gives an unlabelled cell), shape (priors, taxa, entities)."""
    p = prior.clamp(1e-6, 1 - 1e-6)
    return torch.log(p) - torch.log1p(-p)


class TraitGNN(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.conv not in CONVS:
            raise ValidationError(f"unknown conv {cfg.conv!r}: expected one of {', '.join(CONVS)}")
        self.cfg = cfg
        d = cfg.dim
        self.increment = nn.Parameter(torch.zeros(cfg.n_taxa, d))
        self.taxon_base = nn.Parameter(torch.randn(d) * 0.1)
        self.entity = nn.Embedding(cfg.n_entities, d)
        nn.init.normal_(self.entity.weight, std=0.1)
        self.entity_bias = nn.Parameter(torch.zeros(cfg.n_entities))
        if cfg.n_priors:
            self.prior_in = nn.Linear(cfg.n_priors * cfg.n_entities, d)
            self.prior_scale = nn.Parameter(torch.ones(cfg.n_priors, cfg.n_entities))
            self.mix = nn.Parameter(torch.zeros(()))  # the learnt part starts at 0: untrained = the priors
        self.convs = nn.ModuleList(HeteroConv({et: CONVS[cfg.conv](d) for et in EDGE_TYPES}, aggr="sum")
                                   for _ in range(cfg.layers))
        self.drop = nn.Dropout(cfg.dropout)

    def encode(self, path: torch.Tensor, adj: dict[EdgeType, torch.Tensor], prior: torch.Tensor | None = None,
               taxa: torch.Tensor | None = None, ents: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Node representations (taxa, entities) given the message-passing adjacencies
        (:func:`adjacencies`) and, with ``n_priors``, the priors (priors, taxa, entities). On a
        sampled subgraph ``taxa`` and ``ents`` are the global ids of its nodes (``adj`` is local)."""
        if taxa is not None:
            path = path.index_select(0, taxa)
        ht = torch.sparse.mm(path, self.increment) + self.taxon_base
        if self.cfg.n_priors:
            rows = prior if taxa is None else prior[:, taxa]
            ht = ht + self.prior_in((rows - 0.5).permute(1, 0, 2).reshape(rows.shape[1], -1))
        h = {"taxon": ht, "entity": self.entity.weight if ents is None else self.entity.weight[ents]}
        for conv in self.convs:
            out = conv(h, adj)
            h = {k: h[k] + self.drop(torch.relu(out[k])) if k in out else h[k] for k in h}
        return h["taxon"], h["entity"]

    def all_logits(self, ht: torch.Tensor, he: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        """(taxa, entities) logits of presence."""
        out = ht @ he.T / ht.shape[1] ** 0.5
        if self.cfg.n_priors:
            return self.mix * out + self.entity_bias + (self.prior_scale[:, None, :] * prior_logits(prior)).sum(0)
        return out + self.entity_bias

    def logits(self, ht: torch.Tensor, he: torch.Tensor, taxa: torch.Tensor, ents: torch.Tensor,
               prior: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the cells (``taxa[i]``, ``ents[i]``)."""
        return self.pair_logits(ht[taxa], he[ents], taxa, ents, prior)

    def pair_logits(self, zt: torch.Tensor, ze: torch.Tensor, taxa: torch.Tensor, ents: torch.Tensor,
                    prior: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of cells from their taxon and entity representations (``zt[i]``, ``ze[i]``) and
        global ids (for the entity bias and the priors)."""
        out = (zt * ze).sum(-1) / zt.shape[1] ** 0.5
        if self.cfg.n_priors:
            return (self.mix * out + self.entity_bias[ents]
                    + (self.prior_scale[:, ents] * prior_logits(prior[:, taxa, ents])).sum(0))
        return out + self.entity_bias[ents]

    def block_logits(self, zt: torch.Tensor, ze: torch.Tensor, taxa: torch.Tensor, ents: torch.Tensor,
                     prior: torch.Tensor | None = None) -> torch.Tensor:
        """The (taxa x entities) logit block of a subgraph (``taxa``, ``ents``: global ids)."""
        out = zt @ ze.T / zt.shape[1] ** 0.5
        if self.cfg.n_priors:
            block = prior[:, taxa][:, :, ents]
            return self.mix * out + self.entity_bias[ents] + (self.prior_scale[:, None, ents] * prior_logits(block)).sum(0)
        return out + self.entity_bias[ents]


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
