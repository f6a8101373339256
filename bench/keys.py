"""Identification key benchmark: load + validate the 1,140 VicFlora KeyBase keys; generate a key for
the largest Phenoscape matrix; read a key and take an identification step with 1 key loaded and
with 2,280 keys loaded.

Usage: ``.venv/bin/python bench/keys.py [--repeats 3] [--scaling-only]``

Peers measured in the same run:
* parse: pandas ``read_csv`` of every key TSV in the zip (parse only, no validation) against our
  parse (csv module) + KeyBase validation of every key;
* graph write: rdflib parsing the same N-Triples into a Graph (the usual Python RDF path) against
  our whole load (parse, validate, N-Triples, bulk write into a fresh on-disk store, manifest);
* key generation: the same greedy information-gain method written plainly with Python sets
  (what a first implementation does) against ours (bitsets); the two must give the same key size;
* key read and identification step, each from a cold cache (what one CLI call or a fresh server
  pays: find the key, read it, walk), on a store holding only the key's project with that one key,
  and on one holding VicFlora twice under two names (2,280 keys): against raw pyoxigraph asked
  for the same key's leads (graph and key written into the query) on the same store, in the same
  run; the read as it was before it was scoped (the lead query with OPTIONALs) is shown beside.
  The stores are open side by side and measured in turn in each repetition (the machine is shared:
  a change of load then falls on every store alike, and the growth ratios compare like with like).
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
from typing import Any

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


# ----------------------------------------------------------------------------- reads beside many keys

SCALING_KEYS = ("1908", "1903")  # a 2-lead key (genera of Psilotaceae) and the key to the main groups
_TKG = "https://w3id.org/traitkg/schema#"
_BEFORE = f"""PREFIX tkg: <{_TKG}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?g ?cn ?lid ?ord ?st ?to ?tc ?item ?line WHERE {{ GRAPH ?g {{
  ?c tkg:inKey ?k ; tkg:coupletNumber ?cn . ?l tkg:inCouplet ?c ; tkg:leadId ?lid ; tkg:leadOrder ?ord ;
  tkg:statement ?st ; tkg:toText ?to .
  OPTIONAL {{ ?l tkg:leadsTo/tkg:coupletNumber ?tc }}
  OPTIONAL {{ ?l tkg:keysOut/rdfs:label ?item }}
  OPTIONAL {{ ?l tkg:sourceLine ?line }} }} }}"""


def one_key_zip(directory: Path, key_id: str) -> Path:
    """The VicFlora export cut down to one key (same project, so the same key IRI)."""
    out = directory / f"flora-of-victoria-{key_id}.zip"
    with zipfile.ZipFile(VICFLORA) as zf, zipfile.ZipFile(out, "w") as z:
        lines = zf.read("keys.tsv").decode().splitlines(keepends=True)
        row = next(x for x in lines[1:] if x.split("\t", 1)[0] == key_id)
        z.writestr("keys.tsv", lines[0] + row)
        member = row.rstrip("\r\n").split("\t")[-1]
        z.writestr(member, zf.read(member))
        for m in ("items.tsv", "sources.tsv", "project_metadata.yaml"):
            if m in zf.namelist():
                z.writestr(m, zf.read(m))
    return out


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _run(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def measure(cases: list[tuple[str, Path, str]], r: int) -> dict[tuple[str, str], dict[str, float]]:
    """Per (store label, key reference): cold read, cold step, warm step and the lead query as it was
    before (ours), then the raw pyoxigraph peer; the stores are open side by side and measured in
    turn within each repetition, so a change in the machine's load falls on all of them alike."""
    import pyoxigraph as ox

    from kg import KnowledgeGraph
    from kg.core.store import NamedNode
    from kg.keys import Keys

    paths = {label: path for label, path, _ref in cases}
    kgs = {label: KnowledgeGraph.open(f"oxigraph:{p}") for label, p in paths.items()}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    plan = []
    for label, _p, ref in cases:
        g = kgs[label]
        warm = Keys(g.store, {})
        first = warm.identify(ref).leads[0]["id"]  # also the warm-up
        info = warm.info(ref)
        out[(label, ref)] = {"leads": info.leads, "graph": info.graph, "iri": info.iri, "keys": len(g.keys.list()),
                             "triples": sum(x.triples for x in g.graphs() if x.kind == "key"),
                             "read": [], "step": [], "warm": [], "before": [], "peer": []}
        plan.append((out[(label, ref)], g, ref, first, warm))
    for i in range(r):
        for m, g, ref, first, warm in plan:
            m["read"].append(_run(lambda g=g, ref=ref: Keys(g.store, {}).get(ref)))
            m["step"].append(_run(lambda g=g, ref=ref, a=first: Keys(g.store, {}).identify(ref, [a])))
            m["warm"].append(_run(lambda ref=ref, a=first, w=warm: w.identify(ref, [a])))
            if i < 3:
                m["before"].append(_run(lambda g=g, k=m["iri"]: g.store.select(_BEFORE, {"k": NamedNode(k)}).values()))
    for g in kgs.values():
        g.close()
    raw = {label: ox.Store(str(p)) for label, p in paths.items()}  # the peer, on the same files
    queries = []
    for label, _p, ref in cases:
        m = out[(label, ref)]
        q = (f"PREFIX tkg: <{_TKG}> SELECT ?lid ?st ?to WHERE {{ GRAPH <{m['graph']}> {{ ?c tkg:inKey <{m['iri']}> . "
             "?l tkg:inCouplet ?c ; tkg:leadId ?lid ; tkg:statement ?st ; tkg:toText ?to } }")
        list(raw[label].query(q))  # warm-up, as ours had
        queries.append((m, raw[label], q))
    for _ in range(r):
        for m, st, q in queries:
            m["peer"].append(_run(lambda st=st, q=q: list(st.query(q))))
    result = {}
    for key, m in out.items():
        row = {k: m[k] for k in ("leads", "keys", "triples")}
        for what in ("read", "step", "warm", "before", "peer"):
            row[what] = _median([w for w, _c in m[what]])
            row[what + "_cpu"] = _median([c for _w, c in m[what]])
        result[key] = row
    return result


