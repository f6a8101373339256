"""The catalogue of ontologies traitkg knows by name, and how owl:imports are resolved offline.

Each entry (``ontologies/catalog.json``) maps a short name to its OBO prefix, PURLs (OWL and OBO)
and home page. An import IRI is resolved, in order, through the user's import map
(``--import-map IRI=PATH``), a file placed in the cache (``<cache>/ontologies/<file name>``), then
a download into that cache (unless offline). If none works, :class:`UnresolvedImport` says which
IRI failed and how to provide it. Imports are never skipped silently.

>>> entry("uberon").purl
'http://purl.obolibrary.org/obo/uberon.owl'
>>> entry("http://purl.obolibrary.org/obo/zfa.owl").prefix
'ZFA'
>>> sorted(n for n in entries() if n in {"aism", "colao", "lepao"})
['aism', 'colao', 'lepao']
"""

from __future__ import annotations

import difflib
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kg.core.errors import NotFound, SourceNotFound, StoreUnavailable

_DATA = Path(__file__).with_name("catalog.json")


class UnresolvedImport(SourceNotFound):
    """An owl:imports IRI could not be found offline (nor downloaded)."""


@dataclass(frozen=True)
class CatalogEntry:
    """One known ontology."""

    name: str
    prefix: str
    title: str
    purl: str
    obo: str
    homepage: str = ""


@lru_cache(maxsize=1)
def entries() -> dict[str, CatalogEntry]:
    """Every catalogue entry by short name."""
    raw = json.loads(_DATA.read_text())
    return {k: CatalogEntry(name=k, **v) for k, v in raw.items()}


def entry(ref: str) -> CatalogEntry:
    """An entry by name (``uberon``), prefix (``UBERON``) or PURL."""
    key = ref.strip()
    for e in entries().values():
        if key in (e.name, e.prefix, e.purl, e.obo) or key.lower() == e.name:
            return e
    near = difflib.get_close_matches(key.lower(), list(entries()), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(near)}?" if near else f" Known: {', '.join(sorted(entries()))}."
    raise NotFound(f"no ontology {ref!r} in the catalogue.{hint}")


def ontology_cache() -> Path:
    """Where ontology files (downloads and hand-placed copies) live: ``<cache>/ontologies``."""
    from kg.core.sources import cache_dir

    return cache_dir() / "ontologies"


def is_offline() -> bool:
    """``TRAITKG_OFFLINE=1`` forbids downloads."""
    return os.environ.get("TRAITKG_OFFLINE", "").lower() in ("1", "true", "yes")


def cached_name(iri: str) -> str:
    """The file name an import is looked up under in the cache (the IRI's last path segment).

    >>> cached_name("http://purl.obolibrary.org/obo/bspo.owl")
    'bspo.owl'
    """
    path = urllib.parse.urlparse(iri).path
    return Path(path).name or "index"


def parse_import_map(items: list[str] | tuple[str, ...] | Mapping[str, str] | None) -> dict[str, str]:
    """``["IRI=PATH", ...]`` (as the CLI takes them) or a dict -> {IRI: PATH}.

    >>> parse_import_map(["http://x.org/a.owl=/tmp/a.owl"])
    {'http://x.org/a.owl': '/tmp/a.owl'}
    """
    if not items:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    out = {}
    for item in items:
        iri, sep, path = item.rpartition("=")
        if not sep or not iri:
            raise ValueError(f"--import-map expects IRI=PATH, got {item!r}")
        out[iri] = path
    return out


def resolve_import(iri: str, *, import_map: Mapping[str, str] | None = None,
                   offline: bool | None = None, local_files: bool = True) -> str:
    """Return a local path (or URL already in the download cache) for an owl:imports IRI.
    ``local_files=False`` refuses ``file:`` imports (an ontology a client uploaded to a server must
    not make it read the server's files)."""
    import_map = import_map or {}
    if not local_files and iri.lower().startswith("file:"):
        raise UnresolvedImport(f"owl:imports <{iri}> is refused: an uploaded ontology may not name files on "
                               "the server; upload the imported ontology first, or load both with the CLI")
    if iri in import_map:
        p = Path(import_map[iri]).expanduser()
        if not p.is_file():
            raise UnresolvedImport(f"import {iri}: --import-map points at {p}, which is not a file")
        return str(p)
    if iri.startswith("file:"):
        return iri
    placed = ontology_cache() / cached_name(iri)
    if placed.is_file():
        return str(placed)
    how = (f"provide it with --import-map {iri}=PATH (Python: import_map={{IRI: PATH}}) "
           f"or put the file at {placed}")
    if offline if offline is not None else is_offline():
        raise UnresolvedImport(f"cannot resolve owl:imports <{iri}> offline; {how}")
    from kg.core.sources import download

    try:
        return str(download(iri, dest_dir=ontology_cache()))
    except (StoreUnavailable, SourceNotFound) as exc:
        raise UnresolvedImport(f"cannot resolve owl:imports <{iri}> ({exc}); {how}") from exc
