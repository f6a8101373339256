"""House rules that code review would otherwise have to catch: heavy libraries stay in their
module, imports go down the layers, `import kg` / `import api` never pull in torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kg", "ontologies", "loaders", "api", "gnn")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def _sources():
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            yield p.relative_to(ROOT).as_posix(), _imports(p)


# library -> the only places allowed to import it
ALLOWED = {
    "pyoxigraph": ("kg/store/",),
    "torch": ("gnn/",),
    "torch_geometric": ("gnn/",),
    "ete3": ("kg/trees", "loaders/"),
    "owlready2": ("ontologies/",),
    "rdflib": ("ontologies/", "loaders/"),
}


@pytest.mark.parametrize("lib", sorted(ALLOWED))
def test_heavy_libraries_stay_in_their_module(lib):
    offenders = [path for path, mods in _sources() if lib in mods and not path.startswith(ALLOWED[lib])]
    assert offenders == [], f"{lib} imported outside {ALLOWED[lib]}: {offenders}"


def test_bottom_layer_imports_nothing_above_it():
    bottom = ("kg/store/", "kg/graphs.py", "kg/errors.py")
    for path, mods in _sources():
        if path.startswith(bottom):
            assert not mods & {"ontologies", "loaders", "api", "gnn"}, (path, mods)


def test_nothing_imports_gnn_or_api_from_below():
    for path, mods in _sources():
        if path.startswith(("kg/", "ontologies/", "loaders/")) and not path.startswith("kg/cli/"):
            assert "gnn" not in mods and "api" not in mods, (path, mods)


@pytest.mark.parametrize("module", ["kg", "api", "kg.cli", "loaders", "ontologies"])
def test_import_does_not_pull_in_torch(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "bad = [m for m in ('torch', 'torch_geometric') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr


def test_no_print_in_library_code():
    offenders = []
    for pkg in ("kg", "ontologies", "loaders", "api"):
        for p in (ROOT / pkg).rglob("*.py"):
            if "/cli/" in p.as_posix():
                continue
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                    offenders.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
