"""The architecture, checked on the import graph that grimp builds from the source.

Layers, lowest first (docs/DEVELOPING.md draws the same picture); a module may import its own
layer or any layer below, never one above:

    ground      kg.core            store seam, named graphs + manifest, errors, identifiers and
                ontologies.prefixes  taxon names, sources, bulk writes, version; the CURIE map
    ontologies  ontologies         prefixes, catalogue, axioms, closure, reasoners
    loaders     loaders            one module per format: parse -> records, load -> LoadReport
    domain      kg.<query modules> terms, taxa, trees, traits, similarity ... (every other kg module)
    facade      kg, kg.demo        KnowledgeGraph (kg/__init__.py) and the demo built on it
    top         api, gnn           the web service and the learned models (never each other)
    entry       kg.cli             the `traitkg` command, which also starts the API and the models

Imports under ``if TYPE_CHECKING:`` (annotations only, never run) are left out. Besides the
layers: no import cycle between any two modules, no private name (``_x``) imported
from another module, and the heavy libraries stay in their one place. `import kg` / `import api`
never pull in torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kg", "ontologies", "loaders", "api", "gnn")

#: (module prefix, layer); the longest matching prefix decides. Every kg module that is not
#: named here is a domain query module.
LAYER_OF_PREFIX = {
    "kg.core": 0,
    "ontologies.prefixes": 0,  # the one CURIE map: ground, kept in ontologies/ where the design puts it
    "ontologies": 1,
    "loaders": 2,
    "kg": 3,
    "kg.demo": 4,
    "api": 5,
    "gnn": 5,
    "kg.cli": 6,
}
LAYER_NAMES = ["ground (kg.core)", "ontologies", "loaders", "domain (kg queries)", "facade (kg, kg.demo)",
               "api / gnn", "CLI (kg.cli)"]
#: packages of one layer that must not import each other
SEPARATE = [("api", "gnn")]
#: library -> the only modules allowed to import it
HEAVY = {
    "pyoxigraph": ("kg.core.store",),
    "torch": ("gnn",),
    "torch_geometric": ("gnn",),
    "ete3": ("kg.trees", "loaders"),
    "owlready2": ("ontologies",),
    "rdflib": ("ontologies", "loaders"),
}


@cache
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*PACKAGES, include_external_packages=True, exclude_type_checking_imports=True,
                                  cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer(module: str) -> int:
    if module == "kg":
        return 4  # the facade lives in kg/__init__.py
    best = max((p for p in LAYER_OF_PREFIX if _within(module, p)), key=len)
    return LAYER_OF_PREFIX[best]


def internal_imports() -> list[tuple[str, str, int]]:
    g = graph()
    ours = {m for m in g.modules if m.split(".")[0] in PACKAGES}
    out = []
    for m in sorted(ours):
        for imp in sorted(g.find_modules_directly_imported_by(m)):
            if imp in ours:
                lines = [d["line_number"] for d in g.get_import_details(importer=m, imported=imp)]
                out.append((m, imp, min(lines) if lines else 0))
    return out


def _where(module: str, line: int) -> str:
    path = module.replace(".", "/")
    path = path + "/__init__.py" if (ROOT / path).is_dir() else path + ".py"
    return f"{path}:{line}"


def test_imports_go_down_the_layers():
    upward = [f"{_where(m, line)} {m} ({LAYER_NAMES[layer(m)]}) imports {imp} ({LAYER_NAMES[layer(imp)]})"
              for m, imp, line in internal_imports() if layer(imp) > layer(m)]
    assert upward == [], "imports that go up a layer:\n" + "\n".join(upward)


def test_separate_packages_of_one_layer_do_not_import_each_other():
    bad = [f"{_where(m, line)} {m} imports {imp}" for m, imp, line in internal_imports()
           for a, b in SEPARATE for x, y in ((a, b), (b, a)) if _within(m, x) and _within(imp, y)]
    assert bad == []


def test_no_import_cycles_between_modules():
    g = nx.DiGraph((m, imp) for m, imp, _ in internal_imports())
    cycles = sorted((sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1), key=len, reverse=True)
    detail = []
    for c in cycles:
        sub = g.subgraph(c)
        edges = [f"  {m} -> {imp}" for m, imp in sorted(sub.edges)]
        detail.append(f"{len(c)} modules: {', '.join(c)}\n" + "\n".join(edges))
    assert cycles == [], "import cycles:\n" + "\n".join(detail)


def test_layer_table_names_every_top_package():
    for m in graph().modules:
        top = m.split(".")[0]
        if top in PACKAGES:
            assert 0 <= layer(m) < len(LAYER_NAMES)


@pytest.mark.parametrize("lib", sorted(HEAVY))
def test_heavy_libraries_stay_in_their_module(lib):
    g = graph()
    if lib not in g.modules:
        return  # nobody imports it at all
    importers = sorted(m for m in g.find_modules_that_directly_import(lib) if m.split(".")[0] in PACKAGES)
    offenders = [m for m in importers if not any(_within(m, p) for p in HEAVY[lib])]
    assert offenders == [], f"{lib} imported outside {HEAVY[lib]}: {offenders}"


def _source_files():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_private_names_imported_from_another_module():
    """What another module needs is public in the module that owns it (``from x import _y`` is not)."""
    bad = []
    for p in _source_files():
        here = _module_name(p)
        for node in ast.walk(ast.parse(p.read_text(), filename=str(p))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module.split(".")[0] not in PACKAGES or node.module == here:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    bad.append(f"{p.relative_to(ROOT)}:{node.lineno} imports {alias.name} from {node.module}")
    assert bad == [], "private names crossing modules:\n" + "\n".join(bad)


def _private_names_defined(tree: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            out.add(n.attr)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            out.add(n.target.id)
    return {x for x in out if x.startswith("_")}


def test_no_private_attributes_reached_from_another_module():
    """``obj._x`` (obj not ``self``/``cls``) only where this module defines ``_x`` itself."""
    bad = []
    for p in _source_files():
        tree = ast.parse(p.read_text(), filename=str(p))
        own = _private_names_defined(tree)
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
                    and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls")) and n.attr not in own):
                bad.append(f"{p.relative_to(ROOT)}:{n.lineno} {ast.unparse(n)}")
    assert bad == [], "private attributes reached from another module:\n" + "\n".join(bad)


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
