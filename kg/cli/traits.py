"""Phenotype and trait commands: load phenotypes, infer, traits, taxa-with, matrix, similar, conflicts."""

from __future__ import annotations

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, load_group, main, progress_bar


@load_group.command("phenotypes")
@click.argument("paths", nargs=-1, required=True)
@click.option("--lenient", is_flag=True, help="Leave out phenotypes with unknown ontology terms or incomplete "
              "EQs, keep those without a bearer entity quality-only (each reported with its line) instead of "
              "refusing the file.")
@click.option("--infer/--no-infer", default=True, show_default=True,
              help="Update the presence/absence inference graph afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the load reports as JSON (with each OTU's name resolution).")
@click.option("--names-report", type=click.Path(dir_okay=False),
              help="Write every OTU's name resolution (status, method, taxon, candidates) to this file: "
                   "TSV, or JSON when the name ends in .json.")
def load_phenotypes(paths: tuple[str, ...], lenient: bool, infer: bool, as_json: bool,
                    names_report: str | None) -> None:
    """Load Phenex NeXML matrices (files or directories of *.xml), one graph per matrix.

    OTU names are resolved against the taxonomy and trees in the store (VTO ids first); each
    file's summary says how many matched, and which did not."""
    import json
    from pathlib import Path

    from loaders.phenex import names_report as rows_of

    g = get_kg()
    reports = g.load_phenotypes(list(paths), lenient=lenient, progress=progress_bar("phenotypes", unit="file"),
                                infer=infer)
    if names_report:
        rows = rows_of(reports)
        out = Path(names_report)
        if out.suffix.lower() == ".json":
            out.write_text(json.dumps(rows, indent=2, default=str))
        else:
            cols = ["source", "name", "status", "method", "taxon", "matched_name", "score", "flags", "candidates"]
            lines = ["\t".join(cols)]
            for r in rows:
                cand = "; ".join(f"{c.get('name')} ({c.get('taxon')}{', ' + str(c['score']) if c.get('score') else ''})"
                                 for c in r["candidates"])
                vals = [r["source"], r["name"], r["status"], r["method"], r["taxon"], r["matched_name"], r["score"],
                        "; ".join(r["flags"]), cand]
                lines.append("\t".join("" if v is None else str(v).replace("\t", " ") for v in vals))
            out.write_text("\n".join(lines) + "\n")
    if as_json:
        emit_json([dict(r.to_dict(), names=[m.to_dict() for m in getattr(r, "names", [])]) for r in reports])
    else:
        for r in reports:
            click.echo(r.summary())
            click.echo("  " + _names_line(r))
            for p in r.problems[:10]:
                click.echo(f"  {p}", err=True)
        if reports and all(r.counts.get("names_universe") == 0 for r in reports):
            click.echo("no taxonomy or tree in the store: OTU names were not resolved; each OTU links to the "
                       "taxon its label names (load a taxonomy or tree first to resolve them)")
    if infer:
        rec = reports.inference
        click.echo(f"inference: {rec.kind}/{rec.name}/{rec.version} ({rec.triples} triples, {rec.status})")


def _names_line(r: object) -> str:
    """'names: 30 matched, 1 approximate, 0 ambiguous, 1 unmatched of 32 OTUs' plus the first misses."""
    c = getattr(r, "counts", {})
    names = getattr(r, "names", [])
    head = ", ".join(f"{c.get('names_' + s, 0)} {s}" for s in ("matched", "approximate", "ambiguous", "unmatched"))
    line = f"names: {head} of {len(names)} OTUs"
    if c.get("names_universe"):
        misses = [m for m in names if m.status != "matched"][:5]
        if misses:
            line += "; e.g. " + "; ".join(
                f"{m.name!r} {m.status}" + (f" -> {m.matched_name} ({m.method})" if m.matched_name else "")
                for m in misses)
    return line


