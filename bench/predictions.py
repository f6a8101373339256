"""Prediction benchmark: 1,000,000 synthetic prediction rows loaded through traitkg (parse, check,
link, N-Triples, bulk load, taxon summaries) against the floor of a raw pyoxigraph ``bulk_load``
of the same N-Triples; a taxon's summary from the store against a pandas groupby on the table.

Run: ``.venv/bin/python bench/predictions.py [--rows 1000000] [--taxa 2000] [--memory]``.
Targets (issue 14): load <= 60 s, per-taxon summary <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._util import table  # noqa: E402


def write_inputs(d: Path, rows: int, n_taxa: int, seed: int = 7) -> tuple[Path, Path, list[str]]:
    """A taxonomy of ``n_taxa`` species and a prediction table: half the rows a length (cm, some
    in mm), half a presence/absence call, two traits per image."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    species = [f"Genus{i // 10} species{i % 10}" for i in range(n_taxa)]
    tax = d / "taxa.csv"
    pd.DataFrame({"family": "Benchidae", "genus": [s.split()[0] for s in species], "species": species}).to_csv(
        tax, index=False)
    n_img = rows // 2
    img_taxon = rng.integers(0, n_taxa, n_img)
    length = rng.normal(5 + img_taxon % 7, 0.5)
    in_mm = rng.random(n_img) < 0.1
    ids = np.char.add("ark:/89609/bench/img", np.arange(n_img).astype(str))
    taxa = np.array(species, dtype=object)[img_taxon]
    a = pd.DataFrame({"image_id": ids, "taxon": taxa, "trait": "PATO:0000122",
                      "value": np.where(in_mm, length * 10, length).round(4).astype(str),
                      "confidence": rng.random(n_img).round(3).astype(str), "unit": np.where(in_mm, "mm", "cm")})
    b = pd.DataFrame({"image_id": ids, "taxon": taxa, "trait": "UBERON:2000251",
                      "value": np.where(rng.random(n_img) < 0.7, "present", "absent"),
                      "confidence": rng.random(n_img).round(3).astype(str), "unit": ""})
    table_path = d / "predictions.csv"
    pd.concat([a, b]).to_csv(table_path, index=False)
    return tax, table_path, species


def run(rows: int, n_taxa: int, memory: bool, probes: int) -> None:
    import pandas as pd
    import pyoxigraph

    from kg import KnowledgeGraph

    with tempfile.TemporaryDirectory(prefix="tkg-bench-pred-") as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        tax, path, species = write_inputs(d, rows, n_taxa)
        gen = time.perf_counter() - t0
        size = path.stat().st_size
        g = KnowledgeGraph.open("oxigraph:" if memory else f"oxigraph:{d / 'store'}")
        g.load_taxonomy(tax)
        t0 = time.perf_counter()
        rep = g.load_predictions(path, model="bench-net", model_version="1")
        t_load = time.perf_counter() - t0
        n_triples = rep.triples
        # the floor: the same batch graph (N-Quads as the store dumps it), bulk-loaded by pyoxigraph itself
        nq = d / "batch.nq"
        with open(nq, "wb") as fh:
            g.store.dump_graph(rep.graph, fh)
        raw = pyoxigraph.Store() if memory else pyoxigraph.Store(str(d / "raw"))
        t0 = time.perf_counter()
        raw.bulk_load(path=str(nq), format=pyoxigraph.RdfFormat.N_QUADS)
        raw.flush()
        t_raw = time.perf_counter() - t0
        del raw
        # per-taxon summary from the store vs pandas on the table
        rnd = random.Random(3)
        picks = [rnd.choice(species) for _ in range(probes)]
        p = g.predictions
        p.summary(picks[0])  # warm: manifest and query plan
        times = []
        for s in picks:
            t0 = time.perf_counter()
            out = p.summary(s)
            times.append(time.perf_counter() - t0)
            assert out, s
        t_sum = statistics.median(times)
        df = pd.read_csv(path, dtype={"value": str}, keep_default_na=False)
        df["num"] = pd.to_numeric(df["value"], errors="coerce") * df["unit"].map({"cm": 1.0, "mm": 0.1, "": 1.0})
        pt = []
        for s in picks:
            t0 = time.perf_counter()
            sub = df[df["taxon"] == s]
            sub[sub["trait"] == "PATO:0000122"]["num"].agg(["size", "mean", "std", "min", "median", "max"])
            sub[sub["trait"] == "UBERON:2000251"]["value"].value_counts()
            pt.append(time.perf_counter() - t0)
        t_pd = statistics.median(pt)
        t0 = time.perf_counter()
        df.groupby(["taxon", "trait"])["num"].agg(["size", "mean", "std", "min", "median", "max"])
        t_pd_all = time.perf_counter() - t0
        phases = _phases(g, path)
        g.close()
        store = "in memory" if memory else "on disk"
        table(f"Predictions: {rows:,} rows ({size / 1e6:.0f} MB CSV, {n_taxa:,} taxa, {n_triples:,} triples), "
              f"store {store}, load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (inputs made in {gen:.1f} s)",
              ["step", "traitkg (s)", "peer (s)", "ratio", "peer"],
              [[f"load {rows:,} rows (parse, check, link, write, summaries)", t_load, t_raw, t_load / t_raw,
                "pyoxigraph bulk_load of the batch's quads"],
               [f"per-taxon summary (median of {probes})", t_sum, t_pd, t_sum / t_pd,
                "pandas filter + agg on the in-memory table"],
               ["all taxa summarised (pandas groupby, for scale)", float("nan"), t_pd_all, float("nan"),
                "pandas groupby of all taxa"]])
        table("Where the load's time goes (the same table again, steps timed one by one, no store write)",
              ["step", "seconds"], [[k, v] for k, v in phases.items()])
        print(f"load {'within' if t_load <= 60 else 'OVER'} 60 s; summary {'within' if t_sum <= 0.1 else 'OVER'} 100 ms")


def _phases(g, path: Path) -> dict[str, float]:
    from kg.predictions.linking import link
    from kg.predictions.summary import summarise
    from loaders import predictions as loader

    out = {}
    t0 = time.perf_counter()
    tb = loader.parse(path)
    out["read + check (pandas)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lk = link(g.store, tb.frame)
    loader.link_rows(tb, lk.taxa, lk.traits)
    out["link taxa and traits"] = time.perf_counter() - t0
    df = tb.frame
    df["k"] = 0
    t0 = time.perf_counter()
    for _chunk in loader.prediction_ntriples(df, "https://w3id.org/traitkg/prediction/b/1/", tb.kinds):
        pass
    out["build N-Triples"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    summarise(df, tb.kinds)
    out["taxon summaries (pandas)"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--taxa", type=int, default=2000)
    ap.add_argument("--probes", type=int, default=50)
    ap.add_argument("--memory", action="store_true", help="in-memory stores instead of on disk")
    a = ap.parse_args()
    run(a.rows, a.taxa, a.memory, a.probes)


if __name__ == "__main__":
    main()
