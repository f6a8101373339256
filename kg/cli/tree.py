"""Tree and taxon commands: load tree, load taxonomy, tree (info, mrca, induced, subtree,
distance, matrix, clade, node), resolve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, load_group, main, print_report, progress_bar

TREE_OPTION = click.option("--tree", "tree_name", help="Tree graph name (default: the only tree loaded).")


def _names(names: tuple[str, ...]) -> list[str]:
    """Names from arguments; '-' reads stdin and '@FILE' a file (one name per line)."""
    out: list[str] = []
    for n in names:
        if n == "-":
            out += [x.strip() for x in sys.stdin if x.strip()]
        elif n.startswith("@"):
            out += [x.strip() for x in Path(n[1:]).read_text().splitlines() if x.strip()]
        else:
            out.append(n)
    if not out:
        raise click.UsageError("give at least one name (or '-' for stdin, '@FILE')")
    return out


@load_group.command("tree")
@click.argument("source")
@click.option("--name", help="Tree name (default: the file name).")
@click.option("--version", "version", help="Release version (default: a content hash).")
@click.option("--format", "fmt", type=click.Choice(["newick", "nexus", "nexml"]),
              help="Tree format (default: from the extension: .nwk/.tre/.newick, .nex/.nexus, .nexml/.xml).")
@click.option("--which", help="Which tree of a multi-tree file: 1-based index or tree name.")
@click.option("--internal-labels", type=click.Choice(["auto", "support", "name"]), default="auto",
              show_default=True, help="Read internal node labels as support values or names.")
@click.option("--ete-format", type=int, help="Read internal labels as ete3 format N would (0-9, 100).")
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
def load_tree(source: str, name: str | None, version: str | None, fmt: str | None, which: str | None,
              internal_labels: str, ete_format: int | None, as_json: bool) -> None:
    """Load a phylogeny (Newick, NEXUS, NeXML) into its own graph and index it."""
    opts: dict = {"internal_labels": internal_labels}
    if which:
        opts["tree"] = which
    if ete_format is not None:
        opts["ete_format"] = ete_format
    format_name = {"nexml": "nexml-tree"}.get(fmt or "", fmt)
    print_report(get_kg().load_tree(source, name=name, version=version, format=format_name,
                                    progress=progress_bar(Path(source).name), **opts), as_json)


def _taxonomy_epilog() -> str:
    from loaders.taxonomy import ID_ROLES, RANKS  # light: no heavy imports there

    return ("\b\nColumn roles (--column ROLE=COLUMN; columns named after a role are recognised):\n"
            f"  ranks: {', '.join(RANKS)}\n"
            f"  external ids (skos:exactMatch of the row's lowest taxon): {', '.join(ID_ROLES)}\n"
            "  synonyms (';' or '|' separated), vernacular (a common name)\n"
            "A name like 'Tyrannidae (Tyrant Flycatchers)' is split: the parenthesis is kept as a vernacular name.\n"
            "Every unused column is reported. Full description and a worked example: docs/formats/taxonomy.md")


class _TaxonomyCommand(click.Command):
    """Its help lists the column roles, read from the loader only when the help is shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.epilog = _taxonomy_epilog()
        super().format_epilog(ctx, formatter)


@load_group.command("taxonomy", cls=_TaxonomyCommand)
@click.argument("source")
@click.option("--column", "columns", multiple=True, metavar="ROLE=COLUMN",
              help="Give a column a role, e.g. --column order=ORDER1 --column species=SCI_NAME --column ott=OTT_ID.")
