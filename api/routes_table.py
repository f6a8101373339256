"""The README's table of HTTP routes, derived from the OpenAPI document (never kept by hand).

``python -m api.routes_table`` prints it; ``python -m api.routes_table --write README.md``
replaces the block between the ``routes:start`` / ``routes:end`` markers.

>>> table().splitlines()[0]
'| method | path | what it does |'
"""

from __future__ import annotations

import sys
from pathlib import Path

START, END = "<!-- routes:start -->", "<!-- routes:end -->"


def table() -> str:
    """A Markdown table of every documented route, in the order the app declares them."""
    from api.app import create_app
    from api.settings import Settings

    spec = create_app(Settings(store="oxigraph:")).openapi()
    rows = ["| method | path | what it does |", "|---|---|---|"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            text = " ".join((op.get("description") or op.get("summary") or "").split("\n\n")[0].split())
            first = text.split(". ")[0].rstrip(".") + "." if text else ""
            rows.append(f"| {method.upper()} | `{path}` | {first.replace('|', '/')} |")
    return "\n".join(rows)


def replace_block(text: str, block: str) -> str:
    """``text`` with the marked block replaced by ``block``."""
    head, sep, rest = text.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"markers {START} ... {END} not found")
    return f"{head}{START}\n{block}\n{END}{rest.split(END, 1)[1]}"


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        p = Path(sys.argv[2])
        p.write_text(replace_block(p.read_text(), table()))
    else:
        sys.stdout.write(table() + "\n")
