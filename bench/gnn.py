"""GNN benchmark on the real data: imputation, link prediction and placement, the full table of splits x methods.

Usage: ``.venv/bin/python bench/gnn.py [--entities 150] [--epochs 100] [--device cpu] [--out gnn.json]``

Data: the 47 Phenoscape NeXML matrices (presence/absence calls, asserted + inferred through the
UBERON 2015 closure), the Fish Tree of Life treePL chronogram (taxa matched to tips by exact name
or synonym). Subsampled to the ``--entities`` entities with the most labelled taxa (>= 20, with
>= 5 of the rarer value) so that it runs in about ten minutes on two shared cores; the table says
how many. Splits: random held-out cells and whole held-out clades (3-10 tips), seed 0. Methods: the
baselines (the peers, measured in the same run on the same cells) and the model with both kinds of
knowledge guidance, without the ontology loss, without the smoothness loss, and without either.
The gate mark says what ``predict()`` would use on that split: the best model variant only if
its validation AUC beats the best baseline's in 95% of paired bootstrap resamples (link
prediction: validation MRR). Loading UBERON, the matrices and the tree is setup, timed but not part of the table.
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
    from gnn.pipeline import evaluation_table
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
    last = {}

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done - last.get(stage, 0) >= 25:
            last[stage] = done
            print(f"  ({stage}: epoch {done}/{total}, {time.perf_counter() - t:.0f}s)", file=sys.stderr, flush=True)

    rows = evaluation_table(tg, dataset="phenoscape47+fishtree", seed=args.seed, cfg=cfg, progress=progress)
    t_table = time.perf_counter() - t
    mark = lambda r: "<- gate" if r.get("gate_choice") == r["method"] else ""  # noqa: E731
    print("\nimputation (presence/absence per cell; AUC etc. on held-out cells)")
    fmt = "{:<7} {:<18} {:>7} {:>8} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8}  {}"
    print(fmt.format("split", "method", "val AUC", "test AUC", "test acc", "bal acc", "Brier", "viol", "epoch s",
                     "train s", ""))
    for r in (r for r in rows if r["task"] == "imputation"):
        v, te = r["val"], r["test"]
        print(fmt.format(r["split"], r["method"], v["auc"], te["auc"], te["accuracy"], te["balanced_accuracy"],
                         te["brier"], r.get("ontology_violations", ""), r.get("epoch_s", ""), r.get("train_s", ""),
                         mark(r)))
    print("\nlink prediction (filtered ranks, head and tail queries of the held-out triples)")
    fmt = "{:<7} {:<18} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8}  {}"
    print(fmt.format("split", "method", "val MRR", "test MRR", "Hits@1", "Hits@10", "head MRR", "tail MRR", ""))
    for r in (r for r in rows if r["task"] == "link-prediction"):
        te = r["test"]
        print(fmt.format(r["split"], r["method"], r["val"]["both"]["mrr"], te["both"]["mrr"], te["both"]["hits@1"],
                         te["both"]["hits@10"], te["head"]["mrr"], te["tail"]["mrr"], mark(r)))
    print("\ntaxon placement (held-out taxa placed on the reference tree; no learned model)")
    fmt = "{:<7} {:<18} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6}"
    print(fmt.format("split", "method", "sister hit", "sister exp", "tied", "excess", "n", "ref"))
    for r in (r for r in rows if r["task"] == "placement"):
        te = r["test"]
        print(fmt.format(r["split"], r["method"], te["sister_hit"], te["sister_expected"], te["tied"],
                         te["excess_edges"], te["n"], te["reference"]))
    print()
    for task, metric in (("imputation", "auc"), ("link-prediction", "mrr")):
        for sp in ("random", "clade"):
            mine = [r for r in rows if r["split"] == sp and r["task"] == task]
            def val(r: dict, m: str = metric) -> float:
                return r["val"][m] if m == "auc" else r["val"]["both"][m]

            def tst(r: dict, m: str = metric) -> float:
                return r["test"][m] if m == "auc" else r["test"]["both"][m]
            best_b = max((r for r in mine if r["kind"] == "baseline"), key=val)
            gnn = next(r for r in mine if r["method"] == "gnn")
            print(f"{task} {sp}: sizes {mine[0]['split_sizes']}; gnn test {metric} {tst(gnn)} vs the best baseline on "
                  f"validation ({best_b['method']}) {tst(best_b)}: ratio {tst(gnn) / tst(best_b):.3f}; "
                  f"the gate uses {mine[0]['gate_choice']}"
                  + (f" (best model wins {mine[0]['gate_confidence']:.0%} of validation bootstraps; 95% needed)"
                     if task == "imputation" else " (validation MRR)"))
    print(f"table {t_table:.0f}s; total wall {time.perf_counter() - t_all:.0f}s; load average {os.getloadavg()[0]:.1f} at end")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "graph": c, "setup_s": t_setup, "table_s": t_table},
                                             indent=1, default=str))


if __name__ == "__main__":
    main()
