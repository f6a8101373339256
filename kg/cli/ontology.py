"""Ontology commands: load ontology, closure, term, search, ontology (check, catalog, diff)."""

from __future__ import annotations

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


@load_group.command("ontology")
@click.argument("source")
@click.option("--name", help="Graph name (default: from the ontology IRI / 'ontology:' header).")
@click.option("--version", "version", help="Release version (default: versionIRI / data-version, else a hash).")
@click.option("--syntax", type=click.Choice(["obo", "rdfxml", "turtle", "ntriples"]),
              help="Force the syntax (default: sniffed from the content).")
@click.option("--import-map", "import_map", multiple=True, metavar="IRI=PATH",
              help="Where to find an owl:imports IRI offline (repeatable).")
@click.option("--lenient", is_flag=True, help="Load despite dangling references / unknown prefixes (reported).")
@click.option("--no-closure", is_flag=True, help="Do not materialise the closure graphs.")
@click.option("--closure-properties", metavar="P,P,...",
              help="Write closure edges only for these properties (e.g. part_of,has_part,develops_from or "
                   "CURIEs) besides is_a; default: every property the ontologies declare.")
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
def load_ontology(source: str, name: str | None, version: str | None, syntax: str | None,
                  import_map: tuple[str, ...], lenient: bool, no_closure: bool, closure_properties: str | None,
                  as_json: bool) -> None:
    """Load an ontology (OBO or OWL; path or URL; .gz too) and materialise its closure."""

    report = get_kg().load_ontology(source, name=name, version=version, syntax=syntax, lenient=lenient,
                                    import_map=list(import_map), closure=not no_closure,
                                    closure_properties=_props(closure_properties),
                                    progress=progress_bar(Path(source).name))
    print_report(report, as_json)


