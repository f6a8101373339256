"""``traitkg index``: write every index file a server start reads, at the end of a build."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from kg.cli._app import emit, emit_json, get_kg, main, progress_bar


@main.command("index")
@click.option("--json", "as_json", is_flag=True, help="What was written, as JSON.")
def index(as_json: bool) -> None:
    """Write every index file `traitkg serve --warm` reads (tree, term, trait and prediction-summary
    indices) beside the store, for the graphs loaded now, so that a server start only reads them.

    Run it as the last step of a build (the workflow's rule `index` does): most of these files are
    keyed by every graph of the store, so a load after it gives new keys and a server start would
    build them again. Files already written for these graphs are read, not written again."""
    from api.app import warm_parts
    from kg import indexcache as ic
    from kg.core.errors import ValidationError
    from kg.indexlock import wait_limit

    wait_limit()  # a bad TRAITKG_INDEX_WAIT fails here, in one line, not at the first wait
    kg = get_kg()
    probe = ic.cache_dir(kg.store, "probe")
    if probe is None:
        raise ValidationError(f"{kg.selector}: an in-memory store keeps no index files; nothing to write")
    root = probe.parent
    t0 = time.perf_counter()
    parts = warm_parts(kg, {})
    bar = progress_bar("index files", "parts")
    bar(0, len(parts))
    rows: list[dict[str, Any]] = []
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
    files = _files(root)
    out = {"store": kg.selector, "cache": str(root), "seconds": time.perf_counter() - t0, "parts": rows,
           "files": len(files), "bytes": sum(s for s, _ in files.values())}
    if as_json:
        emit_json(out)
        return
    emit([(r["part"], f"{r['seconds']:.2f}", ", ".join(r["written"]) or "(kept)") for r in rows],
         ["part", "seconds", "written"])
    n = sum(len(r["written"]) for r in rows)
    click.echo(f"{n} index file{'s' if n != 1 else ''} written in {out['seconds']:.1f} s; "
               f"{out['files']} in {root} ({out['bytes'] / 1e6:.1f} MB)")


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
