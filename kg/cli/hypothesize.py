"""``traitkg hypothesize``: train the knowledge-guided model, gate it against the baselines and
write its hypotheses into the KG (a ``hypotheses`` graph); ``--list`` shows stored hypotheses.
gnn (torch) is imported only when a run is asked for."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import click

from kg.cli._app import FORMAT_OPTION, emit, get_kg, main, progress_bar


@main.command("hypothesize")
@click.option("--task", type=click.Choice(["imputation", "linkpred", "placement"]), default="imputation",
              show_default=True,
              help="imputation: presence/absence of an entity in a taxon; linkpred: the same triples ranked as links "
                   "(filtered MRR, Hits@k against the marginal baseline); placement: where on the tree the "
                   "taxa with calls but no tip belong (every tied best edge).")
@click.option("--tree", default=None, help="The loaded tree the taxa are placed on (default: the only one).")
@click.option("--split", type=click.Choice(["random", "clade"]), default="random", show_default=True,
              help="What the gate validates on: random held-out cells or whole held-out clades.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--epochs", default=150, show_default=True, type=int)
@click.option("--limit", default=None, type=click.IntRange(min=0),
              help="Most confident hypotheses to keep, whole tie sets only (default: 1000; placement: all).")
@click.option("--min-taxa", default=5, show_default=True, type=int, help="Labelled taxa an entity needs.")
@click.option("--max-entities", default=None, type=int, help="Keep the most labelled entities only.")
@click.option("--ablation", is_flag=True,
              help="Also train the model without the ontology loss, without the smoothness loss and without "
                   "either; their validation and test rows are reported and stored with the run.")
@click.option("--conv", type=click.Choice(["sage", "gat", "graph"]), default="sage", show_default=True,
              help="PyG layer of each HeteroConv: SAGEConv, GATConv or GraphConv.")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Train on mini-batches of this many cells (PyG LinkLoader, sampled neighbourhoods).")
@click.option("--no-priors", is_flag=True, help="Do not give the model label propagation's predictions.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="torch CPU threads (fixed, so that a CPU run is bit-reproducible for a seed).")
@click.option("--checkpoint", default=None, type=click.Path(file_okay=False), help="Also save the model here.")
@click.option("--no-write", is_flag=True, help="Report only; write nothing into the KG.")
@click.option("--list", "list_", is_flag=True, help="List stored hypotheses (filters below) instead of running.")
@click.option("--run", default=None, help="With --list: one run's hypotheses.")
@click.option("--subject", default=None, help="With --list: a taxon CURIE.")
@click.option("--min-score", default=None, type=float, help="With --list: the lowest score shown.")
@FORMAT_OPTION
def hypothesize(task: str, tree: str | None, split: str, seed: int, device: str, epochs: int, limit: int | None,
                min_taxa: int, max_entities: int | None, ablation: bool, conv: str, batch_size: int | None,
                no_priors: bool, threads: int, checkpoint: str | None, no_write: bool, list_: bool,
                run: str | None, subject: str | None, min_score: float | None, fmt: str) -> None:
    """Knowledge-guided hypotheses (GNN with ontology and phylogenetic guidance), used only where
    the model beats the best baseline on validation."""
    g = get_kg()
    if list_:
        hs = g.hypotheses(run=run, subject=subject, min_score=min_score)
        emit([[h["subject"], h["predicate"], h["object"], h["score"], h["method"], h["run"]] for h in hs],
             ["subject", "predicate", "object", "score", "method", "run"], fmt)
        return
    from gnn.pipeline import hypothesize as run_task

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress_bar(f"{task} {stage}", unit="epoch")
        bars[stage](done, total)

    out = run_task(g, task=task, tree=tree, split=split, seed=seed, device=device, epochs=epochs,
                   limit=default_limit(task, limit), write=not no_write, checkpoint=checkpoint, min_taxa=min_taxa,
                   max_entities=max_entities, ablation=ablation, threads=threads, conv=conv, batch_size=batch_size,
                   priors=() if no_priors else ("label-propagation",), progress=progress)
    if fmt == "json":
        from gnn.evaluate import jsonable

        click.echo(json.dumps(jsonable(out), indent=2, allow_nan=False))
        return
    gate = out["gate"]
    click.echo(f"graph: {out['graph_counts']}")
    click.echo(f"gate ({split} split): {gate['reason']} -> using {gate['chosen']}")
    if task == "placement":
        _placement_table(out)
    else:
        _methods_table(out)
    click.echo(f"limit: {out['limit_note']}")
    click.echo(f"conflicting calls (reported, not hypothesised): {out['conflicts']}")
    click.echo(f"hypotheses: {out['hypotheses']}" + (f" written to {out['graph']} ({out['status']})" if "graph" in out else ""))


def default_limit(task: str, limit: int | None) -> int | None:
    """``--limit``'s default: 1000 hypotheses, every placement."""
    return 1000 if limit is None and task != "placement" else limit


