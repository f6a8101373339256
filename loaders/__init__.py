"""Loaders: one module per source format, discovered (not listed by hand).

Each loader module defines ``KIND`` (the graph kind it writes), ``FORMATS`` (format names it
accepts, the first being its canonical name), ``EXTENSIONS`` (file extensions, without ``.gz``),
a pure ``parse(...)`` and ``load(store, source, *, name=None, version=None, ...) -> LoadReport``.

>>> "rdf" in registry()
True
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType

from kg.core.errors import UnknownFormat

_NOT_LOADERS = {"report"}


@lru_cache(maxsize=1)
def _modules() -> dict[str, ModuleType]:
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_LOADERS:
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "load") and hasattr(mod, "FORMATS"):
            mods[info.name] = mod
    return mods


def registry() -> dict[str, ModuleType]:
    """Format name -> loader module, derived from the modules in this package."""
    out: dict[str, ModuleType] = {}
    for mod in _modules().values():
        for fmt in mod.FORMATS:
            out.setdefault(fmt, mod)
    return out


def loader_for(fmt: str | None = None, *, extension: str | None = None, kind: str | None = None) -> ModuleType:
    """Pick a loader by explicit format, else by file extension (optionally within one kind)."""
    reg = registry()
    if fmt:
        if fmt.lower() in reg:
            return reg[fmt.lower()]
        raise UnknownFormat(f"unknown format {fmt!r}; expected one of: {', '.join(sorted(reg))}")
    ext = (extension or "").lower()
    mods = [m for m in _modules().values() if kind is None or m.KIND == kind]
    candidates = [m for m in mods if ext in getattr(m, "EXTENSIONS", ())]
    if not candidates and kind:  # the kind decides: its own loader (FORMATS[0] == kind) first
        candidates = sorted(mods, key=lambda m: m.FORMATS[0] != kind)
    if candidates:
        return candidates[0]
    known = sorted({e for m in _modules().values() for e in getattr(m, "EXTENSIONS", ())})
    raise UnknownFormat(f"cannot tell the format of a '.{ext}' file; pass --format "
                        f"(one of: {', '.join(sorted(reg))}); known extensions: {', '.join(known)}")
