"""GNN benchmark: imputation, link prediction and placement, every method on every split, in one run.

Usage::

    .venv/bin/python bench/gnn.py [--ontology PATH] [--phenotypes DIR_OR_FILE ...] [--tree PATH]
        [--store oxigraph:DIR] [--entities 150] [--epochs 100] [--device cpu] [--threads 2]
        [--tasks imputation,linkpred,placement] [--splits random,clade] [--conv sage] [--out gnn.json]

Data (defaults, from the shared data directory, ``TRAITKG_SHARED_DATA``): UBERON 2015 (and its
closure), the 47 Phenoscape NeXML matrices (presence/absence calls, asserted + inferred), the Fish
Tree of Life treePL chronogram (taxa matched to tips by exact name or synonym). ``--store`` reuses
an on-disk store that already holds them (loading is skipped when it has phenotypes), otherwise
they are loaded into memory. Subsampled to the ``--entities`` entities with the most labelled
taxa (>= 20, with >= 5 of the rarer value). Splits: random held-out cells and whole held-out
clades (3-10 tips). Methods: the baselines (the peers, measured in the same run on the same cells)
and the model (PyG HeteroConv, label propagation's priors, ontology and smoothness losses) with
the ablation rows (without each kind of knowledge guidance). Each figure has its 95% paired
bootstrap interval; ``<- gate`` marks what the gate uses. Times are CPU seconds of this process.
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


def ci(m: dict, key: str) -> str:
    lo, hi = m.get(f"{key}_ci", [None, None])
    return "n/a" if lo is None else f"[{lo:.4f},{hi:.4f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ontology", type=Path, default=SHARED / "uberon" / "uberon-2015-05-25.owl.gz")
    ap.add_argument("--phenotypes", type=Path, nargs="+", default=[SHARED / "phenoscape-data" / "nexml"])
    ap.add_argument("--tree", type=Path, default=SHARED / "fishtree" / "actinopt_12k_treePL.tre")
    ap.add_argument("--tree-name", default="fishtree")
    ap.add_argument("--store", default="oxigraph:", help="a store selector; reused when it already has phenotypes")
    ap.add_argument("--entities", type=int, default=150)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--conv", default="sage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tasks", default="imputation,linkpred,placement")
    ap.add_argument("--splits", default="random,clade")
    ap.add_argument("--out", default=None, help="write every figure as JSON here")
    args = ap.parse_args()

    from gnn.data import build_graph
    from gnn.evaluate import jsonable
    from gnn.pipeline import run_task
    from gnn.train import TrainConfig
    from kg import KnowledgeGraph

    t_all = time.perf_counter()
    g = KnowledgeGraph.open(args.store)
    if not g.traits.index.phenotype_graphs:
        g.load_ontology(args.ontology, name="uberon")
        g.load_phenotypes(args.phenotypes, lenient=True)
        g.load_tree(args.tree, name=args.tree_name)
    n_calls = len(g.traits.calls())
    t_setup = time.perf_counter() - t_all
    cpu = time.process_time()
    tg = build_graph(g, tree=args.tree_name, min_taxa=20, min_minority=5, max_entities=args.entities)
    c = tg.counts
    print(f"setup (ontology + closure, matrices, {n_calls} calls, tree): {t_setup:.0f}s wall; graph build "
          f"{time.process_time() - cpu:.1f}s CPU")
    print(f"graph: {c['taxa_with_calls']} taxa with calls, {c['tips_matched']} on the tree; {c['taxon_nodes']} taxon "
          f"nodes; {c['entities']} entities; {c['cells']} labelled cells ({c['present']} present); {c['conflicts']} "
          f"conflicting cells and {c['polymorphic']} polymorphic ones left out")
    print(f"device {args.device}, conv {args.conv}, torch threads {args.threads}, epochs {args.epochs}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, device=args.device, threads=args.threads, conv=args.conv)
    runs = {}
    for task in args.tasks.split(","):
        for sp in args.splits.split(","):
            t = time.perf_counter()
            runs[(task, sp)] = run_task(tg, task, sp, cfg, limit=None, ablation=task == "imputation").out
            print(f"  ({task} {sp}: {time.perf_counter() - t:.0f}s wall)", file=sys.stderr, flush=True)
    report(runs)
    print(f"total wall {time.perf_counter() - t_all:.0f}s; load average {os.getloadavg()[0]:.1f} at end")
    if args.out:
        Path(args.out).write_text(json.dumps(jsonable({f"{k[0]}/{k[1]}": v for k, v in runs.items()}), indent=1,
                                             allow_nan=False))


def report(runs: dict) -> None:
    for (task, sp), out in runs.items():
        gate = out["gate"]["chosen"]
        print(f"\n{task}, {sp} split: sizes {out['metrics'].get('split', '')}; CPU {out['cpu_s']:.0f}s "
              f"(training {', '.join(f'{k} {v:.0f}s' for k, v in out.get('train_cpu_s', {}).items()) or 'none'}); "
              f"the gate uses {gate}")
        if task == "imputation":
            viol = out["violations"]["test"]
            fmt = "{:<20} {:>8} {:<17} {:>8} {:<17} {:>8} {:>7} {:>7} {:>5}  {}"
            print(fmt.format("method", "val AUC", "val 95% CI", "test AUC", "test 95% CI", "test acc", "subtype",
                             "part", "", ""))
            for m, r in out["methods"].items():
                print(fmt.format(m, f"{r['val']['auc']:.4f}", ci(r["val"], "auc"), f"{r['test']['auc']:.4f}",
                                 ci(r["test"], "auc"), f"{r['test']['accuracy']:.4f}", viol[m]["subclass"],
                                 viol[m]["part"], "", "<- gate" if m == gate else ""))
            o, w = viol["observed"], out["violations"]["written"]
            print(f"violations on the test taxa of the observed calls themselves: subtype {o['subclass']}, part "
                  f"{o['part']}; of the written hypotheses ({gate}) with the calls: subtype {w['subclass']}, part "
                  f"{w['part']}")
            print("ablation: " + "; ".join(
                f"{a['variant']} (ontology {a['ontology_weight']:g}, smoothness {a['smooth_weight']:g}) test AUC "
                f"{a['test']['auc']:.4f} {ci(a['test'], 'auc')} viol {a['violations']['subclass']}/"
                f"{a['violations']['part']}, CPU {out['train_cpu_s'][a['variant']]:.0f}s" for a in out["ablation"]))
            peer(out, "auc")
        elif task == "linkpred":
            fmt = "{:<20} {:>8} {:>8} {:<17} {:>7} {:>7} {:>8}  {}"
            print(fmt.format("method", "val MRR", "test MRR", "test 95% CI", "Hits@1", "Hits@3", "Hits@10", ""))
            for m, r in out["methods"].items():
                te = r["test"]
                print(fmt.format(m, f"{r['val']['mrr']:.4f}", f"{te['mrr']:.4f}", ci(te, "mrr"), f"{te['hits@1']:.4f}",
                                 f"{te['hits@3']:.4f}", f"{te['hits@10']:.4f}", "<- gate" if m == gate else ""))
            peer(out, "mrr")
        else:
            fmt = "{:<20} {:>9} {:<17} {:>9} {:>11} {:>10} {:>5}  {}"
            print(fmt.format("method", "expected", "95% CI", "edge hit", "tied edges", "from true", "n", ""))
            for m, r in out["methods"].items():
                te = r["test"]
                print(fmt.format(m, f"{te['expected_accuracy']:.4f}", ci(te, "expected_accuracy"), f"{te['edge_hit']:.4f}",
                                 f"{te['tied_edges']:.1f}", f"{te['edges_from_true']:.2f}", te["n"],
                                 "<- gate" if m == gate else ""))
            m = out["metrics"]
            print(f"placed {m['placed_taxa']} taxa with calls but no tip, {m['taxa_with_hypotheses']} with hypotheses, "
                  f"{out['hypotheses']} hypotheses ({out['limit_note']}); {m['too_few_calls']} with too few calls")


def peer(out: dict, key: str) -> None:
    """The model against the best baseline on validation, on test: ratio."""
    ms = out["methods"]
    base = [m for m in ms if m not in ("model",) and not m.startswith("gnn-")]
    best = max(base, key=lambda m: ms[m]["val"][key])
    a, b = ms["model"]["test"][key], ms[best]["test"][key]
    print(f"model test {key.upper()} {a:.4f} vs the best baseline on validation ({best}) {b:.4f}: ratio {a / b:.4f}")


if __name__ == "__main__":
    main()
