"""Identification key commands: load key, key list/show/validate/identify/generate/link."""

from __future__ import annotations

from pathlib import Path

import click

from kg.cli._app import FORMAT_OPTION, emit, emit_json, get_kg, load_group, main


@load_group.command("key")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["keybase", "sdd"]), help="Default: from the file's content.")
@click.option("--name", help="Graph name (default: the KeyBase project or the file name).")
@click.option("--version", "version", help="Graph version (default: the file's checksum).")
@click.option("--lenient", is_flag=True, help="Skip malformed rows (reported) instead of refusing the file.")
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
def load_key(path: str, fmt: str | None, name: str | None, version: str | None, lenient: bool, as_json: bool) -> None:
    """Load a KeyBase key (CSV/TSV), a KeyBase project export (zip) or a TDWG SDD file.

    Every key is validated (loops, dead ends, orphans, reticulations, polytomies, singletons,
    double shortcuts); the problems are printed, and the keys are loaded all the same."""
    opts = {"lenient": True} if lenient else {}
    rep = get_kg().load_key(path, format=fmt, name=name, version=version, **opts)
    if as_json:
        emit_json(rep.to_dict())
        return
    click.echo(rep.summary())
    for p in rep.problems[:20]:
        click.echo(f"  {p}", err=True)
    if len(rep.problems) > 20:
        click.echo(f"  ... and {len(rep.problems) - 20} more (--json for all)", err=True)


@main.group("key")
def key_group() -> None:
    """Identification keys: list, show, validate, identify, generate."""


@key_group.command("list")
@FORMAT_OPTION
def key_list(fmt: str) -> None:
    """Every loaded key: reference (project/id), title, scope, number of leads."""
    rows = get_kg().keys.list()
    emit([(k.ref, k.title, k.scope or "", k.leads) for k in rows], ["key", "title", "scope", "leads"], fmt)


@key_group.command("show")
@click.argument("key")
@click.option("--couplet", help="Couplet number (default: the first).")
@click.option("--json", "as_json", is_flag=True)
def key_show(key: str, couplet: str | None, as_json: bool) -> None:
    """A key's metadata and one couplet with its leads."""
    d = get_kg().keys.show(key, couplet)
    if as_json:
        emit_json(d)
        return
    click.echo(f"{d['ref']}: {d['title']} ({d['couplets']} couplets, {d['leads']} leads)")
    click.echo(f"couplet {d['couplet']}:")
    for x in d["leads_of_couplet"]:
        click.echo(f"  {x['id']:>5}  {x['statement']}  -> {_dest(x)}")


def _dest(x: dict) -> str:
    if x.get("item"):
        extra = f" : {', '.join(x['shortcut'])}" if x.get("shortcut") else ""
        sub = f"  [sub-key {', '.join(x['subkeys'])}]" if x.get("subkeys") else ""
        return f"{x['item']}{extra}{sub}"
    if x.get("subkey"):
        at = f", couplet {x['subkey_couplet']}" if x.get("subkey_couplet") else ""
        return f"key {x['subkey']}{at}" + (" (reticulation)" if x.get("reticulation") else "")
    if x.get("to_couplet"):
        return f"couplet {x['to_couplet']}" + (" (reticulation)" if x.get("reticulation") else "")
    return "nowhere"


@key_group.command("validate")
@click.argument("key")
@FORMAT_OPTION
def key_validate(key: str, fmt: str) -> None:
    """KeyBase's checks on a loaded key, or on a key FILE (not loaded): each problem's class,
    severity, couplet and offending leads. Reticulations an SDD key declares and leads handing over to
    a sub-key are part of the key, not problems. Exit code 1 when a problem of severity error is found."""
    import sys

    g = get_kg()
    if Path(key).is_file():
        from kg.core.sources import Source
        from kg.keys.files import key_loader
        from loaders.keymodel import validate_all

        src = Source.resolve(key)
        probs = validate_all(key_loader(src).parse(src).keys)
    else:
        sk = g.keys.get(key)
        probs = [(sk.info.ref, p) for p in g.keys.validate(key)]
    if fmt == "json":
        emit_json([dict(p.to_dict(), key=k) for k, p in probs])
    elif probs:
        emit([(k, p.kind, p.severity, p.couplet, ",".join(p.leads), ",".join(map(str, p.lines)), p.message)
              for k, p in probs], ["key", "problem", "severity", "couplet", "leads", "lines", "message"], fmt)
    else:
        click.echo("no problems")
    if any(p.severity == "error" for _, p in probs):
        sys.exit(1)


@key_group.command("identify")
@click.argument("key")
@click.argument("answers", nargs=-1)
@click.option("-o", "--observe", "observations", multiple=True,
              help="Batch mode: an observed trait (free text, or a lead id); repeat for more.")
