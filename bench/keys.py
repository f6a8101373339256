"""Identification key benchmark: load + validate the 1,140 VicFlora KeyBase keys; generate a key for
the largest Phenoscape matrix.

Usage: ``.venv/bin/python bench/keys.py [--repeats 3]``

Peers measured in the same run:
* parse: pandas ``read_csv`` of every key TSV in the zip (parse only, no validation) against our
  parse (csv module) + KeyBase validation of every key;
* graph write: rdflib parsing the same N-Triples into a Graph (the usual Python RDF path) against
  our whole load (parse, validate, N-Triples, bulk write into a fresh on-disk store, manifest);
* key generation: the same greedy information-gain method written plainly with Python sets
  (what a first implementation does) against ours (bitsets); the two must give the same key size.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import tempfile
import time
import zipfile
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._util import SHARED, table  # noqa: E402

VICFLORA = SHARED / "keys" / "keybase" / "flora-of-victoria.zip"
NEXML = SHARED / "phenoscape-data" / "nexml"


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def ours_parse_validate():
    from loaders import keybase
    from loaders.keymodel import problem_counts, validate

    proj = keybase.parse(VICFLORA)
    counts = problem_counts([p for k in proj.keys for p in validate(k)])
    return proj, counts


def pandas_parse():
    import pandas as pd

    n = 0
    with zipfile.ZipFile(VICFLORA) as zf:
        for name in zf.namelist():
            if name.startswith("key-"):
                df = pd.read_csv(io.BytesIO(zf.read(name)), sep="\t", dtype=str, keep_default_na=False)
                n += len(df)
    return n


def ours_load():
    from kg import KnowledgeGraph

    with tempfile.TemporaryDirectory() as d:
        g = KnowledgeGraph.open(f"oxigraph:{d}/store")
        rep = g.load_key(VICFLORA)
        g.close()
    return rep


def rdflib_graph(data: bytes):
    import rdflib

    g = rdflib.Graph()
    g.parse(data=data, format="nt")
    return len(g)


# ----------------------------------------------------------------------------- generation peer

def plain_generate(m):
    """Greedy information-gain splits with Python sets (same rules as kg.keys.generate)."""
    chars = []
    for ch in m.characters:
        per, unknown = {}, set()
        for t in m.taxa:
            st = m.cells.get(t, {}).get(ch)
            if not st:
                unknown.add(t)
            for s in st or ():
                per.setdefault(s, set()).add(t)
        if len(per) >= 2:
            names = sorted(per)
            chars.append((names, [per[s] for s in names], unknown))
    coded = {t for t in m.taxa if any(t in s for _n, sets, _u in chars for s in sets)}
    chars = [(names, sets, unknown & coded) for names, sets, unknown in chars]

    def parts(n):
        if n > 6:
            return [(i,) for i in range(n)]
        return [(0, *rest) for size in range(0, n - 1) for rest in combinations(range(1, n), size)]

    def best(taxa):
        n, top = len(taxa), None
        for names, sets, unknown in chars:
            unk = unknown & taxa
            present = [s & taxa for s in sets]
            if sum(1 for p in present if p) < 2:
                continue
            for side in parts(len(names)):
                left, right = set(unk), set(unk)
                for i, p in enumerate(present):
                    (left if i in side else right).update(p)
                a, b = len(left), len(right)
                if not a or not b or a >= n or b >= n:
                    continue
                g = math.log2(n) - (a / (a + b)) * math.log2(a) - (b / (a + b)) * math.log2(b)
                if top is None or g > top[0] + 1e-12:
                    top = (g, left, right)
        return top

    couplets, leaves, depths = 0, 0, []
    stack = [(coded, 1)]
    while stack:
        taxa, depth = stack.pop()
        split = best(taxa)
        if split is None:
            continue
        couplets += 1
        for side in split[1:]:
            if len(side) > 1 and best(side) is not None:
                stack.append((side, depth + 1))
            else:
                leaves += 1
                depths.append(depth)
    return {"couplets": couplets, "leaves": leaves, "depth": max(depths)}


def largest_matrix():
    from loaders import phenex

    best = None
    for f in sorted(NEXML.glob("*/*.xml")):
        m = phenex.parse(f)
        size = (len(m.cells), len(m.otus) * len(m.characters))
        if best is None or size > best[0]:
            best = (size, f, m)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    r = args.repeats
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")

    t_ours, (proj, counts) = timed(ours_parse_validate, r)
    t_pd, _ = timed(pandas_parse, r)
    leads = sum(len(k.leads) for k in proj.keys)
    t_load, rep = timed(ours_load, r)
    from loaders._key_rdf import keys_ntriples

    data, n_triples = keys_ntriples(proj.name, proj.title, proj.keys)
    t_rdflib, n_rdflib = timed(lambda: rdflib_graph(data), r)
    table(f"VicFlora KeyBase export: {len(proj.keys):,} keys, {leads:,} leads, "
          f"{rep.triples:,} triples; median of {r}",
          ["step", "ours s", "peer", "peer s", "peer/ours"],
          [["parse (+ validate, ours)", t_ours, "pandas read_csv (parse only)", t_pd, t_pd / t_ours],
           ["load + validate into store", t_load, f"rdflib Graph from the N-Triples ({n_rdflib:,})", t_rdflib,
            t_rdflib / t_load]])
    table("problems found in the 1,140 keys (KeyBase's classes)", ["class", "count"],
          [[k, v] for k, v in counts.items()])

    (_, f, pm) = largest_matrix()
    from kg.keys.generate import from_phenex, generate

    m = from_phenex(pm)
    t_gen, gen = timed(lambda: generate(m), r)
    t_plain, plain = timed(lambda: plain_generate(m), r)
    st = gen.stats()
    assert (plain["couplets"], plain["leaves"], plain["depth"]) == (st["couplets"], st["leaves"], st["depth"]), (plain, st)
    table(f"key generated from the largest Phenoscape matrix: {f.relative_to(NEXML)} "
          f"({len(m.taxa)} taxa x {len(m.characters)} characters, {len(pm.cells):,} coded cells); median of {r}",
          ["figure", "value"],
          [[k, v] for k, v in st.items()] + [["ours s (bitsets)", t_gen], ["peer s (Python sets)", t_plain],
                                             ["peer/ours", t_plain / t_gen]])
    print(f"\nmachine load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
