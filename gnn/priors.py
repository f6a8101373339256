"""What the baselines know, as the model's input: prior probability matrices (taxa x entities).

A prior for the cells the model is *supervised* on must not have seen those cells (label
propagation clamps its training cells: the prior of a seen cell is its label, and the model would
learn to copy it). So the training cells are cut into ``folds``; the prior of fold ``k`` is the
baseline fitted on the other folds, and the epochs take turns: fold ``k`` supervised, the others
the message-passing edges. Folds follow the split: single cells for ``random``; for ``clade``,
runs of consecutive tips in preorder (about ``clade_tips`` of them: small clades), so that the
model learns how far to trust the prior where a whole clade is missing, as on the held-out side.
For validation, test and the unknown cells the prior is fitted on every training cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnn.baselines import baselines_at
from gnn.data import TraitGraph
from gnn.tasks import Split


@dataclass
class Priors:
    """``fold``: fold of each training cell (positions in ``split.train``); ``by_fold[k]``: the
    priors (names x taxa x entities) fitted without fold ``k``; ``full``: fitted on all of them."""

    names: tuple[str, ...]
    fold: np.ndarray
    by_fold: list[np.ndarray]
    full: np.ndarray


def prior_matrix(g: TraitGraph, cells: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(names, taxa, entities) probabilities of presence from the baselines fitted on ``cells``."""
    gt = np.repeat(np.arange(g.n_taxa), g.n_entities)
    ge = np.tile(np.arange(g.n_entities), g.n_taxa)
    got = baselines_at(g, cells, gt, ge, list(names))
    return np.stack([got[n].reshape(g.n_taxa, g.n_entities) for n in names]).astype(np.float32)


def fold_priors(g: TraitGraph, split: Split, names: tuple[str, ...], *, folds: int = 5, seed: int = 0,
                clade_tips: int = 6) -> Priors:
    rng = np.random.default_rng(seed)
    train = split.train
    if split.name == "clade":
        tips = np.unique(g.cells["taxon"][train])  # preorder: consecutive tips are close relatives
        block = np.arange(len(tips)) // max(1, min(clade_tips, len(tips) // folds))  # >= folds blocks
        block_fold = rng.permutation(int(block.max()) + 1) % folds
        fold_of_tip = dict(zip(tips.tolist(), block_fold[block].tolist()))
        fold = np.asarray([fold_of_tip[t] for t in g.cells["taxon"][train].tolist()], dtype=np.int64)
    else:
        fold = rng.permutation(len(train)) % folds
    by_fold = [prior_matrix(g, train[fold != k], names) for k in range(folds)]
    return Priors(names, fold, by_fold, prior_matrix(g, train, names))