@click.option("-i", "--interactive", is_flag=True, help="Ask couplet by couplet until a result.")
@click.option("--json", "as_json", is_flag=True)
def key_identify(key: str, answers: tuple[str, ...], observations: tuple[str, ...], interactive: bool,
                 as_json: bool) -> None:
    """Walk KEY with ANSWERS (lead ids such as 1a 3b, or letters a b of each couplet in turn): prints
    the path, then the next couplet or the result. A lead that hands over to a sub-key goes on in
    that key; after a result with a key of its own, more answers go on in it. With --observe, batch
    mode: the candidate taxa and the couplets the observations left open."""
    keys = get_kg().keys
    if observations:
        res = keys.batch(key, list(observations))
        if as_json:
            emit_json(res.to_dict())
            return
        for d in res.decisions:
            click.echo(f"{d['couplet']:>5}: {d['lead']}  {d['statement']}   (from {d['observation']!r}, {d['score']})")
        click.echo(f"candidates ({len(res.candidates)}): {', '.join(res.candidates)}")
        if res.remaining:
            click.echo(f"couplets still open: {', '.join(r['couplet'] for r in res.remaining)}")
        if res.unused:
            click.echo(f"observations that decided nothing: {', '.join(res.unused)}")
        return
    ans = list(answers)
    st = keys.identify(key, ans)
    while interactive and not st.done:
        _print_state(st, path=False)
        choice = click.prompt("answer", type=str)
        from kg.core.errors import ValidationError

        try:
            st = keys.identify(key, [*ans, choice])
            ans.append(choice)
        except ValidationError as exc:
            click.echo(str(exc), err=True)
    if as_json:
        emit_json(st.to_dict())
    else:
        _print_state(st)


def _print_state(st, *, path: bool = True) -> None:  # noqa: ANN001
    if path:
        for s in st.path:
            hand = f"   -> key {s['subkey']}" if s.get("subkey") else ""
            where = "" if s["key"] == st.key else f" [{s['key']}]"
            click.echo(f"{s['couplet']:>5}: {s['lead']}  {s['statement']}{where}{hand}")
    if st.result:
        sub = f"  (continue with key {', '.join(st.subkeys)})" if st.subkeys else ""
        short = f" : {', '.join(st.shortcut)}" if st.shortcut else ""
        click.echo(f"result: {st.result}{short}{sub}")
    elif st.dead_end:
        click.echo(f"dead end: {st.dead_end}")
    else:
        where = "" if st.in_key == st.key else f" of key {st.in_key}"
        click.echo(f"couplet {st.couplet}{where} ({len(st.remaining)} taxa still possible):")
        if st.question:
            click.echo(f"  {st.question}")
        for x in st.leads:
            click.echo(f"  {x['id']:>5}  {x['statement']}  -> {_dest(x)}")


@key_group.command("generate")
@click.argument("matrix")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write the key as KeyBase CSV here.")
@click.option("--load/--no-load", default=False, show_default=True, help="Load the generated key into the store.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics and indistinguishable groups as JSON.")
def key_generate(matrix: str, out: str | None, load: bool, as_json: bool) -> None:
    """Generate a dichotomous key from a character matrix (Phenex NeXML or SDD coded descriptions),
    splitting by information gain; taxa the matrix cannot tell apart are keyed out together."""
    from kg.keys.generate import generate, read_matrix

    gen = generate(read_matrix(matrix))
    text = gen.to_csv()
    if out:
        Path(out).write_text(text)
    stats = gen.stats()
    if as_json:
        emit_json(dict(stats, groups=gen.groups, uncoded=gen.uncoded))
    else:
        click.echo(", ".join(f"{k}={v}" for k, v in stats.items()))
        for grp in gen.groups[:10]:
            click.echo(f"  indistinguishable: {', '.join(grp)}")
        if gen.uncoded:
            click.echo(f"  not keyed out (no coded state for any varying character): {', '.join(gen.uncoded)}")
        if not out:
            click.echo(text, nl=False)
    if load:
        if not out:
            raise click.UsageError("--load needs --out (the key file to load)")
        rep = get_kg().load_key(out, format="keybase")
        click.echo(rep.summary())


@key_group.command("link")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print every term match, item link and contradiction as JSON.")
def key_link(key: str | None, as_json: bool) -> None:
    """Link KEY (default: every key) to the KG: lead statements -> anatomy/quality terms (scored
    hypotheses), items -> taxa, and leads contradicting the taxa's presence/absence calls. The
    hypotheses go into a derived `keylinks` graph."""
    res = get_kg().keys.link(key)
    if as_json:
        emit_json({"graph": res.graph, "status": res.status, "counts": res.counts(),
                   "term_matches": [m.to_dict() for m in res.term_matches], "items": res.items,
                   "contradictions": res.contradictions})
        return
    click.echo(f"{res.status}: {res.graph} — " + ", ".join(f"{k}={v}" for k, v in res.counts().items()))
    for c in res.contradictions[:20]:
        click.echo(f"  contradiction: {c['key']} lead {c['lead']} says {c['entity_label'] or c['entity']} "
                   f"{c['lead_says']} on the way to {c['item']}, but {', '.join(c['taxa'][:5])} "
                   f"{'has' if len(c['taxa']) == 1 else 'have'} it {'absent' if c['lead_says'] == 'present' else 'present'}"
                   f" ({'/'.join(c['tier'])})")
