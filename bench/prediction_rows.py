"""One prediction batch loaded with its per-image rows in a Parquet side table (``--rows parquet``)
and, in the same run, through the all-RDF path (``--rows rdf``) as the peer; each step's floor
measured in the same run:

- side-store step: raw pyoxigraph ``bulk_load`` of the RDF quads the step wrote (the batch graph:
  provenance and rejected rows; the summary graph) + a raw ``pyarrow.parquet.write_table`` of the
  same rows (zstd, the same row groups), each in its own process (``bench/_scale_steps.py``);
- all-RDF step: raw ``bulk_load`` of the quads it wrote (per-image rows, provenance, summaries).

The table has the scale bench's shape (``bench/_scale_data.py``: 5 rows per image, two presence
calls, an area and a length per side, ARK ids, a confidence per row), one model version, about 22
rows per taxon (10M rows over 450k taxa at full scale); taxa are minted by the load (``--new-taxa``)
so that no taxonomy step sits in the measurement. Each load is a ``traitkg`` CLI command in its
own process (peak RSS from ``wait4``).

Run: ``.venv/bin/python bench/prediction_rows.py --rows 1000000 [--rows 4000000] [--no-rdf]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _scale_data import write_predictions
from _scale_steps import cli, du, floor, graph_list, parquet_floor
from _util import table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1 << 20


def batch_table(d: Path, rows: int, seed: int = 28) -> tuple[Path, int, int]:
    """A table of about ``rows`` predictions (the first model version of a larger draw)."""
    rng = np.random.default_rng(seed)
    n_taxa = max(10, rows // 22)
    species = [f"Benchgenus{i // 12} sp{i % 12}" for i in range(n_taxa)]
    _, path, n = write_predictions(d, species, int(rows / 0.4), rng)[0]
    for p in d.glob("predictions-v*.parquet"):
        if p != path:
            p.unlink()
    return path, n, n_taxa


def _made(d: Path, rows: int) -> tuple[Path, int, int]:
    """:func:`batch_table` in a child process: the draw of a 10M-row batch takes several GB, which
    would otherwise stay with this process beside the loads it measures."""
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); from prediction_rows import batch_table; "
            f"from pathlib import Path; p, n, t = batch_table(Path({str(d)!r}), {rows}); print(json.dumps([str(p), n, t]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    p, n, t = json.loads(out.strip().splitlines()[-1])
    return Path(p), int(n), int(t)


def one(rows: int, work: Path, rdf_peer: bool) -> list[list]:
    d = Path(tempfile.mkdtemp(dir=work, prefix=f"rows{rows}-"))
    t0 = time.perf_counter()
    path, n, n_taxa = _made(d, rows)
    made = time.perf_counter() - t0
    print(f"table: {n:,} rows, {n_taxa:,} taxa, {made:.1f} s", flush=True)
    out = [[f"make the table ({n:,} rows, {n_taxa:,} taxa)", made, float("nan"), float("nan"), 0, 0, 0, path.stat().st_size]]
    modes = ["parquet", "rdf"] if rdf_peer else ["parquet"]
    for mode in modes:
        store = d / f"kg-{mode}"
        sel = f"oxigraph:{store}"
        secs, rss, bar, _ = cli(sel, "load", "predictions", str(path), "--model", "bench", "--model-version", "1",
                                "--rows", mode, "--new-taxa")
        print(f"load --rows {mode}: {secs:.1f} s, peak RSS {rss / MB:,.0f} MB (floor next)", flush=True)
        graphs = graph_list(sel)
        rdf_graphs = [g for g, t in graphs.items() if t > 0 and ("/predictions/" in g or "/prediction-summary/" in g)]
        f_s, f_rss, quads, _ = floor(store, rdf_graphs, d)
        side = [p for p in Path(str(store) + ".tables").rglob("*.parquet")] if mode == "parquet" else []
        side_bytes = sum(p.stat().st_size for p in side)
        if side:
            p_s, p_rows = parquet_floor(side[0], d)
            assert p_rows == n, (p_rows, n)
            f_s += p_s
        out.append([f"load predictions --rows {mode} ({n:,} rows)" + (" [bar]" if bar else ""), secs, f_s, secs / f_s,
                    rss / MB, f_rss / MB, quads, side_bytes])
        out.append([f"  store on disk (--rows {mode})", float("nan"), float("nan"), float("nan"), 0, 0, 0,
                    du(store) + side_bytes])
    shutil.rmtree(d, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, action="append", help="rows of the batch (repeatable; default 200000)")
    ap.add_argument("--no-rdf", action="store_true", help="leave out the all-RDF peer (large batches)")
    ap.add_argument("--work", default=None, help="directory for the stores (default: a temporary one)")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="tkg-rows-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[list] = []
    for n in a.rows or [200_000]:
        rows += one(n, work, not a.no_rdf)
    table("One prediction batch: per-image rows in Parquet vs RDF (same run); floor = raw bulk_load of the RDF quads "
          "the step wrote (+ raw pyarrow write_table of its rows for --rows parquet)",
          ["step", "traitkg s", "floor s", "ratio", "peak RSS MB", "floor RSS MB", "RDF quads", "bytes"], rows)


if __name__ == "__main__":
    main()
