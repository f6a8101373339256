"""Comparative-method commands: asr (ancestral states), signal (lambda, K), impute, pgls, comparative list.

A trait is a table file (TSV/CSV: ``taxon, value[, se]``; ``--column`` picks the value column) or an
anatomical entity CURIE (its presence/absence calls in the KG). Results go into a derived
``comparative`` graph unless ``--no-write``.
"""

from __future__ import annotations

from typing import Any

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, main

TRAIT = click.option("--trait", "trait_ref", required=True,
                     help="Trait table (TSV/CSV: taxon, value[, se]) or an entity CURIE (presence/absence calls).")
COLUMN = click.option("--column", help="Value column of the trait table (default: 'value' or the second column).")
WRITE = click.option("--write/--no-write", default=True, show_default=True,
                     help="Write the result into a derived 'comparative' graph.")
MINIMUM = click.option("--minimum", type=int, default=3, show_default=True,
                       help="Refuse when fewer trait taxa than this match tips.")


def _trait(g: Any, ref: str, column: str | None) -> Any:
    from pathlib import Path

    if Path(ref).is_file():
        return g.comparative.table(ref, column=column)
    if ":" in ref and not Path(ref).suffix:
        return g.comparative.presence(ref)
    from kg.core.errors import ValidationError

    raise ValidationError(f"--trait {ref!r}: neither a table file nor an entity CURIE")


def _match_line(a: Any) -> None:
    m = a.match
    extra = f" (unmatched: {', '.join(m['unmatched_taxa'][:8])}{' ...' if m['unmatched'] > 8 else ''})" if m["unmatched"] else ""
    click.echo(f"{a.trait.name}: {m['matched']} taxa on tips of {a.tree}, {m['unmatched']} unmatched{extra}", err=True)
    if a.record is not None:
        click.echo(f"graph: {a.record.iri} ({a.record.status})", err=True)


@main.command("asr")
@click.argument("tree")
@TRAIT
@COLUMN
@click.option("--method", type=click.Choice(["fitch", "mk-er", "mk-sym", "mk-ard", "bm"]), default="mk-er",
              show_default=True, help="Parsimony, an Mk model (marginal + joint states) or Brownian motion (continuous).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw the tree with the states (.svg or .png).")