@main.command("traits")
@click.argument("taxon")
@click.option("--evidence/--no-evidence", default=False, show_default=True, help="Include evidence (JSON).")
@FORMAT_OPTION
def traits(taxon: str, evidence: bool, fmt: str) -> None:
    """Traits of a taxon: asserted phenotypes and presence/absence calls (asserted and inferred)."""
    rows = get_kg().traits.traits_of(taxon, evidence=evidence)
    if fmt == "json":
        emit_json(rows)
        return
    emit([(r["kind"], r["tier"], r["entity"], r.get("entity_label"), r.get("value") or r.get("quality_label") or "",
           len(r.get("evidence", [])) if evidence else "") for r in rows],
         ["kind", "tier", "entity", "label", "value/quality", "evidence"], fmt)


@main.command("taxa-with")
@click.argument("term")
@click.option("--within", help="Restrict to a clade: a taxon of a loaded taxonomy at any rank (order, family, "
              "genus...), TREE:NODE or a tree's clade label for the tips below a tree node, or a genus name.")
@click.option("--no-parts", is_flag=True, help="Subclasses only (not parts) of the term.")
@click.option("--value", type=click.Choice(["present", "absent"]), help="Ask presence/absence calls instead.")
@FORMAT_OPTION
def taxa_with(term: str, within: str | None, no_parts: bool, value: str | None, fmt: str) -> None:
    """Taxa with a phenotype of TERM (CURIE) or of anything it subsumes."""
    g = get_kg()
    rows = g.traits.taxa_with(term, parts=not no_parts, within=within, value=value)
    if fmt == "json":
        emit_json(rows)
        return
    emit([(r["taxon"], r["tier"], len(r["phenotypes"])) for r in rows], ["taxon", "tier", "phenotypes"], fmt)


@main.command("matrix")
@click.option("--taxa", required=True, help="Comma-separated taxon names.")
@click.option("--entities", required=True, help="Comma-separated entity CURIEs.")
@click.option("--format", "fmt", type=click.Choice(["csv", "nexml", "json"]), default="csv", show_default=True)
@click.option("--variable-only", is_flag=True, help="Only entities that vary among the taxa.")
def matrix(taxa: str, entities: str, fmt: str, variable_only: bool) -> None:
    """An OntoTrace-style presence/absence matrix with per-cell evidence."""
    m = get_kg().traits.matrix([t.strip() for t in taxa.split(",") if t.strip()],
                               [e.strip() for e in entities.split(",") if e.strip()], variable_only=variable_only)
    click.echo(m.render(fmt), nl=False)


@main.command("similar")
@click.argument("taxon")
@click.option("-k", default=10, show_default=True, help="How many taxa.")
@click.option("--metric", type=click.Choice(["simgic", "jaccard", "resnik-bma"]), default="simgic", show_default=True)
@FORMAT_OPTION
def similar(taxon: str, k: int, metric: str, fmt: str) -> None:
    """The taxa whose phenotype profiles are most similar to TAXON's."""
    rows = get_kg().similarity.similar(taxon, k=k, metric=metric)
    emit([(r["taxon"], r["score"]) for r in rows], ["taxon", "score"], fmt)


@main.command("conflicts")
@FORMAT_OPTION
def conflicts(fmt: str) -> None:
    """Taxa inferred both present and absent for an entity."""
    rows = get_kg().traits.conflicts()
    if fmt == "json":
        emit_json(rows)
        return
    emit([(r["taxon"], r["entity"], r["entity_label"]) for r in rows], ["taxon", "entity", "label"], fmt)


@main.command("infer")
@click.option("--json", "as_json", is_flag=True, help="Print the inference graph's manifest entry as JSON.")
def infer(as_json: bool) -> None:
    """Write the presence/absence calls (asserted and inferred through the ontology closure) into the
    derived inference graph; a no-op when its inputs are unchanged."""
    rec = get_kg().traits.infer()
    if as_json:
        emit_json(rec.to_dict())
        return
    click.echo(f"inference {rec.name}/{rec.version}: {rec.status}, {rec.triples} triples, derived from "
               f"{len(rec.derived_from)} graphs")
