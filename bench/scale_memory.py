"""Where `load predictions` memory goes: one batch of the scale bench's shape (5 rows per image,
ARK ids, a length per side) loaded step by step in one process through the same functions the
loader calls, with the process's RSS (and peak) after each step and the frame's own size.

Run: ``.venv/bin/python bench/scale_memory.py [--rows 200000] [--taxa 20000]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from _scale_data import write_predictions, write_taxonomy
from _util import table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1 << 20


def rss() -> tuple[float, float]:
    cur = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) * 1024
    return cur / MB, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--taxa", type=int, default=20_000)
    a = ap.parse_args()
    from kg import KnowledgeGraph
    from kg.core.bulk import gc_paused, load_chunks
    from kg.predictions.linking import link
    from kg.predictions.summary import summarise
    from loaders import predictions as loader

    rows = []
    with tempfile.TemporaryDirectory(prefix="tkg-mem-") as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(28)
        species = [f"Memgenus{i // 10} sp{i % 10}" for i in range(a.taxa)]
        write_taxonomy(d / "taxa.csv", [("Memiformes", "Memidae", s.split()[0], s) for s in species])
        (_, path, n), = write_predictions(d, species, a.rows, rng)[:1]
        g = KnowledgeGraph.open(f"oxigraph:{d / 'kg'}")
        g.load_taxonomy(d / "taxa.csv")
        rows.append(["start (store open, taxonomy loaded)", *rss(), 0.0, ""])
        t0 = time.perf_counter()
        tb = loader.parse(path)
        df = tb.frame
        rows.append([f"parse + check ({n:,} rows)", *rss(), time.perf_counter() - t0,
                     f"frame {df.memory_usage(deep=True).sum() / MB:,.0f} MB, {len(df.columns)} columns"])
        t0 = time.perf_counter()
        lk = link(g.store, df)
        loader.link_rows(tb, lk.taxa, lk.traits)
        rows.append(["link taxa and traits", *rss(), time.perf_counter() - t0,
                     f"frame {tb.frame.memory_usage(deep=True).sum() / MB:,.0f} MB"])
        df = tb.frame.reset_index(drop=True)
        df["k"] = df.groupby("row").cumcount()
        t0 = time.perf_counter()
        with gc_paused():
            load_chunks(g.store, loader.prediction_ntriples(df, "https://w3id.org/traitkg/prediction/m/1/", tb.kinds),
                        "https://w3id.org/traitkg/graph/predictions/m/1")
        rows.append(["N-Triples chunks into the store (bulk path)", *rss(), time.perf_counter() - t0, ""])
        t0 = time.perf_counter()
        summarise(df, tb.kinds)
        rows.append(["taxon summaries (pandas)", *rss(), time.perf_counter() - t0, ""])
        per_col = df.memory_usage(deep=True).sort_values(ascending=False)
        g.close()
    table(f"Memory of one prediction batch: {n:,} rows (the first model version of {a.rows:,}), {a.taxa:,} taxa, "
          "RSS of this process",
          ["after step", "RSS MB", "peak MB", "seconds", "note"], rows)
    table("The frame's columns (deep bytes per row)", ["column", "MB", "bytes/row"],
          [[c, v / MB, v / len(df)] for c, v in per_col.items() if v > 0][:12])


if __name__ == "__main__":
    main()
