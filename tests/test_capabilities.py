"""docs/capabilities.md is derived from the code (kg/cli/capabilities.py) and kept in step: every
command and route is placed, every interface a capability lacks says why, every CLI option and
REST field sets a named Python parameter."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from kg.cli import main
from kg.cli.capabilities import CAPS, IFACES, capability_rows, coverage, table

ROOT = Path(__file__).resolve().parents[1]


def test_docs_table_is_current():
    assert (ROOT / "docs" / "capabilities.md").read_text() == table(), \
        "run: python -m kg.cli.capabilities --write docs/capabilities.md"
    assert "docs/capabilities.md" in (ROOT / "README.md").read_text()


def test_every_command_and_route_is_placed():
    assert coverage() == {"cli": [], "rest": []}, "add them to CAPS or NOT_CAPABILITIES in kg/cli/capabilities.py"


def test_a_missing_interface_says_why_and_options_map_to_python_parameters():
    for r, c in zip(capability_rows(), CAPS):
        present = {"python": r["python"] and c.python, "cli": r["cli"], "rest": r["rest"], "web": r["web"]}
        for iface in IFACES:
            assert present[iface] or c.why.get(iface), f"{c.name}: no {iface} and no reason"
        assert sum(bool(v) for v in present.values()) >= 2 or len(c.why) >= 3, c.name
        assert r["unmapped"] == {"cli": [], "rest": []}, (c.name, r["unmapped"])
        for name, target in c.alias.items():  # an alias that names a parameter names a real one
            if re.fullmatch(r"(\*\*)?[a-z_]+", target):
                assert target in r["params"], (c.name, name, target, r["params"])


def test_the_same_parameters_in_all_three_for_pgls_and_splits():
    rows = {r["name"].split(" (")[0]: r for r in capability_rows()}
    pgls = rows["PGLS"]
    for p in ("predictors", "model", "lam", "estimation", "vcv", "write", "minimum", "name"):
        assert p in pgls["params"] and p in pgls["rest_map"], p
    for p in ("predictors", "model", "lam", "estimation", "vcv", "write", "minimum"):
        assert p in pgls["cli_map"], p
    split = rows["Training splits"]
    assert {"method", "rank", "cut", "strict", "test", "val", "seed"} <= set(split["cli_map"])


def test_cli_prints_the_table():
    r = CliRunner().invoke(main, ["capabilities"])
    assert r.exit_code == 0 and r.output == table()
