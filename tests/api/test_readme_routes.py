"""The README's route table is derived from the app: it must list exactly the documented routes."""

from __future__ import annotations

from pathlib import Path

from api.routes_table import END, START, table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_route_table_matches_the_app():
    text = README.read_text()
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == table(), "run: python -m api.routes_table --write README.md"