def scaling(r: int) -> None:
    from kg import KnowledgeGraph

    refs = [f"flora-of-victoria/{k}" for k in SCALING_KEYS]
    with tempfile.TemporaryDirectory() as d:
        cases = []
        for k, ref in zip(SCALING_KEYS, refs):  # one store per key, holding that key alone
            p = Path(d) / f"one-{k}"
            g = KnowledgeGraph.open(f"oxigraph:{p}")
            g.load_key(one_key_zip(Path(d), k), name="flora-of-victoria")
            g.close()
            cases.append((f"1 key ({k})", p, ref))
        big = Path(d) / "many"
        g = KnowledgeGraph.open(f"oxigraph:{big}")
        g.load_key(VICFLORA, name="flora-of-victoria")
        g.load_key(VICFLORA, name="flora-of-victoria-copy")
        g.close()
        cases += [("many", big, ref) for ref in refs]
        res = measure(cases, r)
    rows, growth = [], []
    for k, ref in zip(SCALING_KEYS, refs):
        one, many = res[(f"1 key ({k})", ref)], res[("many", ref)]
        for label, m in (("1 key", one), (f"{many['keys']:,} keys", many)):
            rows.append([ref, m["leads"], label, m["triples"], m["read"] * 1e3, m["read_cpu"] * 1e3,
                         m["step"] * 1e3, m["step_cpu"] * 1e3, m["warm"] * 1e3, m["peer"] * 1e3,
                         m["peer_cpu"] * 1e3, m["read_cpu"] / m["peer_cpu"], m["before"] * 1e3])
        growth.append([ref] + [many[x] / one[x] for x in ("read", "read_cpu", "step", "step_cpu", "peer",
                                                          "peer_cpu", "before")])
    table(f"one key read and one identification step, cold cache (find + read + walk), ms, median of {r} "
          "(wall, and CPU of this process; stores measured in turn); peer: raw pyoxigraph query of the key's "
          "leads (graph and key in the query text)",
          ["key", "leads", "loaded", "key triples", "read", "read cpu", "step", "step cpu", "warm step",
           "peer", "peer cpu", "read/peer cpu", "before: lead query (median of 3)"], rows)
    table("growth from 1 key to 2,280 keys (ratio of medians; 1.0 = the same cost)",
          ["key", "read", "read cpu", "step", "step cpu", "peer", "peer cpu", "before: lead query"], growth)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scaling-only", action="store_true", help="Only the key read / step beside many keys.")
    args = ap.parse_args()
    r = args.repeats
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    if args.scaling_only:
        scaling(max(r, 101))
        return

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
    scaling(max(r, 101))
    print(f"\nmachine load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
