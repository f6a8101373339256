"""A prediction load's spill folder (``$TMPDIR/tkg-pred-*``, the rows spilled by taxon) is removed
by the load when it ends, and, when the load was killed (SIGKILL: no clean-up ran), by the next
load; a folder that a live load holds is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg import KnowledgeGraph
from loaders._prediction_write import SPILL_PREFIX, UNLOCKED_GRACE_S, SpillDir, sweep

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "traitkg")

HOLD = """
import sys
from loaders._prediction_write import SpillDir
d = SpillDir()
print(d.name, flush=True)
sys.stdin.read()
d.cleanup()
"""


def _spills(tmp: Path) -> set[str]:
    return {p.name for p in tmp.iterdir() if p.name.startswith(SPILL_PREFIX)}


def test_the_next_load_removes_the_folder_of_a_killed_load_but_not_a_live_one(tmp_path, toy):
    pdir = toy / "predictions"
    store, tmp = tmp_path / "s", tmp_path / "tmp"
    tmp.mkdir()
    g = KnowledgeGraph.open(f"oxigraph:{store}")
    g.load_taxonomy(pdir / "taxa.csv")
    g.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    load = [EXE, "--store", f"oxigraph:{store}", "load", "predictions", str(pdir / "v1.csv"), "--rows", "parquet"]
    run = subprocess.run(load, env={**env, "TRAITKG_CRASH_AT": "table:written"}, capture_output=True, text=True)
    assert run.returncode == -9, run.stderr  # SIGKILLed with the rows spilled and the side table written
    left = _spills(tmp)
    assert len(left) == 1, left
    assert any((tmp / next(iter(left))).glob("*.arrow"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        live = Path(holder.stdout.readline().strip()).name
        assert live.startswith(SPILL_PREFIX) and live not in left
        run = subprocess.run(load, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert _spills(tmp) == {live}  # the killed load's folder is gone, the live one kept, the new one removed
    finally:
        holder.communicate("", timeout=60)
    assert _spills(tmp) == set()
    g = KnowledgeGraph.open(f"oxigraph:{store}")
    assert len(g.predictions.image("ark:/89609/toy/i1")["predictions"]) == 2
    g.close()


def test_a_folder_without_its_lock_is_kept_until_it_is_old(tmp_path):
    mine = SpillDir(str(tmp_path))  # a live folder of this process: its lock is held
    fresh, old = tmp_path / f"{SPILL_PREFIX}fresh", tmp_path / f"{SPILL_PREFIX}old"
    for d in (fresh, old):
        d.mkdir()
        (d / "0.arrow").write_bytes(b"x")
    then = time.time() - UNLOCKED_GRACE_S - 60
    os.utime(old, (then, then))
    (tmp_path / "other-folder").mkdir()
    assert sweep(str(tmp_path)) == [str(old)]
    assert _spills(tmp_path) == {fresh.name, Path(mine.name).name}
    mine.cleanup()
    assert _spills(tmp_path) == {fresh.name}


def test_a_chunked_load_and_a_refused_one_leave_no_spill_folder(tmp_path, toy, monkeypatch):
    import tempfile

    import pandas as pd

    from loaders.predictions import BatchRejected

    pdir = toy / "predictions"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    table = pd.read_csv(pdir / "v1.csv", dtype=str, keep_default_na=False)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    table.to_csv(good, index=False)
    table.assign(confidence=["0.5"] * (len(table) - 1) + ["7"]).to_csv(bad, index=False)  # in the last chunk
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 's'}")
    g.load_taxonomy(pdir / "taxa.csv")
    rep = g.load_predictions(good, chunk_rows=2, rows="parquet")
    assert rep.status == "loaded" and _spills(tmp) == set()
    with pytest.raises(BatchRejected):
        g.load_predictions(bad, model="other", chunk_rows=2)
    assert _spills(tmp) == set()
    g.close()
