"""GNN benchmark: presence/absence imputation on the real data, the full table of splits x methods.

Usage: ``.venv/bin/python bench/gnn.py [--entities 150] [--epochs 100] [--device cpu] [--out gnn.json]``

Data: the 47 Phenoscape NeXML matrices (presence/absence calls, asserted + inferred through the
UBERON 2015 closure), the Fish Tree of Life treePL chronogram (taxa matched to tips by exact name
or synonym). Subsampled to the ``--entities`` entities with the most labelled taxa (>= 20, with
>= 5 of the rarer value) so that it runs in about ten minutes on two shared cores; the table says
how many. Splits: random held-out cells and whole held-out clades (3-10 tips), seed 0. Methods: the
baselines (the peers, measured in the same run on the same cells) and the model with both kinds of
knowledge guidance, without the ontology loss, without the smoothness loss, and without either.
The gate column says what ``predict()`` would use on that split (best validation AUC; ties to the
baseline). Loading UBERON, the matrices and the tree is setup, timed but not part of the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _util import SHARED  # TRAITKG_SHARED_DATA, default ../shared/data (exits with how to set it)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=150)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the metrics JSON here")
    args = ap.parse_args()
    import torch

    from gnn.data import build_graph
    from gnn.pipeline import imputation_table
    from gnn.train import TrainConfig
    from kg import KnowledgeGraph

    torch.set_num_threads(args.threads)
    t_all = time.perf_counter()
    g = KnowledgeGraph.open("oxigraph:")
    g.load_ontology(SHARED / "uberon" / "uberon-2015-05-25.owl.gz", name="uberon")
    g.load_phenotypes(SHARED / "phenoscape-data" / "nexml", lenient=True)
    g.load_tree(SHARED / "fishtree" / "actinopt_12k_treePL.tre", name="fishtree")
    n_calls = len(g.traits.calls())
    t_setup = time.perf_counter() - t_all
    t = time.perf_counter()
    tg = build_graph(g, tree="fishtree", min_taxa=20, min_minority=5, max_entities=args.entities)
    t_build = time.perf_counter() - t
    c = tg.counts
    print(f"setup (UBERON + closure, 47 matrices, {n_calls} calls, fish tree): {t_setup:.0f}s; graph build {t_build:.1f}s")
    print(f"graph: {c['taxa_with_calls']} taxa with calls, {c['tips_matched']} on the tree (unmatched "
          f"{c['taxa_unmatched']}, genus-level/fuzzy left out {c['taxa_approximate']}, ambiguous {c['taxa_ambiguous']}); "
          f"{c['taxon_nodes']} taxon nodes (induced tree); {c['entities']} entities (the {args.entities} most labelled "
          f"with >= 20 taxa and >= 5 of the rarer value); {c['cells']} labelled cells ({c['present']} present)")
    print(f"device {args.device}, torch threads {args.threads}, load average {os.getloadavg()[0]:.1f} at start")
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, device=args.device)
    t = time.perf_counter()
    rows = imputation_table(tg, dataset="phenoscape47+fishtree", seed=args.seed, cfg=cfg)
    t_table = time.perf_counter() - t
    hdr = ("split", "method", "val AUC", "test AUC", "test acc", "bal acc", "Brier", "viol", "epoch s", "train s", "gate")
    fmt = "{:<7} {:<18} {:>7} {:>8} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8}  {}"
    print()
    print(fmt.format(*hdr))
    for r in rows:
        v, te = r["val"], r["test"]
        print(fmt.format(r["split"], r["method"], v["auc"], te["auc"], te["accuracy"], te["balanced_accuracy"],
                         te["brier"], r.get("ontology_violations", ""), r.get("epoch_s", ""), r.get("train_s", ""),
                         "<- chosen" if r["gate_choice"] == r["method"] else ""))
    for sp in ("random", "clade"):
        mine = [r for r in rows if r["split"] == sp]
        best_b = max((r for r in mine if r["kind"] == "baseline"), key=lambda r: r["val"]["auc"])
        gnn = next(r for r in mine if r["method"] == "gnn")
        print(f"{sp}: sizes {mine[0]['split_sizes']}; gnn test AUC {gnn['test']['auc']} vs best baseline on validation "
              f"({best_b['method']}) {best_b['test']['auc']}: ratio {gnn['test']['auc'] / best_b['test']['auc']:.3f}; "
              f"gate uses {mine[0]['gate_choice']}")
    print(f"table {t_table:.0f}s; total wall {time.perf_counter() - t_all:.0f}s; load average {os.getloadavg()[0]:.1f} at end")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "graph": c, "setup_s": t_setup, "table_s": t_table},
                                             indent=1, default=str))


if __name__ == "__main__":
    main()
