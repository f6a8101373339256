"""Comparative-method commands: asr (ancestral states), signal (lambda, K), impute, pgls, comparative list/show.

A trait is a table file (TSV/CSV: ``taxon, value[, se]``; ``--value-column``, ``--se-column`` and
``--taxon-column`` name its columns) or an anatomical entity CURIE (its presence/absence calls in the
KG). Results go into a derived ``comparative`` graph unless ``--no-write``. Tables and JSON print
every number at full precision; ``--format json`` gives the run as the Python API's
``Analysis.to_dict()`` and REST's runs route do (tip match and stored graph included).
"""

from __future__ import annotations

from typing import Any

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, main

TRAIT = click.option("--trait", "trait_ref", required=True,
                     help="Trait table (TSV/CSV: taxon, value[, se]) or an entity CURIE (presence/absence calls).")
COLUMN = click.option("--value-column", "--column", "column",
                      help="Value column of the trait table (default: 'value' or the second column).")
SE_COLUMN = click.option("--se-column", help="Standard-error column (measurement error; default: 'se' if present).")
TAXON_COLUMN = click.option("--taxon-column", help="Taxon column (default: 'taxon' or the first column).")
WRITE = click.option("--write/--no-write", default=True, show_default=True,
                     help="Write the result into a derived 'comparative' graph.")
MINIMUM = click.option("--minimum", type=int, default=3, show_default=True,
                       help="Refuse when fewer trait taxa than this match tips.")


def _trait(g: Any, ref: str, column: str | None, se_column: str | None = None, taxon_column: str | None = None,
           kind: str | None = None) -> Any:
    from pathlib import Path

    if Path(ref).is_file():
        return g.comparative.table(ref, column=column, se_column=se_column, taxon_column=taxon_column, kind=kind)
    if ":" in ref and not Path(ref).suffix:
        return g.comparative.presence(ref)
    from kg.core.errors import ValidationError

    raise ValidationError(f"--trait {ref!r}: neither a table file nor an entity CURIE")


def _match_line(a: Any) -> None:
    """One line per run: matched and unmatched counts, the first unmatched names (all of them are
    in the JSON output's ``match.unmatched_taxa``), and the graph written."""
    m = a.match
    names = m["unmatched_taxa"]
    extra = f" (unmatched: {', '.join(names[:8])}{f' and {len(names) - 8} more' if len(names) > 8 else ''})" \
        if m["unmatched"] else ""
    nov = m.get("no_value_taxa") or []
    if nov:
        extra += f"; {len(nov)} without a value ({', '.join(nov[:8])}{' ...' if len(nov) > 8 else ''})"
    same = [x["taxon"] for x in m.get("same_tip") or []]
    if same:
        extra += f"; {len(same)} on a tip already taken ({', '.join(same[:5])}{' ...' if len(same) > 5 else ''})"
    left = a.result.get("left_out") or []
    if left:
        extra += f"; {len(left)} left out without every value ({', '.join(left[:8])}{' ...' if len(left) > 8 else ''})"
    click.echo(f"{a.trait.name}: {m['matched']} taxa on tips of {a.tree}, {m['unmatched']} unmatched{extra}", err=True)
    if a.record is not None:
        click.echo(f"graph: {a.record.iri} ({a.record.status})", err=True)


def _headline(result: dict[str, Any]) -> str:
    head = {k: v for k, v in result.items() if not isinstance(v, (list, dict))}
    return "  ".join(f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}" for k, v in head.items())


@main.command("asr")
@click.argument("tree")
@TRAIT
@COLUMN
@SE_COLUMN
@TAXON_COLUMN
@click.option("--method", type=click.Choice(["fitch", "mk-er", "mk-sym", "mk-ard", "bm"]), default="mk-er",
              show_default=True, help="Parsimony, an Mk model (marginal + joint states) or Brownian motion (continuous).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw the tree with the states (.svg or .png).")
