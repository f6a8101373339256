"""The ``traitkg`` command group and what every command shares.

Commands live one noun per module in this package and attach themselves to :data:`main`
(or to :data:`load_group`); ``kg/cli/__init__.py`` discovers the modules, so the command list
is derived from the code. Modules import heavy libraries inside their functions only:
``traitkg --help`` must stay well under a second.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from kg import __version__
from kg.core.errors import TraitKGError, one_line

log = logging.getLogger("traitkg")

#: The longest error line the CLI prints (messages quote excerpts of values, see kg.core.errors.excerpt).
MAX_ERROR_LINE = 2000


class _Group(click.Group):
    """Turns TraitKGError (and file errors) into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TraitKGError as exc:
            fail(str(exc), details=error_details(exc))
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            fail(f"{exc.filename or ''}: {exc.strerror}".lstrip(": "))
        except KeyboardInterrupt:
            fail("interrupted; the store is unchanged by the unfinished step")


def fail(message: str, details: Sequence[str] = ()) -> None:
    """One line on stderr and exit code 2. With ``-v`` the rest follows: the error's details (every
    bad row of a refused batch) and any further lines of a message of several lines."""
    first, _, rest = message.strip().partition("\n")
    click.echo(f"traitkg: error: {one_line(first, MAX_ERROR_LINE)}", err=True)
    if _verbosity() > 0:
        if rest.strip():
            click.echo(rest.rstrip(), err=True)
        for d in details:
            click.echo(f"  {d}", err=True)
    sys.exit(2)


def _verbosity() -> int:
    ctx = click.get_current_context(silent=True)
    return int((ctx.find_root().obj or {}).get("verbose", 0)) if ctx is not None else 0


def error_details(exc: BaseException) -> list[str]:
    """The lines an error lists beyond its one-line message (its ``problems``, when it has them)."""
    return [str(p) for p in getattr(exc, "problems", None) or ()]


@contextmanager
def json_refusals(as_json: bool) -> Iterator[None]:
    """With ``--json``, a refused load prints its refusal as JSON on stdout (``status: refused``,
    the error, and every problem where the error lists them) and exits 2."""
    try:
        yield
    except TraitKGError as exc:
        if not as_json:
            raise
        body = exc.to_dict() if callable(getattr(exc, "to_dict", None)) else {  # type: ignore[attr-defined]
            "status": "refused", "error": str(exc), "problems": error_details(exc)}
        emit_json(body)
        click.echo(f"traitkg: error: {one_line(str(exc).strip().partition(chr(10))[0], MAX_ERROR_LINE)}", err=True)
        sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", envvar="TRAITKG_STORE", default="oxigraph:./traitkg-data", show_default=True,
              help="Store selector: oxigraph:PATH, oxigraph: (memory) or sparql:URL. Env: TRAITKG_STORE.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars (they are drawn on a terminal only; TRAITKG_PROGRESS=always|never overrides).")
@click.version_option(__version__, prog_name="traitkg")
@click.pass_context
def main(ctx: click.Context, store: str, verbose: int, quiet: bool) -> None:
    """traitkg: a knowledge graph linking organismal traits to phylogeny."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"selector": store, "kg": None, "verbose": verbose, "quiet": quiet}
    ctx.call_on_close(lambda: ctx.obj["kg"] and ctx.obj["kg"].close())


def get_kg(ctx: click.Context | None = None) -> Any:
    """The KnowledgeGraph for this invocation, opened on first use."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if root.obj["kg"] is None:
        from kg import KnowledgeGraph

        root.obj["kg"] = KnowledgeGraph.open(root.obj["selector"])
    return root.obj["kg"]


@main.group("load", cls=_Group)
def load_group() -> None:
    """Load a source into its own versioned named graph."""


class ProgressBar:
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr: drawn on a terminal, silent
    when stderr is not one or with ``traitkg --quiet``; ``TRAITKG_PROGRESS=always`` draws it anyway
    (logs, tests), ``never`` never. :meth:`stage` opens the bar of one stage of a longer step (a load's
    read, write and index stages: see :func:`loaders._base.stage`)."""

    def __init__(self, desc: str, unit: str = "B") -> None:
        self.desc, self.unit = desc, unit
        self._bar: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, unit_scale=True, file=sys.stderr,
                             disable=_bars_disabled(), leave=False)
        b = self._bar
        if total is not None and b.total != total:
            b.total = total
        b.update(done - b.n)
        if total is not None and done >= total:
            b.close()

    def stage(self, name: str, unit: str) -> ProgressBar:
        """The bar of one stage: ``"<desc> <name>"`` counted in ``unit``."""
        return ProgressBar(f"{self.desc} {name}", unit)


def _bars_disabled() -> bool | None:
    """tqdm's ``disable``: None draws on a terminal only."""
    import os

    ctx = click.get_current_context(silent=True)
    if ctx is not None and (ctx.find_root().obj or {}).get("quiet"):
        return True
    mode = os.environ.get("TRAITKG_PROGRESS", "auto").strip().lower()
    return {"always": False, "never": True}.get(mode)


def progress_bar(desc: str, unit: str = "B") -> ProgressBar:
    """A ``progress(done, total)`` callback drawing a bar on stderr (see :class:`ProgressBar`)."""
    return ProgressBar(desc, unit)


def emit(rows: Sequence[Sequence[Any]], header: Sequence[str], fmt: str = "table") -> None:
    """Print rows as an aligned table, CSV, TSV or JSON (a list of objects)."""
    import csv

    cells = [["" if v is None else str(v) for v in r] for r in rows]
    if fmt == "json":
        click.echo(json.dumps([dict(zip(header, r)) for r in rows], indent=2, default=str))
    elif fmt in ("csv", "tsv"):
        w = csv.writer(sys.stdout, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(cells)
    else:
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
        click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        click.echo("  ".join("-" * w for w in widths))
        for r in cells:
            click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json"]),
                             default="table", show_default=True, help="Output format.")


def print_report(report, as_json: bool = False) -> None:
    """Print a LoadReport: one summary line, then its problems."""
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(report.summary())
    shown = report.problems if _verbosity() > 0 else report.problems[:50]
    for p in shown:
        click.echo(f"  {p}", err=True)
    if len(report.problems) > len(shown):
        click.echo(f"  … and {len(report.problems) - len(shown)} more problems (-v lists every one; --json too)",
                   err=True)


def print_ontology_diff(d, sample: int = 10) -> None:
    """Print an OntologyDiff: summary, then examples of each change."""
    click.echo(d.summary())
    for c in d.added[:sample]:
        click.echo(f"+ term {c}")
    for c in d.removed[:sample]:
        click.echo(f"- term {c}")
    for c, old, new in d.relabelled[:sample]:
        click.echo(f"~ label {c}: {old!r} -> {new!r}")
    for c in d.obsoleted[:sample]:
        click.echo(f"! obsoleted {c}")
