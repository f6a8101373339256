"""Sources: fetch a file or URL into a workflow's working directory, checksummed."""

from __future__ import annotations

import click

from kg.cli._app import emit_json, main


@main.command("fetch")
@click.argument("source")
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option("--sha256", "expected", help="Refuse the file unless its SHA-256 is this (hex).")
@click.option("--json", "as_json", is_flag=True, help="Print origin, path, size and sha256 as JSON.")
def fetch(source: str, dest: str, expected: str | None, as_json: bool) -> None:
    """Copy SOURCE (a path, a directory or a URL; URLs go through the download cache) to DEST,
    atomically, and say its checksum: the first step of a workflow, so every later step reads a pinned local file."""
    import os
    import shutil
    from pathlib import Path

    from kg.core.errors import IntegrityError
    from kg.core.sources import Source

    out = Path(dest)
    if Path(source).is_dir():  # a directory of local files: copied whole, then renamed into place
        if expected:
            raise click.UsageError("--sha256 applies to one file, not a directory")
        tmp = out.with_name(f".{out.name}.part")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
        files = [p for p in out.rglob("*") if p.is_file()]
        info = {"origin": str(Path(source).resolve()), "path": str(out), "files": len(files),
                "bytes": sum(p.stat().st_size for p in files)}
        emit_json(info) if as_json else click.echo(f"{out}: {info['files']} files, {info['bytes']} bytes "
                                                    f"(from {info['origin']})")
        return
    src = Source.resolve(source)
    if expected and src.sha256 != expected.lower():
        raise IntegrityError(f"{source}: sha256 {src.sha256} does not match the expected {expected}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    shutil.copyfile(src.path, tmp)
    os.replace(tmp, out)
    info = {"origin": src.origin, "path": str(out), "bytes": src.size, "sha256": src.sha256}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"{out}: {src.size} bytes, sha256 {src.sha256} (from {src.origin})")
