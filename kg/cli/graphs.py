"""Graph commands: load rdf, graphs (list, diff), drop, export, import, query."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kg.cli._app import (
    FORMAT_OPTION,
    emit,
    emit_json,
    get_kg,
    load_group,
    main,
    print_ontology_diff,
    print_report,
    progress_bar,
)


@load_group.command("rdf")
@click.argument("source")
@click.option("--name", help="Graph name (default: the file name).")
@click.option("--version", "version", help="Release version (default: a content hash).")
@click.option("--format", "fmt", help="RDF syntax (default: from the extension): turtle, ntriples, nquads, "
              "trig, rdfxml, jsonld, n3.")
@click.option("--kind", default="rdf", show_default=True, help="Graph kind (e.g. ontology, dataset).")
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
def load_rdf(source: str, name: str | None, version: str | None, fmt: str | None, kind: str, as_json: bool) -> None:
    """Load an RDF file (Turtle, N-Triples, N-Quads, RDF/XML, JSON-LD; .gz too) or URL."""
    report = get_kg().load_rdf(source, name=name, version=version, format=fmt, kind=kind,
                               progress=progress_bar(Path(source).name))
    print_report(report, as_json)


@main.group("graphs", invoke_without_command=True)
@FORMAT_OPTION
@click.option("--kind", help="Only graphs of this kind.")
@click.option("--stale", is_flag=True, help="Only derived graphs that no longer match their inputs, why, and "
              "the command that rebuilds each.")
@click.option("--recover", is_flag=True, help="Drop what an interrupted load left (graphs the manifest does "
              "not list, closures half-updated in place). Runs by itself when an embedded store is opened; on a "
              "sparql: store run it when no load is running.")
@click.pass_context
def graphs(ctx: click.Context, fmt: str, kind: str | None, stale: bool, recover: bool) -> None:
    """List the named graphs with their provenance (or: graphs diff A B)."""
    if ctx.invoked_subcommand:
        return
    if recover:
        from kg.core.recovery import recover as run_recovery

        done = run_recovery(get_kg().store)
        for r in done:
            click.echo(f"recovered: {r}")
        click.echo(f"{len(done)} graph(s) dropped; the manifest and the data agree", err=True)
        return
    if stale:
        rows = [s for s in get_kg().stale() if kind is None or f"/graph/{kind}/" in s["graph"]]
        if fmt == "json":
            emit_json(rows)
            return
        emit([(s["graph"].split("/graph/", 1)[-1], s["reason"], s["command"]) for s in rows],
             ["graph", "reason", "rebuild with"], fmt)
        return
    recs = get_kg().graphs(kind=kind)
    if fmt == "json":
        emit_json([r.to_dict() for r in recs])
        return
    emit([(f"{r.kind}/{r.name}/{r.version}", r.triples, r.sha256[:12], r.loader, r.ended, r.source)
          for r in recs], ["graph", "triples", "sha256", "loader", "loaded", "source"], fmt)


@graphs.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--sample", default=10, show_default=True, help="How many example triples to show.")
@click.option("--json", "as_json", is_flag=True)
def graphs_diff(a: str, b: str, sample: int, as_json: bool) -> None:
    """Triples added and removed from graph A to graph B (e.g. two releases)."""
    kg = get_kg()
    d = kg.diff(a, b, sample=sample)
    onto = kg.ontology_diff(a, b) if kg.graph(a).kind == kg.graph(b).kind == "ontology" else None
    preds = kg.predictions.diff(a, b, sample=sample) if kg.graph(a).kind == kg.graph(b).kind == "predictions" else None
    if as_json:
        emit_json({**d.to_dict(), **({"ontology": onto.to_dict()} if onto else {}),
                   **({"predictions": preds} if preds else {})})
        return
    click.echo(f"{d.a}\n  -> {d.b}\nadded: {d.added}  removed: {d.removed}  unchanged: {d.common}")
    for t in d.sample_added:
        click.echo(f"+ {t}")
    for t in d.sample_removed:
        click.echo(f"- {t}")
    if onto:

        print_ontology_diff(onto, sample)
    if preds:
        from kg.cli.predictions import print_prediction_diff

        print_prediction_diff(preds)


@main.command("drop")
@click.argument("graph")
def drop(graph: str) -> None:
    """Drop a graph (IRI, kind/name/version, or name for the latest) and its manifest entry."""
    kg = get_kg()
    rec = kg.drop(graph)
    click.echo(f"dropped {rec.kind}/{rec.name}/{rec.version} ({rec.triples} triples)")
    for s in kg.stale():  # derived graphs this leaves behind, and how to rebuild them
        click.echo(f"stale: {s['graph'].split('/graph/', 1)[-1]}: {s['reason']}; rebuild with: {s['command']}")


@main.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
def export(directory: str) -> None:
    """Write a KG release: every graph as N-Quads, release.json with checksums, a README with counts."""
    g = get_kg()
    rel = g.export(directory, progress=progress_bar("export", unit="quad"))
    click.echo(f"exported {len(rel['graphs'])} graphs, {sum(e['triples'] for e in rel['graphs'])} triples to {directory}")


@main.command("import")
@click.argument("directory", type=click.Path(file_okay=False))
def import_(directory: str) -> None:
    """Restore a KG release written by `traitkg export` (checksums verified first)."""
    rel = get_kg().import_release(directory)
    click.echo(f"imported {len(rel['graphs'])} graphs, {sum(e['triples'] for e in rel['graphs'])} triples")


@main.command("query")
@click.argument("sparql")
@FORMAT_OPTION
def query(sparql: str, fmt: str) -> None:
    """Run a SPARQL query (the default graph is the union of all graphs). '-' reads stdin,
    '@FILE' reads a file."""
    if sparql == "-":
        sparql = sys.stdin.read()
    elif sparql.startswith("@"):
        sparql = Path(sparql[1:]).read_text()
    from ontologies.prefixes import sparql_prologue

    res = get_kg().query(sparql_prologue() + sparql)
    if isinstance(res, bool):
        click.echo("true" if res else "false")
    elif isinstance(res, list):
        from kg.core.store import RdfFormat, serialize_rdf

        sys.stdout.write(serialize_rdf(res, RdfFormat.TURTLE).decode())
    else:
        from ontologies.prefixes import contract

        rows = [tuple(None if t is None else (contract(t.value) if t.__class__.__name__ == "NamedNode"
                                               and fmt == "table" else t.value) for t in r) for r in res.rows]
        emit(rows, res.variables, fmt)
