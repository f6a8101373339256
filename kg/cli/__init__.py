"""``traitkg`` command line. Each module in this package adds the commands of one noun."""

from __future__ import annotations

import importlib
import pkgutil

from kg.cli._app import main

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["main"]
