"""``traitkg index``: write every index file a server start reads, at the end of a build."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from kg.cli._app import emit, emit_json, get_kg, main, progress_bar


@main.command("index")
@click.option("--json", "as_json", is_flag=True, help="What was written, as JSON.")
@click.option("--prune", is_flag=True,
              help="Then remove the index files no current graph asks for (those of older store states).")
def index(as_json: bool, prune: bool) -> None:
    """Write every index file `traitkg serve --warm` reads (tree, term, trait and prediction-summary
    indices) beside the store, for the graphs loaded now, so that a server start only reads them.

    Run it as the last step of a build (the workflow's rule `index` does): most of these files are
    keyed by every graph of the store, so a load after it gives new keys and a server start would
    build them again. Files already written for these graphs are read, not written again.

    With --prune, the files of the cache directory that the store's graphs do not ask for now (the
    files of its older states: each load gives new keys, and nothing removes the old files) are
    removed after: every file this run read or wrote is kept, every tree version's, the taxon
    names of the graphs now (which the next load reads) and the summaries the loads kept of the
    summary graphs now (which the next index step encodes). A server
    that still maps a removed file keeps reading it (removing a file only removes its name; its
    space is freed when the last process lets go of it). Only the store's own cache directory
    (`PATH.cache` of `oxigraph:PATH`) or an explicit $TRAITKG_CACHE is pruned: the user cache a
    `sparql:` store uses by default is shared by every endpoint, and is refused."""
    from api.app import warm_parts
    from kg import indexcache as ic
    from kg.core.errors import ValidationError
    from kg.indexlock import asked_for, wait_limit

    wait_limit()  # a bad TRAITKG_INDEX_WAIT fails here, in one line, not at the first wait
    selector = click.get_current_context().find_root().obj["selector"]
    if prune and not (os.environ.get("TRAITKG_CACHE") or selector.startswith("oxigraph:")):
        raise ValidationError(f"--prune: {selector}'s index files are kept in the user cache every sparql: store "
                              "shares, where the other stores' files cannot be told from stale ones; set "
                              "TRAITKG_CACHE to a directory of this store's own to prune it")
    kg = get_kg()
    probe = ic.cache_dir(kg.store, "probe")
    if probe is None:
        raise ValidationError(f"{kg.selector}: an in-memory store keeps no index files; nothing to write")
    root = probe.parent
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with asked_for() as asked:
        parts = warm_parts(kg, {}, prefetch=True)  # the summary graphs read while the other parts run
        bar = progress_bar("index files", "parts")
        bar(0, len(parts))
        for i, (name, run) in enumerate(parts):
            before = _files(root)
            t = time.perf_counter()
            run()
            took = time.perf_counter() - t
            after = _files(root)
            written = sorted(p for p, st in after.items() if before.get(p) != st)
            rows.append({"part": name, "seconds": took, "written": written,
                         "bytes": sum(after[p][0] for p in written)})
            bar(i + 1, len(parts))
    removed: list[tuple[Path, int]] = []
    if prune:
        from kg.core.graphs import list_graphs
        from kg.predictions.summary_file import files_in_use as summary_files
        from kg.taxon_names import files_in_use
        from kg.trees import cache_dir as tree_dir
        from kg.trees import cache_key

        trees = tree_dir(kg.store)
        keep = asked | {trees / f"{cache_key(r)}.npz" for r in list_graphs(kg.store, kind="tree")} if trees else asked
        keep |= files_in_use(kg.store)  # the taxon names the next load resolves against (no start reads them)
        keep |= summary_files(kg.store)  # the summaries the next index step encodes (read where the pages change)
        removed = ic.prune(root, keep)
    files = _files(root)
    out = {"store": kg.selector, "cache": str(root), "seconds": time.perf_counter() - t0, "parts": rows,
           "files": len(files), "bytes": sum(s for s, _ in files.values())}
    if prune:
        out["pruned"] = [{"file": f"{p.parent.name}/{p.name}", "bytes": n} for p, n in removed]
    if as_json:
        emit_json(out)
        return
    emit([(r["part"], f"{r['seconds']:.2f}", ", ".join(r["written"]) or "(kept)") for r in rows],
         ["part", "seconds", "written"])
    n = sum(len(r["written"]) for r in rows)
    click.echo(f"{n} index file{'s' if n != 1 else ''} written in {out['seconds']:.1f} s; "
               f"{out['files']} in {root} ({out['bytes'] / 1e6:.1f} MB)")
    if prune:
        click.echo(f"pruned {len(removed)} file{'s' if len(removed) != 1 else ''} no current graph asks for "
                   f"({sum(n for _, n in removed) / 1e6:.1f} MB)")


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Index files under the cache directory (``kind/key.npz``) -> (size, mtime in ns)."""
    out: dict[str, tuple[int, int]] = {}
    for p in root.glob("*/*.npz"):
        try:
            st = p.stat()
        except OSError:
            continue
        out[f"{p.parent.name}/{p.name}"] = (st.st_size, st.st_mtime_ns)
    return out
