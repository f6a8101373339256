"""What the engine offers for writing a graph, measured: the bulk path (not a transaction: readers
and a crash can see part of it) against one transaction (``Store.extend``) and SPARQL ``INSERT DATA``
updates (each a transaction), for the same N-Triples in a fresh on-disk store; then what a writer's
readers cost: a snapshot (``Store.backup``, hard links) and opening it read-only; and dropping the
graph again. Each write runs in its own process (peak memory is the process's). The peer is the
bulk path, in the same run.

    PYTHONPATH=. .venv/bin/python bench/write_paths.py [--quads 300000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from _util import table

CHILD = r'''
import json, resource, sys, time, tempfile, pathlib
import pyoxigraph as ox
n, how = int(sys.argv[1]), sys.argv[2]
data = "".join(f"<http://x/s{i}> <http://x/p{i % 7}> <http://x/o{i * 31 % 100003}> .\n" for i in range(n)).encode()
d = tempfile.mkdtemp()
st = ox.Store(d)
g = ox.NamedNode("http://x/g")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if how == "bulk_load":
    st.bulk_load(input=data, format=ox.RdfFormat.N_TRIPLES, to_graph=g)
elif how == "extend":
    st.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in ox.parse(data, format=ox.RdfFormat.N_TRIPLES))
else:
    lines = data.decode().splitlines()
    for k in range(0, len(lines), 20000):
        st.update("INSERT DATA { GRAPH <http://x/g> { %s } }" % " ".join(lines[k:k + 20000]))
st.flush()
write = time.perf_counter() - t0
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
out = {"write": write, "peak_mb": peak}
if how == "bulk_load":
    t0 = time.perf_counter(); st.backup(d + ".snap"); out["backup"] = time.perf_counter() - t0
    t0 = time.perf_counter(); r = ox.Store.read_only(d + ".snap"); out["open_ro"] = time.perf_counter() - t0
    t0 = time.perf_counter(); st.remove_graph(g); st.flush(); out["drop"] = time.perf_counter() - t0
print(json.dumps(out))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quads", type=int, default=300_000)
    args = ap.parse_args()
    res = {}
    for how in ("bulk_load", "extend", "insert_data"):
        p = subprocess.run([sys.executable, "-c", CHILD, str(args.quads), how], capture_output=True, text=True,
                           cwd=tempfile.gettempdir())
        if p.returncode != 0:
            raise SystemExit(p.stderr)
        res[how] = json.loads(p.stdout)
    peer = res["bulk_load"]
    rows = [[how, "no" if how == "bulk_load" else "yes", round(r["write"], 2), round(r["write"] / peer["write"], 2),
             round(r["peak_mb"], 1), round(r["peak_mb"] / max(peer["peak_mb"], 1e-9), 2)] for how, r in res.items()]
    table(f"Writing {args.quads:,} quads into one graph of a fresh on-disk store",
          ["path", "transaction", "seconds", "/ bulk", "peak MB", "/ bulk"], rows)
    table("Around it (after the bulk load)", ["step", "seconds"],
          [["snapshot (Store.backup)", round(peer["backup"], 3)], ["open the snapshot read-only", round(peer["open_ro"], 3)],
           ["drop the graph (remove_graph)", round(peer["drop"], 2)]])


if __name__ == "__main__":
    main()