@click.option("--delimiter", help="Field delimiter (default: ',' or tab, whichever the header uses more).")
@click.option("--lenient", is_flag=True, help="Skip bad rows and conflicting ids (reported) instead of refusing the table.")
@click.option("--name", help="Taxonomy name (default: the file name).")
@click.option("--version", "version", help="Release version (default: a content hash).")
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
def load_taxonomy(source: str, columns: tuple[str, ...], delimiter: str | None, lenient: bool, name: str | None,
                  version: str | None, as_json: bool) -> None:
    """Load a classification table (CSV/TSV): rank columns, optional ids, synonyms and common names."""
    mapping: dict[str, str] = {}
    for c in columns:
        role, sep, col = c.partition("=")
        if not sep or not role.strip() or not col.strip():
            raise click.BadParameter(f"{c!r}: expected ROLE=COLUMN (e.g. order=ORDER1)", param_hint="--column")
        mapping[role.strip().lower()] = col.strip()
    print_report(get_kg().load_taxonomy(source, name=name, version=version, columns=mapping or None,
                                        delimiter=delimiter, lenient=lenient,
                                        progress=progress_bar(Path(source).name)), as_json)


@main.group("tree")
def tree_group() -> None:
    """Query a loaded tree through its array index (MRCA, subtrees, distances, clades)."""


def _node_rows(nodes) -> list[tuple]:
    return [(n.id, n.name, n.n_tips, n.depth, n.length, n.support, n.iri) for n in nodes]


_NODE_HEADER = ["id", "name", "tips", "depth", "length", "support", "iri"]


@tree_group.command("info")
@TREE_OPTION
def tree_info(tree_name: str | None) -> None:
    """Size, depth, branch lengths and where the tree came from."""
    emit_json(get_kg().tree(tree_name).summary())


@tree_group.command("mrca")
@click.argument("names", nargs=-1)
@TREE_OPTION
@FORMAT_OPTION
def tree_mrca(names: tuple[str, ...], tree_name: str | None, fmt: str) -> None:
    """The most recent common ancestor of tips, nodes or genera."""
    node = get_kg().tree(tree_name).mrca(_names(names))
    if fmt == "json":
        emit_json(node.to_dict())
    else:
        emit(_node_rows([node]), _NODE_HEADER, fmt)


@tree_group.command("induced")
@click.argument("names", nargs=-1)
@TREE_OPTION
def tree_induced(names: tuple[str, ...], tree_name: str | None) -> None:
    """Newick of the subtree induced by the names (unary nodes collapsed, lengths summed)."""
    click.echo(get_kg().tree(tree_name).induced_subtree(_names(names)))


@tree_group.command("subtree")
@click.argument("node", required=False)
@TREE_OPTION
@click.option("--max-tips", type=int, help="Refuse clades with more tips than this.")
@click.option("--height", "height_limit", type=int, help="Cut the clade this many edges below the node.")
def tree_subtree(node: str | None, tree_name: str | None, max_tips: int | None, height_limit: int | None) -> None:
    """Newick of the clade below NODE (a label, node:N, a genus; default the root)."""
    ref = int(node) if node and node.isdigit() else node
    click.echo(get_kg().tree(tree_name).subtree(ref, max_tips=max_tips, height_limit=height_limit))


@tree_group.command("distance")
@click.argument("a")
@click.argument("b")
@TREE_OPTION
@click.option("--topological", is_flag=True, help="Count edges instead of summing branch lengths.")
def tree_distance(a: str, b: str, tree_name: str | None, topological: bool) -> None:
    """Patristic (or topological) distance between two nodes (every digit: Python's repr)."""
    click.echo(repr(float(get_kg().tree(tree_name).distance(a, b, topological=topological))))


@tree_group.command("matrix")
@click.argument("names", nargs=-1)
@TREE_OPTION
@click.option("--topological", is_flag=True, help="Count edges instead of summing branch lengths.")
@FORMAT_OPTION
def tree_matrix(names: tuple[str, ...], tree_name: str | None, topological: bool, fmt: str) -> None:
    """Distance matrix between K names (every digit; JSON numbers as numbers)."""
    ns = _names(names)
    m = get_kg().tree(tree_name).distance_matrix(ns, topological=topological)
    emit([(n, *row) for n, row in zip(ns, m.astype(float).tolist())], ["name", *ns], fmt)