def run_for_server(reader: Any, write_to: Callable[[], AbstractContextManager[Any]], params: dict[str, Any],
                   progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    """One ``POST /api/v1/hypotheses/runs`` job (handed to ``api.app.create_app`` by ``traitkg serve``:
    the web service never imports the models): the run this command makes with the same
    parameters, read from ``reader`` and written through ``write_to``; returns the JSON report
    ``--format json`` prints."""
    from gnn.evaluate import jsonable
    from gnn.pipeline import hypothesize as run_task

    kw = dict(params)
    kw["limit"] = default_limit(kw["task"], kw.get("limit"))
    kw["priors"] = tuple(kw.get("priors", ("label-propagation",)))
    out = run_task(reader, **kw, progress=progress, write_to=write_to)
    return json.loads(json.dumps(jsonable(out), allow_nan=False))


def _methods_table(out: dict[str, Any]) -> None:
    """Every method's validation and test AUC with 95% bootstrap intervals and its violations."""
    viol = out["violations"].get("test", {})
    key = "auc" if "auc" in next(iter(out["methods"].values()))["val"] else "mrr"

    def ci(m: dict[str, Any]) -> str:
        lo, hi = m[f"{key}_ci"]
        return "n/a" if lo is None else f"[{lo:.4f}, {hi:.4f}]"
    fmt = "{:<20} {:>8} {:<18} {:>8} {:<18} {:>9} {:>6}"
    click.echo(fmt.format("method", f"val {key.upper()}", "val 95% CI", f"test {key.upper()}", "test 95% CI",
                          "subtype", "part"))
    for name, m in out["methods"].items():
        v = viol.get(name, {})
        click.echo(fmt.format(name, f"{m['val'][key]:.4f}", ci(m["val"]), f"{m['test'][key]:.4f}", ci(m["test"]),
                              v.get("subclass", ""), v.get("part", "")))
    w = out["violations"]["written"]
    if "observed" in viol:
        click.echo(f"violations on the test taxa (subtype, part/whole) of the observed calls themselves: "
                   f"{viol['observed']['subclass']}, {viol['observed']['part']}")
    click.echo(f"violations of the written hypotheses ({out['violations']['written_by']}) with the calls "
               f"(subtype, part/whole): {w['subclass']}, {w['part']}")
    for a in out.get("ablation", []):
        click.echo(f"ablation {a['variant']:<18} ontology {a['ontology_weight']:g} smoothness {a['smooth_weight']:g}: "
                   f"test AUC {a['test']['auc']:.4f} {ci(a['test'])}")


def _placement_table(out: dict[str, Any]) -> None:
    """Each placement method's edge-level figures on the held-out tips, and what was placed."""
    fmt = "{:<20} {:>9} {:<18} {:>9} {:>11} {:>9} {:>6}"
    click.echo(fmt.format("method", "expected", "95% CI", "edge hit", "tied edges", "from true", "n"))
    for name, m in out["methods"].items():
        t = m["test"]
        lo, hi = t["expected_accuracy_ci"]
        click.echo(fmt.format(name, f"{t['expected_accuracy']:.4f}", f"[{lo:.4f}, {hi:.4f}]", f"{t['edge_hit']:.4f}",
                              f"{t['tied_edges']:.1f}", f"{t['edges_from_true']:.2f}", t["n"]))
    m = out["metrics"]
    click.echo(f"placed {m['placed_taxa']} taxa with calls but no tip ({m['taxa_with_hypotheses']} with hypotheses; "
               f"{m['too_few_calls']} with too few calls to place)")
