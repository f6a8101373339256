"""``traitkg demo``: load the bundled sample into the store, then serve the API and web page."""

from __future__ import annotations

import click

from kg.cli._app import get_kg, main, progress_bar


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only load the sample; don't start the server.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool) -> None:
    """Load the bundled sample (32 fish species: anatomy, tree, taxonomy, phenotypes) and serve it."""
    from kg.demo import load_sample

    g = get_kg()
    reports = load_sample(g, progress_factory=lambda name: progress_bar(name),
                          on_skip=lambda item, why: click.echo(f"skipped {item.file}: {why}", err=True))
    for r in reports:
        click.echo(r.summary())
    click.echo(f"store: {g.selector}  ({len(g.graphs())} graphs)")
    if no_serve:
        return
    # the server opens the store itself (an on-disk store admits one writer process)
    g.close()
    ctx.find_root().obj["kg"] = None
    serve = main.get_command(ctx, "serve")
    if serve is None:
        raise click.ClickException("the API is not installed (api/ missing)")
    ctx.invoke(serve, host=host, port=port)
