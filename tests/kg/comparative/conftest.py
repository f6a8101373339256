"""Fixtures for the comparative-method tests: R's expected values and the trees/tables they were
computed on (tests/data/comparative, made by make_expected.R)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from kg.comparative.tree import PhyloTree

DATA = Path(__file__).resolve().parents[2] / "data" / "comparative"


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


def tree(name: str) -> PhyloTree:
    return PhyloTree.from_newick((DATA / f"{name}.nwk").read_text())


def table(name: str) -> list[dict[str, str]]:
    with open(DATA / f"{name}.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def column(name: str, col: str) -> dict[str, float]:
    return {r["taxon"]: float(r[col]) for r in table(name)}


def r_nodes(t: PhyloTree, keys: list[list[str]]) -> np.ndarray:
    """R's internal nodes (given as two tips each) as our node ids."""
    return np.array([t.mrca(t.tip_ids(k)) for k in keys])


def close(a, b, rel: float = 1e-6, abs_: float = 0.0) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.allclose(a, b, rtol=rel, atol=abs_))