@WRITE
@MINIMUM
@FORMAT_OPTION
def asr(tree: str, trait_ref: str, column: str | None, se_column: str | None, taxon_column: str | None, method: str,
        plot_path: str | None, write: bool, minimum: int, fmt: str) -> None:
    """Ancestral states of a trait on a loaded TREE."""
    g = get_kg()
    a = g.comparative.run(tree, _trait(g, trait_ref, column, se_column, taxon_column), method, write=write,
                          minimum=minimum)
    _match_line(a)
    if plot_path:
        from kg.comparative.plot import analysis_plot

        analysis_plot(a, plot_path)
        click.echo(f"plot: {plot_path}", err=True)
    if fmt == "json":
        emit_json(a.to_dict())
        return
    click.echo(_headline(a.result))
    names = a.phylo.names if a.phylo is not None else []
    back = {int(o): v for v, o in enumerate(a.phylo.source["nodes"].tolist())} if a.phylo is not None else {}
    rows = []
    for node, d in sorted(a.nodes.items()):
        label = names[back[node]] if node in back and names[back[node]] else f"node:{node}"
        if "marginal" in d:
            probs = " ".join(f"{s}={p!r}" for s, p in d["marginal"].items())
            rows.append([node, label, d["most_likely"], d["joint"], probs])
        elif "parsimony_states" in d:
            rows.append([node, label, "|".join(d["parsimony_states"])])
        else:
            rows.append([node, label, d["estimate"], d["variance"], d["ci95"][0], d["ci95"][1]])
    header = {"marginal": ["node", "label", "most_likely", "joint", "marginal"],
              "bm": ["node", "label", "estimate", "variance", "ci95_lower", "ci95_upper"]}
    emit(rows, header["bm"] if method == "bm" else (header["marginal"] if method != "fitch"
                                                    else ["node", "label", "mpr_states"]), fmt)