@tree_group.command("clade")
@click.argument("clade")
@click.argument("names", nargs=-1)
@TREE_OPTION
@FORMAT_OPTION
def tree_clade(clade: str, names: tuple[str, ...], tree_name: str | None, fmt: str) -> None:
    """Which NAMES are in the clade below CLADE (no names: list the clade's tips)."""
    t = get_kg().tree(tree_name)
    if not names:
        emit([(n,) for n in t.tips(clade)], ["tip"], fmt)
        return
    emit(list(t.in_clade(_names(names), clade).items()), ["name", "in_clade"], fmt)


@tree_group.command("node")
@click.argument("ref")
@TREE_OPTION
def tree_node(ref: str, tree_name: str | None) -> None:
    """One node: parent, depth, branch length, support, tips below (and age if ultrametric)."""
    t = get_kg().tree(tree_name)
    n = t.node(int(ref) if ref.isdigit() else ref)
    d = n.to_dict()
    if t.index.is_ultrametric():
        d["age"] = n.age
    emit_json(d)


@main.command("resolve")
@click.argument("names", nargs=-1)
@click.option("--tree", "tree_name", help="Resolve against this tree's tips (default: all taxa in the store).")
@click.option("--no-fuzzy", is_flag=True, help="Skip fuzzy matching.")
@FORMAT_OPTION
def resolve(names: tuple[str, ...], tree_name: str | None, no_fuzzy: bool, fmt: str) -> None:
    """Resolve taxon names: exact, synonym, genus-level (flagged), fuzzy (flagged, scored).
    Every name gets a row; '-' reads names from stdin, '@FILE' from a file."""
    matches = get_kg().resolve(_names(names), tree=tree_name, fuzzy=not no_fuzzy)
    if fmt == "json":
        emit_json([m.to_dict() for m in matches])
        return
    rows = []
    for m in matches:
        d = m.to_dict()
        cands = "; ".join(f"{c['name']} ({c.get('score', '')})" for c in d["candidates"][:3])
        rows.append((m.name, m.status, m.method or "", d["taxon"] or "", m.matched_name or "",
                     "" if m.score is None else m.score, ",".join(m.flags), cands))
    emit(rows, ["name", "status", "method", "taxon", "matched", "score", "flags", "candidates"], fmt)


@main.command("rollup")
@click.argument("clade")
@TREE_OPTION
@FORMAT_OPTION
def rollup_cmd(clade: str, tree_name: str | None, fmt: str) -> None:
    """A genus, family or any CLADE rolled up: each trait of its species with every species behind
    it (REST: GET /api/v1/taxa/{clade}/rollup; Python: g.rollup)."""
    r = get_kg().rollup(clade, tree=tree_name)
    if fmt == "json":
        emit_json(r)
        return
    tips = f"; {len(r['tree']['tips'])} tips on {r['tree']['name']}" if r["tree"] else ""
    click.echo(f"{clade} ({r['kind']}{', ' + r['rank'] if r.get('rank') else ''}): {len(r['species'])} species, "
               f"{len(r['species_with_traits'])} with traits{tips}", err=True)
    emit([[x["entity"], x["entity_label"], x["value"], x["n_taxa"], x["asserted"], x["inferred"], ", ".join(x["taxa"])]
          for x in r["traits"]], ["entity", "label", "value", "species", "asserted", "inferred", "taxa"], fmt)


@tree_group.command("split")
@click.argument("names", nargs=-1)
@TREE_OPTION
@click.option("--method", type=click.Choice(["clade", "rank", "age", "depth", "relative", "species", "random"]),
              default="clade", show_default=True,
              help="Hold out whole clades by size, whole groups of a --rank, or whole clades below a --cut by age, "
                   "depth or relative height (validation by the same rule); or species / random (--fractions).")
