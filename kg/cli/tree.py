"""Tree and taxon commands: load tree, load taxonomy, tree (info, mrca, induced, subtree,
distance, matrix, clade, node), resolve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, load_group, main, print_report

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
    print_report(get_kg().load_tree(source, name=name, version=version, format=format_name, **opts), as_json)


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
                                        delimiter=delimiter, lenient=lenient), as_json)


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
    """Patristic (or topological) distance between two nodes."""
    click.echo(f"{get_kg().tree(tree_name).distance(a, b, topological=topological):.10g}")


@tree_group.command("matrix")
@click.argument("names", nargs=-1)
@TREE_OPTION
@click.option("--topological", is_flag=True, help="Count edges instead of summing branch lengths.")
@FORMAT_OPTION
def tree_matrix(names: tuple[str, ...], tree_name: str | None, topological: bool, fmt: str) -> None:
    """Distance matrix between K names."""
    ns = _names(names)
    m = get_kg().tree(tree_name).distance_matrix(ns, topological=topological)
    emit([(n, *[f"{x:.6g}" for x in row]) for n, row in zip(ns, m)], ["name", *ns], fmt)


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
