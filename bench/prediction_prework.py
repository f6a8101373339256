"""The Python side of one prediction batch, without the engine: ``KnowledgeGraph.load_predictions`` of a
table into an in-memory store (taxa minted: ``new_taxa``) with the summary graph's N-Triples made but
not loaded (``kg.predictions.summary.load_chunks`` replaced by a reader of the chunks), in a child
process per run, this checkout and a peer alternating: wall, the main thread's CPU (the table's reads,
checks, linking, spills, side table, summaries and N-Triples) and the process's CPU. The engine's load
of the summary graph is the floor's own work (bench/prediction_step.py); this is what a batch adds to it.

    .venv/bin/python bench/prediction_prework.py --table /work/stores/m01/predictions-v1.0.parquet --peer /work/main
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_RUN = r"""
import json, os, sys, time
t_import = time.perf_counter()
import kg.predictions.summary as S
from kg import KnowledgeGraph
def read(store, chunks, graph, *a, **k):
    return sum(n for _, n in chunks)
S.load_chunks = read
g = KnowledgeGraph.open("oxigraph:")
w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
rep = g.load_predictions(sys.argv[1], model="prework", model_version="1", new_taxa=True, rows="parquet")
print(json.dumps({"wall": time.perf_counter() - w0, "thread_cpu": time.thread_time() - c0,
                  "cpu": time.process_time() - p0, "summary_triples": rep.counts["summary_triples"],
                  "load": os.getloadavg()[0]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", type=Path, required=True)
    ap.add_argument("--peer", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    res: dict[str, list[dict]] = {"this": [], "peer": []}
    for rep in range(args.repeat):
        for who in (("this", "peer") if rep % 2 == 0 else ("peer", "this")):
            checkout = ROOT if who == "this" else args.peer
            with tempfile.TemporaryDirectory(prefix="prework-") as tables:
                env = {**os.environ, "PYTHONPATH": str(checkout), "TRAITKG_TABLES": tables}
                out = subprocess.run([sys.executable, "-c", _RUN, str(args.table)], env=env, cwd=checkout,
                                     capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            res[who].append(r)
            print(f"  {who} run {rep + 1}: wall {r['wall']:.2f} s, main thread CPU {r['thread_cpu']:.2f} s, "
                  f"process CPU {r['cpu']:.2f} s, load avg {r['load']:.1f}", flush=True)
    print(f"\nThe Python side of a prediction batch ({args.table.name}; summary graph made, not loaded), "
          f"{args.repeat} runs each, alternating (medians)")
    print(f"{'run':<32} {'wall s':>8} {'main thread CPU s':>18} {'process CPU s':>14} {'load avg':>9}")
    med = {}
    for who in ("this", "peer"):
        rs = res[who]
        med[who] = {k: statistics.median(r[k] for r in rs) for k in ("wall", "thread_cpu", "cpu", "load")}
        m = med[who]
        label = "this checkout" if who == "this" else f"peer {args.peer}"
        print(f"{label:<32} {m['wall']:8.2f} {m['thread_cpu']:18.2f} {m['cpu']:14.2f} {m['load']:9.1f}")
    print(f"this / peer: wall {med['this']['wall'] / med['peer']['wall']:.2f}, main thread CPU "
          f"{med['this']['thread_cpu'] / med['peer']['thread_cpu']:.2f}, process CPU "
          f"{med['this']['cpu'] / med['peer']['cpu']:.2f}; summary triples "
          f"{res['this'][0]['summary_triples']:,} / {res['peer'][0]['summary_triples']:,}")


if __name__ == "__main__":
    main()
