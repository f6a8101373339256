"""The model from PyTorch Geometric's own layers: HeteroConv of SAGEConv/GATConv/GraphConv fed
torch.sparse CSR adjacencies (no pyg-lib, no torch-sparse), the same answer as with edge_index;
the priors residual (an untrained model ranks like label propagation); mini-batches from PyG's
LinkLoader with a pure-torch neighbour sampler (PyG's own NeighborSampler needs pyg-lib)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")
sys.path.insert(0, str(Path(__file__).parent))
from _worlds import gappy_sample  # noqa: E402

from gnn.baselines import run_baselines  # noqa: E402
from gnn.data import build_graph  # noqa: E402
from gnn.evaluate import auc  # noqa: E402
from gnn.models import CONVS, EDGE_TYPES, ModelConfig, TraitGNN, path_matrix  # noqa: E402
from gnn.tasks import make_split  # noqa: E402
from gnn.train import TrainConfig, call_edges, fit  # noqa: E402
from kg.core.errors import ValidationError  # noqa: E402


@pytest.fixture(scope="module")
def tg(tmp_path_factory):
    return build_graph(gappy_sample(tmp_path_factory.mktemp("m"), conflict=False), tree="sample", min_taxa=3)


@pytest.mark.parametrize("conv", sorted(CONVS))
def test_pyg_layers_take_the_sparse_adjacency(tg, conv):
    from torch_geometric.nn import HeteroConv

    torch.manual_seed(0)
    model = TraitGNN(ModelConfig(tg.n_taxa, tg.n_entities, dim=8, layers=2, dropout=0.0, conv=conv)).eval()
    assert all(isinstance(c, HeteroConv) for c in model.convs)
    assert {type(m).__name__ for c in model.convs for m in c.convs.values()} == {
        {"sage": "SAGEConv", "gat": "GATConv", "graph": "GraphConv"}[conv]}
    s = make_split(tg, "random", seed=0)
    adj = call_edges(tg, s.train, torch.device("cpu"))
    assert set(adj) == set(EDGE_TYPES) and all(a.layout == torch.sparse_csr for a in adj.values())
    # the same layers fed plain edge_index (PyG's scatter path) give the same representations
    edge_index = {et: torch.stack([a.to_sparse_coo().indices()[1], a.to_sparse_coo().indices()[0]])
                  for et, a in adj.items()}
    h = {"taxon": torch.randn(tg.n_taxa, 8), "entity": torch.randn(tg.n_entities, 8)}
    with torch.no_grad():
        a, b = model.convs[0](h, adj), model.convs[0](h, edge_index)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5)
    with pytest.raises(ValidationError, match="unknown conv 'rgcn': expected one of"):
        TraitGNN(ModelConfig(tg.n_taxa, tg.n_entities, conv="rgcn"))


def test_untrained_model_ranks_like_its_prior(tg):
    """The residual on label propagation's logits: before training (epoch 0, a candidate for the
    best epoch) the model orders the validation cells as label propagation does."""
    s = make_split(tg, "clade", seed=0)
    f = fit(tg, s, TrainConfig(epochs=0, seed=0, dim=8))
    p = f.probabilities()
    lp = run_baselines(tg, s.train, s.val, ["label-propagation"])["label-propagation"]
    yv = tg.cells["y"][s.val]
    mine = p[tg.cells["taxon"][s.val], tg.cells["entity"][s.val]]
    assert f.best_epoch == 0
    assert auc(yv, mine) == pytest.approx(auc(yv, lp), abs=1e-12)  # the same order: a monotone map of its logits
    assert f.best_val_auc == pytest.approx(auc(yv, lp), abs=1e-12)


def test_cell_sampler_respects_fanout_and_keeps_the_seeds(tg):
    from gnn.loader import SEED_TYPE, cell_loader

    s = make_split(tg, "random", seed=0)
    loader = cell_loader(tg, s.train[: len(s.train) // 2], s.train[len(s.train) // 2:], batch_size=8,
                         num_neighbors=(2, 1), seed=0)
    n = 0
    for batch in loader:
        n += 1
        li = batch[SEED_TYPE].edge_label_index
        assert li.shape == (2, len(batch[SEED_TYPE].edge_label)) and li.shape[1] <= 8
        tn, en = batch["taxon"].n_id, batch["entity"].n_id
        assert len(set(tn.tolist())) == len(tn) and len(set(en.tolist())) == len(en)
        for et in EDGE_TYPES:  # every sampled edge is an edge of the message graph
            ei = batch[et].edge_index
            src = (tn if et[0] == "taxon" else en)[ei[0]]
            dst = (tn if et[2] == "taxon" else en)[ei[1]]
            full = {tuple(x) for x in loader.data[et].edge_index.t().tolist()}
            assert {tuple(x) for x in torch.stack([src, dst]).t().tolist()} <= full
            # no destination received more than fan-out x hops edges of one type
            if ei.shape[1]:
                assert np.bincount(ei[1].numpy()).max() <= 3
    assert n == -(-(len(s.train) - len(s.train) // 2) // 8)


def test_minibatch_training_is_deterministic(tg):
    s = make_split(tg, "random", seed=0)
    cfg = TrainConfig(epochs=6, eval_every=2, seed=0, dim=8, batch_size=32, num_neighbors=(4, 2))
    a, b = fit(tg, s, cfg), fit(tg, s, cfg)
    assert np.array_equal(a.probabilities(), b.probabilities())
    assert a.probabilities().shape == (tg.n_taxa, tg.n_entities)
    assert [k for k in path_matrix(tg.parent).shape] == [tg.n_taxa, tg.n_taxa]