@click.option("--rank", default="genus", show_default=True)
@click.option("--cut", type=float, help="age / depth / relative: where the tree is cut into clades.")
@click.option("--test", type=float, default=0.2, show_default=True)
@click.option("--val", type=float, default=0.1, show_default=True)
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True, help="species / random: train,val,test.")
@click.option("--min-size", type=int, default=2, show_default=True, help="clade: smallest clade held out.")
@click.option("--max-size", type=int, default=20, show_default=True, help="clade: largest clade held out.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strict", is_flag=True, help="Refuse a split that leaves a set empty.")
@click.option("--min-fraction", type=float, default=0.5, show_default=True)
@FORMAT_OPTION
def tree_split(names: tuple[str, ...], tree_name: str | None, method: str, rank: str, cut: float | None, test: float,
               val: float, fractions: str, min_size: int, max_size: int, seed: int, strict: bool, min_fraction: float,
               fmt: str) -> None:
    """A seeded train/val/test split of NAMES (default: every tip) for image models."""
    try:
        frac = [float(x) for x in fractions.split(",")]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fractions") from exc
    s = get_kg().training.split(_names(names) if names else None, tree=tree_name, method=method, rank=rank, cut=cut,
                                test=test, val=val, fractions=frac, min_size=min_size, max_size=max_size, seed=seed,
                                strict=strict, min_fraction=min_fraction)
    c = s.counts()
    click.echo(f"split ({s.method}, seed {seed}): train {c['train']}, val {c['val']}, test {c['test']}", err=True)
    for w in s.report.get("warnings", []):
        click.echo(f"warning: {w}", err=True)
    if fmt == "json":
        emit_json({"method": s.method, "assignment": {str(k): str(v) for k, v in s.assignment.items()},
                   "counts": c, "report": s.report})
        return
    emit([(t, part) for t, part in s.assignment.items()], ["taxon", "split"], fmt)


@tree_group.command("levels")
@click.argument("names", nargs=-1)
@TREE_OPTION
@click.option("--cuts", help="Fixed cuts, comma-separated (default: chosen from the data).")
@click.option("--by", type=click.Choice(["auto", "age", "relative", "depth"]), default="auto", show_default=True)
@click.option("--levels", "n_levels", type=int, default=3, show_default=True, help="Levels to choose without --cuts.")
@click.option("--strict", is_flag=True, help="Refuse fewer levels than asked or a one-group level.")
@click.option("--min-fraction", type=float, default=0.5, show_default=True)
@FORMAT_OPTION
def tree_levels(names: tuple[str, ...], tree_name: str | None, cuts: str | None, by: str, n_levels: int, strict: bool,
                min_fraction: float, fmt: str) -> None:
    """Group labels of NAMES (default: every tip) at cuts through the tree, coarsest first."""
    try:
        cut_list = [float(x) for x in cuts.split(",")] if cuts else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cuts") from exc
    lv = get_kg().training.levels(_names(names) if names else None, cut_list, by=by, n_levels=n_levels,
                                  tree=tree_name, strict=strict, min_fraction=min_fraction)
    for r in lv.report:
        click.echo(f"{r['level']}: cut {r['cut']!r} ({r['by']}), {r['groups']} groups", err=True)
    for w in (lv.report[0].get("warnings", []) if lv.report else []):
        click.echo(f"warning: levels: {w}", err=True)
    if fmt == "json":
        emit_json({"by": lv.by, "cuts": lv.cuts, "report": lv.report,
                   "groups": {str(t): [int(x) for x in row] for t, row in zip(lv.groups.index, lv.groups.to_numpy())},
                   "names": {str(t): list(map(str, row)) for t, row in zip(lv.names.index, lv.names.to_numpy())}})
        return
    cols = list(lv.groups.columns)
    emit([(t, *[int(x) for x in g], *map(str, n)) for t, g, n in
          zip(lv.groups.index, lv.groups.to_numpy(), lv.names.to_numpy())],
         ["taxon", *cols, *[f"{c}_node" for c in cols]], fmt)
