"""Release commands: compare two KG releases (`traitkg export` writes them, `traitkg import` restores)."""

from __future__ import annotations

import click

from kg.cli._app import emit_json, main


@main.group("release")
def release_group() -> None:
    """KG releases written by `traitkg export`."""


@release_group.command("diff")
@click.argument("a", type=click.Path(exists=True, file_okay=False))
@click.argument("b", type=click.Path(exists=True, file_okay=False))
@click.option("--sample", default=10, show_default=True, help="Examples listed per category.")
@click.option("--json", "as_json", is_flag=True, help="The whole diff as JSON.")
def diff(a: str, b: str, sample: int, as_json: bool) -> None:
    """What changed from release A to release B: graphs added, removed and updated, and the terms,
    taxa, phenotypes, calls, predictions, keys and hypotheses only in one of them."""
    from kg.core.releases import diff_releases

    d = diff_releases(a, b, sample=sample)
    if as_json:
        emit_json(d.to_dict())
        return
    click.echo(d.summary())
    for c in d.categories:
        for x in c.sample_added:
            click.echo(f"+ {c.name[:-1] if c.name.endswith('s') else c.name} {x}")
        for x in c.sample_removed:
            click.echo(f"- {c.name[:-1] if c.name.endswith('s') else c.name} {x}")
