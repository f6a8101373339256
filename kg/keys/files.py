"""Which key loader reads a file: by explicit format, else by content (zip: KeyBase export;
XML: SDD; text: KeyBase CSV/TSV)."""

from __future__ import annotations

import zipfile
from types import ModuleType

from kg.core.errors import UnknownFormat
from kg.core.sources import Source


def key_loader(src: Source, fmt: str | None = None) -> ModuleType:
    """The loader module for a key file.

    >>> from pathlib import Path
    >>> key_loader(Source.resolve(Path(__file__).parent.parent / "sample" / "key-fish-orders.tsv")).__name__
    'loaders.keybase'
    """
    from loaders import keybase, sdd

    if fmt:
        mods = {m.FORMATS[0]: m for m in (keybase, sdd)}
        if fmt.lower() not in mods:
            raise UnknownFormat(f"unknown key format {fmt!r}; expected one of: {', '.join(sorted(mods))}")
        return mods[fmt.lower()]
    if zipfile.is_zipfile(src.path):
        return keybase
    with src.open() as fh:
        head = fh.read(2048)
    if head.lstrip().startswith(b"<"):
        return sdd
    return keybase
