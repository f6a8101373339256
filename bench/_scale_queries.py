"""The scale bench's queries on the built store, through the Python API as a user calls it; run as
a child process (``python bench/_scale_queries.py STORE SPECIES_FILE PREDICTED_FILE``), prints
one JSON object: each query's median and p95 seconds over many random inputs, and the first call
(which pays for opening indices)."""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _stats(times: list[float]) -> dict[str, float]:
    s = sorted(times)
    return {"median": statistics.median(s), "p95": s[min(len(s) - 1, int(0.95 * len(s)))], "n": len(s)}


def main() -> None:
    from kg import KnowledgeGraph

    store, species_file, predicted_file = sys.argv[1:4]
    species = Path(species_file).read_text().splitlines()
    predicted = Path(predicted_file).read_text().splitlines()
    rnd = random.Random(28)
    out: dict[str, object] = {}
    t0 = time.perf_counter()
    g = KnowledgeGraph.open(store)
    out["open"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tree = g.tree()
    out["tree index (first use)"] = time.perf_counter() - t0
    out["tree index source"] = tree.index.meta.get("source")
    tips = [s.replace(" ", "_") for s in species]

    def timed(fn, inputs) -> dict[str, float]:
        ts = []
        for x in inputs:
            t = time.perf_counter()
            fn(x)
            ts.append(time.perf_counter() - t)
        return _stats(ts)

    k1 = min(1000, len(tips))
    sets = [rnd.sample(tips, k1) for _ in range(30)]
    t0 = time.perf_counter()
    tree.mrca(sets[0])
    out["mrca by names (first call: builds the label table)"] = time.perf_counter() - t0
    out["mrca 1000 tips (names)"] = timed(tree.mrca, sets)
    idsets = [tree.node_ids(s) for s in sets]
    out["mrca 1000 tips (ids)"] = timed(tree.index.mrca, idsets)
    k2 = min(10_000, len(tips))
    sets2 = [rnd.sample(tips, k2) for _ in range(7)]
    out["induced 10000 tips (names)"] = timed(tree.induced_subtree, sets2)

    t0 = time.perf_counter()
    g.predictions.summary(predicted[0])
    out["prediction summary (first call)"] = time.perf_counter() - t0
    out["prediction summary"] = timed(g.predictions.summary, rnd.sample(predicted, min(50, len(predicted))))

    traits = g.traits
    t0 = time.perf_counter()
    traits.taxa_with("UBERON:0002101")  # limb: warms the phenotype index
    out["taxa-with (first call)"] = time.perf_counter() - t0
    terms = ["UBERON:0000151", "UBERON:0002101", "UBERON:0011618", "UBERON:0002513", "UBERON:0000152",
             "UBERON:2000251", "UBERON:0003097", "UBERON:0010740"] * 3
    found: list[int] = []

    def tw(term: str) -> None:
        found.append(len(traits.taxa_with(term)))

    out["taxa-with entity (subsumption)"] = timed(tw, terms)
    out["taxa-with answers (taxa)"] = sorted(set(found))
    g.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