@main.command("signal")
@click.argument("tree")
@TRAIT
@COLUMN
@SE_COLUMN
@TAXON_COLUMN
@click.option("--method", type=click.Choice(["lambda", "k", "both"]), default="both", show_default=True)
@click.option("--nsim", type=int, default=1000, show_default=True, help="Permutations for K's p-value (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
@WRITE
@MINIMUM
@FORMAT_OPTION
def signal(tree: str, trait_ref: str, column: str | None, se_column: str | None, taxon_column: str | None,
           method: str, nsim: int, seed: int, write: bool, minimum: int, fmt: str) -> None:
    """Phylogenetic signal of a continuous trait: Pagel's lambda (LRT vs 0) and Blomberg's K.
    Standard errors (``--se-column``, or a column named ``se``) are used as measurement error.
    JSON: one run per method, each with its tip match and graph."""
    g = get_kg()
    trait = _trait(g, trait_ref, column, se_column, taxon_column)
    runs = []
    for m in (["lambda", "k"] if method == "both" else [method]):
        a = g.comparative.run(tree, trait, m, write=write, minimum=minimum, nsim=nsim, seed=seed)
        _match_line(a)
        runs.append(a)
    if fmt == "json":
        emit_json([a.to_dict() for a in runs])
        return
    rows = [[r["method"], r.get("lambda", r.get("K")), r.get("loglik"), r.get("loglik0"), r.get("p_value"),
             r.get("sigma2")] for r in (a.result for a in runs)]
    emit(rows, ["method", "estimate", "loglik", "loglik_lambda0", "p_value", "sigma2"], fmt)


@main.command("impute")
@click.argument("tree")
@TRAIT
@click.option("--value-column", "--column", "columns", multiple=True,
              help="Value column; repeat for several traits (multivariate BM with the ML trait covariance).")
@SE_COLUMN
@TAXON_COLUMN
@WRITE
@MINIMUM
@FORMAT_OPTION
def impute(tree: str, trait_ref: str, columns: tuple[str, ...], se_column: str | None, taxon_column: str | None,
           write: bool, minimum: int, fmt: str) -> None:
    """Brownian-motion predictions (mean, variance) for the tips of TREE without a value."""
    g = get_kg()
    if len(columns) > 1:
        from kg.comparative.data import Trait

        a = g.comparative.run(tree, Trait.read_columns(trait_ref, list(columns), taxon_column=taxon_column),
                              "impute-mv", write=write, minimum=minimum)
    else:
        a = g.comparative.run(tree, _trait(g, trait_ref, columns[0] if columns else None, se_column, taxon_column),
                              "impute", write=write, minimum=minimum)
    _match_line(a)
    if fmt == "json":
        emit_json(a.to_dict())
        return
    rows = []
    for t, d in sorted(a.taxa.items()):
        cells = [("", d["estimate"], d["variance"])] if "estimate" in d else \
            [(c, mu, d["variances"][c]) for c, mu in d["estimates"].items()]
        rows += [[t, c, mu, v, v ** 0.5] for c, mu, v in cells]
    emit(rows, ["taxon", "trait", "estimate", "variance", "se"], fmt)


@main.command("pgls")
@click.argument("tree")
@click.option("--table", "table_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TSV/CSV with a taxon column and numeric columns.")
@click.option("--y", "ycol", required=True, help="Response column.")
@click.option("--x", "xcols", required=True, multiple=True, help="Predictor column (repeat for several).")
@TAXON_COLUMN
@click.option("--model", type=click.Choice(["BM", "lambda"]), default="BM", show_default=True)
@click.option("--lambda", "lam", type=click.FloatRange(0, 1), help="Fix lambda instead of estimating it.")
@click.option("--estimation", type=click.Choice(["ML", "REML"]), default="ML", show_default=True)
@click.option("--reml", is_flag=True, help="Same as --estimation REML.")
@click.option("--vcv", type=click.Choice(["covariance", "correlation"]), default="covariance", show_default=True,
              help="The tree's covariance (phylolm, caper) or the tip-correlation matrix (nlme's corBrownian/"
                   "corPagel); the same model on an ultrametric tree, different ones on others.")
@WRITE
@MINIMUM
@FORMAT_OPTION
def pgls_cmd(tree: str, table_path: str, ycol: str, xcols: tuple[str, ...], taxon_column: str | None, model: str,
             lam: float | None, estimation: str, reml: bool, vcv: str, write: bool, minimum: int, fmt: str) -> None:
    """Phylogenetic GLS of one column on others over the tips of TREE (taxa with every value; the
    others are named on stderr and listed in the JSON's result.left_out)."""
    from kg.comparative.data import Trait

    g = get_kg()
    y = Trait.read(table_path, column=ycol, kind="continuous", taxon_column=taxon_column)
    xs = {c: Trait.read(table_path, column=c, kind="continuous", taxon_column=taxon_column) for c in xcols}
    a = g.comparative.run(tree, y, "pgls", predictors=xs, model=model, lam=lam,
                          estimation="REML" if reml else estimation, vcv=vcv, write=write, minimum=minimum)
    _match_line(a)
    if fmt == "json":
        emit_json(a.to_dict())
        return
    click.echo(_headline(a.result))
    emit([[c["term"], c["estimate"], c["se"], c["t"]] for c in a.result["coefficients"]],
         ["term", "estimate", "se", "t"], fmt)


@main.group("comparative")
def comparative_group() -> None:
    """Comparative-method results stored in the KG."""


@comparative_group.command("show")
@click.argument("graph")
@FORMAT_OPTION
def show_analysis(graph: str, fmt: str) -> None:
    """One stored analysis (graph IRI or comparative/NAME/VERSION): its numbers, then every stored
    value per node, taxon or coefficient (REST: GET /api/v1/comparative/{name}/{version}[/estimates])."""
    g = get_kg()
    d = g.comparative.read(graph)
    if fmt == "json":
        emit_json({**d, "estimates": g.comparative.estimates(graph)})
        return
    m = d["match"]
    click.echo(f"{d['method']} of {d['trait']} on {d['tree']}: {m.get('matched')} taxa matched, "
               f"{m.get('unmatched')} unmatched; graph {d['graph']}", err=True)
    click.echo(_headline(d["result"]))
    rows = []
    for e in g.comparative.estimates(graph):
        what = e.get("term") or e.get("node", "").rsplit("/", 1)[-1]
        probs = " ".join(f"{k}={v!r}" for k, v in e.get("probabilities", {}).items())
        rows.append([what, e.get("trait"), e.get("ml") or "|".join(e.get("parsimony_states", [])), e.get("joint"),
                     probs or None, e.get("est"), e.get("var") if "var" in e else e.get("se"), e.get("lo"), e.get("hi")])
    emit(rows, ["node|taxon|term", "trait", "state", "joint", "probabilities", "estimate", "variance|se", "ci95_lower",
                "ci95_upper"], fmt)


@comparative_group.command("list")
@FORMAT_OPTION
def list_analyses(fmt: str) -> None:
    """The stored comparative analyses with their headline numbers."""
    rows = get_kg().comparative.analyses()
    emit([[r["method"], r["trait"], r["tree"].rsplit("/", 1)[-1], r.get("ll"), r.get("lam"), r.get("k"),
           r.get("p"), r.get("score"), r["graph"]] for r in rows],
         ["method", "trait", "tree", "loglik", "lambda", "K", "p", "score", "graph"], fmt)