@WRITE
@MINIMUM
@FORMAT_OPTION
def asr(tree: str, trait_ref: str, column: str | None, method: str, plot_path: str | None, write: bool,
        minimum: int, fmt: str) -> None:
    """Ancestral states of a trait on a loaded TREE."""
    g = get_kg()
    a = g.comparative.run(tree, _trait(g, trait_ref, column), method, write=write, minimum=minimum)
    _match_line(a)
    if plot_path:
        from kg.comparative.plot import analysis_plot

        analysis_plot(a, plot_path)
        click.echo(f"plot: {plot_path}", err=True)
    if fmt == "json":
        emit_json(a.to_dict())
        return
    head = {k: v for k, v in a.result.items() if not isinstance(v, (list, dict))}
    click.echo("  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in head.items()))
    names = a.phylo.names if a.phylo is not None else []
    back = {int(o): v for v, o in enumerate(a.phylo.source["nodes"].tolist())} if a.phylo is not None else {}
    rows = []
    for node, d in sorted(a.nodes.items()):
        label = names[back[node]] if node in back and names[back[node]] else f"node:{node}"
        if "marginal" in d:
            probs = " ".join(f"{s}={p:.3f}" for s, p in d["marginal"].items())
            rows.append([node, label, d["most_likely"], d["joint"], probs])
        elif "parsimony_states" in d:
            rows.append([node, label, "|".join(d["parsimony_states"])])
        else:
            rows.append([node, label, f"{d['estimate']:.6g}", f"{d['variance']:.4g}",
                         f"[{d['ci95'][0]:.4g}, {d['ci95'][1]:.4g}]"])
    header = {"marginal": ["node", "label", "most_likely", "joint", "marginal"],
              "bm": ["node", "label", "estimate", "variance", "ci95"]}
    emit(rows, header["bm"] if method == "bm" else (header["marginal"] if method != "fitch"
                                                    else ["node", "label", "mpr_states"]), fmt)


@main.command("signal")
@click.argument("tree")
@TRAIT
@COLUMN
@click.option("--method", type=click.Choice(["lambda", "k", "both"]), default="both", show_default=True)
@click.option("--nsim", type=int, default=1000, show_default=True, help="Permutations for K's p-value (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
@WRITE
@MINIMUM
@FORMAT_OPTION
def signal(tree: str, trait_ref: str, column: str | None, method: str, nsim: int, seed: int, write: bool,
           minimum: int, fmt: str) -> None:
    """Phylogenetic signal of a continuous trait: Pagel's lambda (LRT vs 0) and Blomberg's K.
    Standard errors in the table's ``se`` column are used as measurement error."""
    g = get_kg()
    trait = _trait(g, trait_ref, column)
    out = []
    for m in (["lambda", "k"] if method == "both" else [method]):
        a = g.comparative.run(tree, trait, m, write=write, minimum=minimum, nsim=nsim, seed=seed)
        _match_line(a)
        out.append(a.result)
    if fmt == "json":
        emit_json(out)
        return
    rows = [[r["method"], r.get("lambda", r.get("K")), r.get("loglik"), r.get("loglik0"), r.get("p_value"),
             r.get("sigma2")] for r in out]
    emit(rows, ["method", "estimate", "loglik", "loglik_lambda0", "p_value", "sigma2"], fmt)


@main.command("impute")
@click.argument("tree")
@TRAIT
@click.option("--column", "columns", multiple=True,
              help="Value column; repeat for several traits (multivariate BM with the ML trait covariance).")
@WRITE
@MINIMUM
@FORMAT_OPTION
def impute(tree: str, trait_ref: str, columns: tuple[str, ...], write: bool, minimum: int, fmt: str) -> None:
    """Brownian-motion predictions (mean, variance) for the tips of TREE without a value."""
    g = get_kg()
    if len(columns) > 1:
        from kg.comparative.data import Trait

        a = g.comparative.run(tree, Trait.read_columns(trait_ref, list(columns)), "impute-mv", write=write,
                              minimum=minimum)
    else:
        a = g.comparative.run(tree, _trait(g, trait_ref, columns[0] if columns else None), "impute", write=write,
                              minimum=minimum)
    _match_line(a)
    if fmt == "json":
        emit_json(a.to_dict())
        return
    rows = []
    for t, d in sorted(a.taxa.items()):
        cells = [("", d["estimate"], d["variance"])] if "estimate" in d else \
            [(c, mu, d["variances"][c]) for c, mu in d["estimates"].items()]
        rows += [[t, c, f"{mu:.6g}", f"{v:.4g}", f"{v ** 0.5:.4g}"] for c, mu, v in cells]
    emit(rows, ["taxon", "trait", "estimate", "variance", "se"], fmt)


@main.command("pgls")
@click.argument("tree")
@click.option("--table", "table_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TSV/CSV with a taxon column and numeric columns.")
@click.option("--y", "ycol", required=True, help="Response column.")
@click.option("--x", "xcols", required=True, multiple=True, help="Predictor column (repeat for several).")
@click.option("--model", type=click.Choice(["BM", "lambda"]), default="BM", show_default=True)
@click.option("--lambda", "lam", type=float, help="Fix lambda instead of estimating it.")
@click.option("--reml", is_flag=True, help="REML instead of ML.")
@MINIMUM
@FORMAT_OPTION
def pgls_cmd(tree: str, table_path: str, ycol: str, xcols: tuple[str, ...], model: str, lam: float | None,
             reml: bool, minimum: int, fmt: str) -> None:
    """Phylogenetic GLS of one column on others over the tips of TREE (complete rows only)."""
    from kg.comparative.data import Trait, match_tips
    from kg.comparative.pgls import pgls
    from kg.comparative.tree import PhyloTree

    g = get_kg()
    t = g.tree(tree)
    y = Trait.read(table_path, column=ycol, kind="continuous")
    xs = {c: Trait.read(table_path, column=c, kind="continuous") for c in xcols}

    def has(tr: Any, k: str) -> bool:
        v = tr.values.get(k)
        return v is not None and v == v  # present and not nan

    complete = {k for k in y.values if has(y, k) and all(has(x, k) for x in xs.values())}
    y.values = {k: v for k, v in y.values.items() if k in complete}
    m = match_tips(t, y, minimum=minimum, store=g.store)
    back = {mm["name"]: mm["tip"] for mm in m.matched}
    pt = PhyloTree.from_index(t.index, m.tips)
    fit = pgls(pt, m.values, {c: {back[k]: v for k, v in x.values.items() if k in back} for c, x in xs.items()},
               model=model, lam=lam, method="REML" if reml else "ML")
    click.echo(f"{ycol}: {m.summary()['matched']} taxa on tips of {t.name}, {len(m.unmatched)} unmatched", err=True)
    d = fit.to_dict()
    if fmt == "json":
        emit_json(d)
        return
    click.echo(f"model={d['model']} lambda={d['lambda']} n={d['n']} loglik={d['loglik']:.6f} ({d['estimation']})")
    emit([[c["term"], f"{c['estimate']:.6g}", f"{c['se']:.6g}", f"{c['t']:.4g}"] for c in d["coefficients"]],
         ["term", "estimate", "se", "t"], fmt)


@main.group("comparative")
def comparative_group() -> None:
    """Comparative-method results stored in the KG."""


@comparative_group.command("list")
@FORMAT_OPTION
def list_analyses(fmt: str) -> None:
    """The stored comparative analyses with their headline numbers."""
    rows = get_kg().comparative.analyses()
    emit([[r["method"], r["trait"], r["tree"].rsplit("/", 1)[-1], r.get("ll"), r.get("lam"), r.get("k"),
           r.get("p"), r.get("score"), r["graph"]] for r in rows],
         ["method", "trait", "tree", "loglik", "lambda", "K", "p", "score", "graph"], fmt)