def _props(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@main.command("closure")
@click.argument("graphs", nargs=-1)
@click.option("--name", help="Closure name (default: the first graph's name).")
@click.option("--version", "version", help="Closure version (default: the first graph's version).")
@click.option("--properties", metavar="P,P,...",
              help="Write edges only for these properties besides is_a (default: every property).")
@click.option("--refresh", is_flag=True, help="Bring every ontology's closure up to date with the loaded "
              "ontologies (after a load with --no-closure, a reload or a drop; see `traitkg graphs --stale`).")
def closure(graphs: tuple[str, ...], name: str | None, version: str | None, properties: str | None,
            refresh: bool) -> None:
    """Materialise the closure of one or more loaded ontology graphs (e.g. uberon bspo), or --refresh."""
    kg = get_kg()
    if refresh:
        if graphs:
            raise click.UsageError("--refresh takes no graphs: it refreshes every ontology's closure")
        done = kg.refresh_closures()
        for res in done:
            click.echo(f"{res.status}: {res.graph} — {res.triples} triples; nonredundant "
                       f"{res.nonredundant_triples}")
        if not done:
            click.echo("nothing to refresh: no loaded ontology has a closure yet (load one with its closure, "
                       "or run `traitkg closure NAME...`)")
        return
    if not graphs:
        raise click.UsageError("name one or more ontology graphs, or pass --refresh")
    recs = [kg.graph(g) for g in graphs]
    res = kg.closure([r.iri for r in recs], name=name or recs[0].name, version=version or recs[0].version,
                     properties=_props(properties))
    click.echo(f"{res.status}: {res.graph} — {res.triples} triples; nonredundant {res.nonredundant_triples}; "
               f"{res.inferred_subclass} inferred subClassOf in {res.seconds:.1f}s")


@main.command("term")
@click.argument("curie")
@click.option("--predicates", "-p", default="is_a,part_of", show_default=True,
              help="Comma-separated predicates for ancestors/descendants (is_a, part_of, has_part, CURIEs).")
@click.option("--descendants", is_flag=True, help="Also list descendants.")
@click.option("--map-to", help="Also list xref mappings to this prefix (e.g. UBERON).")
@click.option("--json", "as_json", is_flag=True)
def term(curie: str, predicates: str, descendants: bool, map_to: str | None, as_json: bool) -> None:
    """Show a term: label, definition, synonyms, xrefs, obsolescence, ancestors."""
    idx = get_kg().terms
    t = idx.term(curie)
    preds = [p.strip() for p in predicates.split(",") if p.strip()]
    anc = idx.ancestors(curie, preds)
    out = t.to_dict()
    out["ancestors"] = [{"curie": c, "label": idx.terms.get(idx.iri(c)).label if c in idx else None, "distance": d}
                        for c, d in sorted(anc.items(), key=lambda kv: (kv[1], kv[0]))]
    if descendants:
        out["descendants"] = [{"curie": c, "distance": d} for c, d in sorted(idx.descendants(curie, preds).items(),
                                                                             key=lambda kv: (kv[1], kv[0]))]
    out["mappings"] = idx.mappings(curie, map_to)
    out["information_content"] = round(idx.intrinsic_ic(curie, preds), 4)
    if as_json:
        emit_json(out)
        return
    click.echo(f"{t.curie}  {t.label or ''}" + ("  [OBSOLETE]" if t.obsolete else ""))
    if t.obsolete:
        click.echo(f"  replaced by: {', '.join(t.replaced_by) or '-'}   consider: {', '.join(t.consider) or '-'}")
    if t.definition:
        click.echo(f"  definition: {t.definition}")
    for s in t.synonyms:
        click.echo(f"  synonym ({s['scope'].lower()}): {s['text']}")
    if t.xrefs:
        click.echo(f"  xrefs: {', '.join(t.xrefs[:20])}" + (" …" if len(t.xrefs) > 20 else ""))
    click.echo(f"  IC: {out['information_content']}   ontology: {t.ontology or '-'}")
    click.echo(f"  ancestors over {', '.join(preds)} ({len(anc)}):")
    for a in out["ancestors"]:
        click.echo(f"    {a['distance']:>2}  {a['curie']}  {a['label'] or ''}")
    for d in out.get("descendants", []):
        click.echo(f"    -{d['distance']:>1}  {d['curie']}")


@main.command("search")
@click.argument("text")
@click.option("--limit", default=10, show_default=True)
@click.option("--prefix", help="Only terms with this prefix (e.g. UBERON).")
@click.option("--no-fuzzy", is_flag=True, help="Exact and prefix matches only.")
@click.option("--obsolete", is_flag=True, help="Include obsolete terms.")
@FORMAT_OPTION
def search(text: str, limit: int, prefix: str | None, no_fuzzy: bool, obsolete: bool, fmt: str) -> None:
    """Search terms by label and synonym (exact, prefix, fuzzy; ranked)."""
    hits = get_kg().terms.search(text, limit=limit, prefix=prefix, fuzzy=not no_fuzzy, obsolete=obsolete)
    emit([(h.curie, h.label, h.match, h.field, h.matched, h.score) for h in hits],
         ["curie", "label", "match", "field", "matched", "score"], fmt)


@main.group("ontology")
def ontology() -> None:
    """Ontology utilities: check (reasoner), catalog, diff."""


@ontology.command("check")
@click.argument("name")
@click.option("--reasoner", type=click.Choice(["hermit", "pellet", "elk"]), default="hermit", show_default=True,
              help="HermiT/Pellet: full OWL DL (owlready2); ELK: OWL 2 EL, fast on large ontologies like UBERON.")
@click.option("--json", "as_json", is_flag=True)
def check(name: str, reasoner: str, as_json: bool) -> None:
    """Report inconsistency and unsatisfiable classes of a loaded ontology (a Java reasoner)."""
    from ontologies.prefixes import contract

    res = get_kg().check_ontology(name, reasoner=reasoner)
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"{reasoner}: {'consistent' if res.consistent else 'INCONSISTENT'} in {res.seconds:.1f}s"
               + (f" ({res.message})" if res.message else ""))
    click.echo(f"unsatisfiable classes: {len(res.unsatisfiable)}")
    for c in res.unsatisfiable:
        click.echo(f"  {contract(c)}")


@ontology.command("catalog")
@FORMAT_OPTION
def catalog(fmt: str) -> None:
    """The ontologies known by name (for owl:imports and `load ontology NAME`)."""
    from ontologies.catalog import entries

    emit([(e.name, e.prefix, e.purl, e.title) for e in entries().values()], ["name", "prefix", "purl", "title"], fmt)


@ontology.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
def diff(a: str, b: str, as_json: bool) -> None:
    """Terms added / removed, labels changed, obsoletions between two releases."""
    d = get_kg().ontology_diff(a, b)
    if as_json:
        emit_json(d.to_dict())
        return
    print_ontology_diff(d)


__all__ = ["load_ontology", "Path"]
