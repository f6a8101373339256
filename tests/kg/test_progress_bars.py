"""Progress bars of the long loads (taxonomy, tree, ontology with its closure): one bar per stage
on a terminal, none when stderr is not a terminal or with ``--quiet``; TRAITKG_PROGRESS=always
draws them anyway, ``never`` never."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
TAXONOMY = DATA / "trees" / "toy_taxonomy.tsv"
TREE = DATA / "trees" / "toy.nwk"
ONTOLOGY = DATA / "ontologies" / "toy.obo"


def run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    r = CliRunner(env=env).invoke(main, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stderr


def bars(err: str) -> set[str]:
    """The descriptions of the bars drawn (tqdm: ``DESC: NN%|...`` or ``DESC: N unit``)."""
    return {part.split(":")[0].strip() for part in err.replace("\r", "\n").splitlines()
            if ("%|" in part or "/s]" in part) and ":" in part}


@pytest.mark.parametrize("args, expected", [
    (["load", "taxonomy", str(TAXONOMY)], {"toy_taxonomy.tsv read", "toy_taxonomy.tsv write"}),
    (["load", "tree", str(TREE)], {"toy.nwk parse", "toy.nwk write", "toy.nwk index"}),
    (["load", "ontology", str(ONTOLOGY)], {"toy.obo toy closure", "toy.obo toy closure write",
                                           "toy.obo toy-nonredundant closure write"}),
])
def test_forced_bars_name_every_stage(tmp_path, args, expected):
    code, err = run(["--store", f"oxigraph:{tmp_path / 's'}", *args], {"TRAITKG_PROGRESS": "always"})
    assert code == 0, err
    assert bars(err) == expected, err


def test_no_bars_when_not_a_terminal_or_quiet(tmp_path):
    store = f"oxigraph:{tmp_path / 's'}"
    code, err = run(["--store", store, "load", "taxonomy", str(TAXONOMY)], {"TRAITKG_PROGRESS": "auto"})
    assert code == 0 and bars(err) == set(), err
    code, err = run(["--store", store, "-q", "load", "tree", str(TREE)], {"TRAITKG_PROGRESS": "always"})
    assert code == 0 and bars(err) == set(), err
    code, err = run(["--store", store, "load", "ontology", str(ONTOLOGY)], {"TRAITKG_PROGRESS": "never"})
    assert code == 0 and bars(err) == set(), err


def test_bars_on_a_terminal(tmp_path):
    """A real process with stderr on a pseudo-terminal draws them unasked, as a user sees them."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a fresh pty has 0 columns
    env = {k: v for k, v in os.environ.items() if k != "TRAITKG_PROGRESS"}
    env["COLUMNS"] = "100"
    cmd = [sys.executable, "-c", "from kg.cli import main; main()", "--store", f"oxigraph:{tmp_path / 's'}",
           "load", "taxonomy", str(TAXONOMY)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=Path(__file__).resolve().parents[2])
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    out, _ = p.communicate(timeout=120)
    os.close(master)
    assert p.returncode == 0, err
    assert b"loaded: taxonomy/" in out
    assert {"toy_taxonomy.tsv read", "toy_taxonomy.tsv write"} <= bars(err.decode(errors="replace")), err
