"""Tree benchmark: traitkg's loaders + array index against ete3, measured in the same run.

Run: ``.venv/bin/python bench/trees.py [--quick] [--skip-disk-1m]``. Figures are medians over the repeats shown;
heavy runs happen in fresh processes (spawn) so that peak memory is theirs alone. The 1M-tip
random tree, the 200,000-deep caterpillar and the 50,000-child polytomy are generated here.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import multiprocessing as mp
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _util import SHARED  # TRAITKG_SHARED_DATA, default ../shared/data (exits with how to set it)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FISH = SHARED / "fishtree" / "actinopt_12k_raxml.tre"


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh process; returns its result (which includes its peak RSS)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


# --------------------------------------------------------------------------- generators

def random_tree_file(n_tips: int, path: Path, seed: int = 1) -> None:
    """A random binary tree (uniform random splits) with random branch lengths, as Newick."""
    import numpy as np

    from loaders.parsed_tree import write_newick

    rng = random.Random(seed)
    parent, names, length = [], [], []
    stack = [(n_tips, -1)]
    tip = 0
    while stack:
        k, p = stack.pop()
        parent.append(p)
        length.append(round(rng.random(), 5))
        if k == 1:
            names.append(f"Genus{tip // 7}_species{tip}")
            tip += 1
            continue
        names.append("")
        me = len(parent) - 1
        a = rng.randint(1, k - 1)
        stack.append((k - a, me))
        stack.append((a, me))
    par = np.asarray(parent)
    size = np.ones(len(par), dtype=np.int64)
    for i in range(len(par) - 1, 0, -1):
        size[par[i]] += size[i]
    path.write_text(write_newick(par, size, names, np.asarray(length)))


def caterpillar(n: int) -> str:
    return "(" * (n - 1) + "t0:1" + "".join(f",t{i}:1):1" for i in range(1, n)) + ";"


def polytomy(n: int) -> str:
    return "(" + ",".join(f"s{i}:1" for i in range(n)) + ");"


# --------------------------------------------------------------------------- child jobs

def job_load(path: str, name: str, store_dir: str | None) -> dict:
    from kg import KnowledgeGraph

    sel = f"oxigraph:{store_dir}" if store_dir else "oxigraph:"
    g = KnowledgeGraph.open(sel)
    t0 = time.perf_counter()
    rep = g.load_tree(path, name=name)
    total = time.perf_counter() - t0
    t = g.tree(name)
    assert t.index.meta["source"] == "built"
    return {"seconds": total, "store_seconds": rep.seconds, "triples": rep.triples, "peak_mb": peak_mb()}


def job_write_nt(path: str, nt: str) -> dict:
    """The tree's CDAO N-Triples into a file (input of the floor, written in its own process)."""
    from loaders.cdao import cdao_ntriples
    from loaders.newick_grammar import parse_newick

    with open(nt, "wb") as fh:
        for chunk in cdao_ntriples(parse_newick(Path(path).read_text()), "floor"):
            fh.write(chunk)
    return {"bytes": Path(nt).stat().st_size}


def job_floor(nt: str, store_dir: str | None) -> dict:
    """The raw pyoxigraph floor: one ``bulk_load`` of the tree's CDAO N-Triples, already in a
    file, into a fresh store (a peer measurement, so pyoxigraph is imported directly)."""
    import pyoxigraph as ox

    store = ox.Store(store_dir) if store_dir else ox.Store()
    t0 = time.perf_counter()
    store.bulk_load(path=nt, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode("https://example.org/g"))
    store.flush()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "triples": len(store), "peak_mb": peak_mb()}


def floor_runs(path: str, tmp: Path, store_dirs: list[str | None]) -> list[dict]:
    nt = tmp / f"{Path(path).stem}.nt"
    in_child(job_write_nt, path, str(nt))
    try:
        return [in_child(job_floor, str(nt), d) for d in store_dirs]
    finally:
        nt.unlink()


def load_avg() -> str:
    return "load %.1f" % os.getloadavg()[0]


def job_parse_index(path: str) -> dict:
    from kg.treeindex import TreeIndex
    from loaders.newick_grammar import parse_newick

    text = Path(path).read_text()
    t0 = time.perf_counter()
    ix = TreeIndex.from_parsed(parse_newick(text))
    ix._labels()
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb(), "tips": ix.n_tips}


def job_queries(path: str, k_mrca: int, k_induced: int, seed: int) -> dict:
    from kg.treeindex import TreeIndex
    from loaders.newick_grammar import parse_newick

    ix = TreeIndex.from_parsed(parse_newick(Path(path).read_text()))
    ix._labels()
    tips = [ix.names[i] for i in ix.tips.tolist()]
    rng = random.Random(seed)
    sets = [rng.sample(tips, k_mrca) for _ in range(20)]
    it = iter(sets * 3)
    mrca = median_time(lambda: ix.mrca(ix.ids(next(it))), 20)
    fresh = [[(nm + " ")[:-1] for nm in one] for one in sets]  # equal strings, new objects (as from a request)
    it2 = iter(fresh * 3)
    mrca_fresh = median_time(lambda: ix.mrca(ix.ids(next(it2))), 20)
    big = rng.sample(tips, k_induced)
    induced = median_time(lambda: ix.induced_newick(ix.ids(big)), 5)
    answers = [sorted(ix.names[i] for i in ix.tips_below(ix.mrca(ix.ids(s))))[:3] for s in sets[:3]]
    return {"mrca": mrca, "mrca_fresh": mrca_fresh, "induced": induced, "answers": answers}


def job_ete(path: str, k_mrca: int, seed: int, induced_k: int | None) -> dict:
    from ete3 import Tree

    t0 = time.perf_counter()
    try:
        t = Tree(Path(path).read_text(), format=1)
    except RecursionError as exc:
        return {"error": f"RecursionError: {exc}"[:80], "peak_mb": peak_mb()}
    parse = time.perf_counter() - t0
    out = {"parse": parse, "peak_mb": peak_mb()}
    tips = t.get_leaf_names()
    rng = random.Random(seed)
    sets = [rng.sample(tips, k_mrca) for _ in range(20)]
    it = iter(sets)
    try:
        out["mrca"] = median_time(lambda: t.get_common_ancestor(*next(it)), 3)
        out["answers"] = [sorted(t.get_common_ancestor(*s).get_leaf_names())[:3] for s in sets[:3]]
    except RecursionError as exc:
        out["mrca_error"] = f"RecursionError: {exc}"[:80]
    if induced_k:
        sub = rng.sample(tips, induced_k)

        def prune():
            c = t.copy()
            c.prune(sub, preserve_branch_length=True)

        out["induced"] = median_time(prune, 3)
    return out


def job_shapes(text_kind: str, n: int) -> dict:
    from ete3 import Tree

    from kg.treeindex import TreeIndex
    from loaders.newick_grammar import parse_newick
    from loaders.parsed_tree import to_newick

    text = caterpillar(n) if text_kind == "caterpillar" else polytomy(n)
    t0 = time.perf_counter()
    parsed = parse_newick(text)
    ix = TreeIndex.from_parsed(parsed)
    ours_parse = time.perf_counter() - t0
    names = ["t0", "t1", f"t{n - 1}"] if text_kind == "caterpillar" else ["s0", "s1", f"s{n - 1}"]
    ours_mrca = median_time(lambda: ix.mrca(ix.ids(names)), 20)
    ours_write = median_time(lambda: to_newick(parsed), 1)
    out = {"ours_parse": ours_parse, "ours_mrca": ours_mrca, "ours_write": ours_write}
    sys.setrecursionlimit(10_000)
    try:
        t0 = time.perf_counter()
        et = Tree(text, format=1)
        out["ete_parse"] = time.perf_counter() - t0
        out["ete_mrca"] = median_time(lambda: et.get_common_ancestor(*names), 3)
        t0 = time.perf_counter()
        et.write(format=1)
        out["ete_write"] = time.perf_counter() - t0
    except RecursionError as exc:
        out["ete_error"] = f"RecursionError ({str(exc)[:40]})"
    return out


def job_resolve(n_names: int) -> dict:
    from kg import KnowledgeGraph

    g = KnowledgeGraph.open("oxigraph:")
    g.load_taxonomy(SHARED / "fishtree" / "PFC_short_classification.csv", name="pfc")
    g.load_tree(FISH, name="fishtree")
    species = []
    with open(SHARED / "fishtree" / "PFC_short_classification.csv") as fh:
        species = [r["genus.species"] for r in csv.DictReader(fh)]
    names = random.Random(3).sample(species, n_names)
    t0 = time.perf_counter()
    g.resolve(["Danio rerio"])
    build = time.perf_counter() - t0
    times, res = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        res = g.resolve(names)
        times.append(time.perf_counter() - t0)
    matched = sum(m.status == "matched" for m in res)
    # Phenoscape taxa against the fish tree
    with gzip.open(SHARED / "phenoscape-data" / "derived" / "phenoscape_eq_flat_shared.tsv.gz", "rt") as fh:
        taxa = sorted({(r["taxon_label"].strip(), r["vto_id"]) for r in csv.DictReader(fh, delimiter="\t")})
    labels = [lab for lab, _ in taxa]
    got = g.resolve(labels, tree="fishtree")
    by: dict[str, int] = {}
    for m in got:
        key = m.status if m.status in ("unmatched", "ambiguous") else f"{m.status}/{m.method}"
        by[key] = by.get(key, 0) + 1
    words = [len(lab.replace("_", " ").split()) for lab in labels]
    binom = [m for m, w in zip(got, words) if w == 2 and not m.name.rstrip(".").endswith(" sp")]
    exact_binom = sum(m.status == "matched" and m.method == "exact" for m in binom)
    return {"build": build, "resolve": statistics.median(times), "matched": matched, "n": n_names,
            "pheno_total": len(taxa), "pheno_by": by, "pheno_binomials": len(binom),
            "pheno_binomial_exact": exact_binom}


# --------------------------------------------------------------------------- report

def row(what: str, ours: str, peer: str, ratio: str, target: str) -> None:
    print(f"| {what} | {ours} | {peer} | {ratio} | {target} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100k tips instead of 1M; caterpillar 20k")
    ap.add_argument("--skip-disk-1m", action="store_true", help="skip the 1M-tip load into an on-disk store")
    ap.add_argument("--disk-runs", type=int, default=3, help="runs of the 1M-tip on-disk load (median reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="traitkg-bench-", ignore_cleanup_errors=True) as tmp:
        run(args, Path(tmp))  # stores of a GB or two: removed however the run ends


def run(args: argparse.Namespace, tmp: Path) -> None:
    n_big = 100_000 if args.quick else 1_000_000
    n_cat = 20_000 if args.quick else 200_000
    print(f"# traitkg tree benchmark (ete3 in the same run); python {sys.version.split()[0]}; tmp {tmp}; "
          f"{os.cpu_count()} CPUs, {load_avg()} at the start\n")
    print("| measure | traitkg | ete3 | ete3 / traitkg | target |")
    print("|---|---|---|---|---|")

    fish_load = [in_child(job_load, str(FISH), "fishtree", str(tmp / f"fish{i}")) for i in range(3)]
    fish_pi = [in_child(job_parse_index, str(FISH)) for _ in range(3)]
    fish_ete = in_child(job_ete, str(FISH), 100, 1, 1000)
    fl = statistics.median(r["seconds"] for r in fish_load)
    row("Fish tree (11,638 tips): load into on-disk store + index, s (median of 3)", f"{fl:.2f}",
        f"{fish_ete['parse']:.2f} (parse only)", f"{fish_ete['parse'] / fl:.2f}x", "<= 2 s")
    fish_floor = floor_runs(str(FISH), tmp, [str(tmp / f"fishfloor{i}") for i in range(3)])
    ff = statistics.median(r["seconds"] for r in fish_floor)
    row(f"Fish tree: raw pyoxigraph bulk_load of its {fish_floor[0]['triples']:,} N-Triples on disk "
        "(floor, median of 3), s", f"{fl:.2f} (ours, all in)", f"{ff:.2f} (floor)", f"{ff / fl:.2f}x", "")
    fp = statistics.median(r["seconds"] for r in fish_pi)
    row("Fish tree: parse + index only, s", f"{fp:.3f}", f"{fish_ete['parse']:.3f}", f"{fish_ete['parse'] / fp:.1f}x", "")
    fq = in_child(job_queries, str(FISH), 100, 1000, 1)
    row("Fish tree: MRCA of 100 named tips, ms", f"{fq['mrca'] * 1e3:.3f}", f"{fish_ete['mrca'] * 1e3:.1f}",
        f"{fish_ete['mrca'] / fq['mrca']:.0f}x", "")
    row("Fish tree: induced subtree of 1,000 tips, ms", f"{fq['induced'] * 1e3:.1f}",
        f"{fish_ete['induced'] * 1e3:.1f} (copy+prune)", f"{fish_ete['induced'] / fq['induced']:.0f}x", "")
    assert fq["answers"] == fish_ete["answers"], "MRCA answers differ from ete3"

    big = tmp / "big.nwk"
    t0 = time.perf_counter()
    random_tree_file(n_big, big)
    print(f"\n(generated a {n_big:,}-tip random tree in {time.perf_counter() - t0:.1f} s, "
          f"{big.stat().st_size / 1e6:.0f} MB Newick)\n")
    print("| measure | traitkg | ete3 | ete3 / traitkg | target |")
    print("|---|---|---|---|---|")
    pi = in_child(job_parse_index, str(big))
    be = in_child(job_ete, str(big), 1000, 2, None)
    row(f"{n_big:,} tips: parse + index (+ name map), s / peak MB", f"{pi['seconds']:.1f} / {pi['peak_mb']:.0f}",
        f"{be['parse']:.1f} / {be['peak_mb']:.0f} (parse)", f"{be['parse'] / pi['seconds']:.1f}x", "")
    mem = in_child(job_load, str(big), "big", None)
    row(f"{n_big:,} tips: load into in-memory store ({mem['triples']:,} triples) + index, s / peak MB "
        f"({load_avg()})", f"{mem['seconds']:.1f} / {mem['peak_mb']:.0f}", "-", "-", "<= 60 s, <= 2 GB")
    disk = None
    if not args.skip_disk_1m:
        runs = []
        for i in range(args.disk_runs):  # the target row: a median, each run in a fresh process and store
            runs.append(in_child(job_load, str(big), "big", str(tmp / f"bigstore{i}")))
            shutil.rmtree(tmp / f"bigstore{i}", ignore_errors=True)
        disk = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        each = ", ".join(f"{r['seconds']:.1f} s / {r['peak_mb']:.0f} MB" for r in runs)
        row(f"{n_big:,} tips: load into on-disk store (the default) + index, s / peak MB, median of {len(runs)} "
            f"[{each}] ({load_avg()})", f"{disk['seconds']:.1f} / {max(r['peak_mb'] for r in runs):.0f} (worst)",
            "-", "-", "<= 60 s, <= 2 GB")
    floors = floor_runs(str(big), tmp, [None] + ([] if args.skip_disk_1m else [str(tmp / "bigfloor")]))
    fm = floors[0]
    row(f"{n_big:,} tips: raw pyoxigraph bulk_load of its {fm['triples']:,} N-Triples, in memory (floor), "
        f"s / peak MB ({load_avg()})", f"{mem['seconds']:.1f} / {mem['peak_mb']:.0f} (ours, all in)",
        f"{fm['seconds']:.1f} / {fm['peak_mb']:.0f} (floor)", f"{fm['seconds'] / mem['seconds']:.2f}x", "")
    if disk is not None:
        fd = floors[1]
        row(f"{n_big:,} tips: raw pyoxigraph bulk_load of the same N-Triples on disk (floor), s / peak MB "
            f"({load_avg()})", f"{disk['seconds']:.1f} / {disk['peak_mb']:.0f} (ours, all in)",
            f"{fd['seconds']:.1f} / {fd['peak_mb']:.0f} (floor)", f"{fd['seconds'] / disk['seconds']:.2f}x", "")
        shutil.rmtree(tmp / "bigfloor", ignore_errors=True)
    bq = in_child(job_queries, str(big), 1000, 10_000, 2)
    row(f"{n_big:,} tips: MRCA of 1,000 named tips, ms (index built)", f"{bq['mrca'] * 1e3:.3f}",
        f"{be['mrca'] * 1e3:.0f}", f"{be['mrca'] / bq['mrca']:.0f}x", "<= 1 ms, >= 100x")
    row(f"{n_big:,} tips: the same MRCA with the names as new string objects (as parsed from a request), ms",
        f"{bq['mrca_fresh'] * 1e3:.3f}", f"{be['mrca'] * 1e3:.0f}", f"{be['mrca'] / bq['mrca_fresh']:.0f}x", "")
    row(f"{n_big:,} tips: induced subtree of 10,000 tips, ms", f"{bq['induced'] * 1e3:.1f}", "-", "-", "<= 200 ms")
    assert bq["answers"] == be["answers"], "MRCA answers differ from ete3"

    print()
    print("| shape | traitkg parse+index s | traitkg MRCA ms | traitkg write s | ete3 parse s | ete3 MRCA ms | ete3 write s |")
    print("|---|---|---|---|---|---|---|")
    for kind, n in (("caterpillar", n_cat), ("polytomy", 50_000)):
        r = in_child(job_shapes, kind, n)
        ete = (r["ete_error"], "-", "-") if "ete_error" in r else (
            f"{r['ete_parse']:.2f}", f"{r['ete_mrca'] * 1e3:.2f}", f"{r['ete_write']:.2f}")
        print(f"| {kind} {n:,} | {r['ours_parse']:.2f} | {r['ours_mrca'] * 1e3:.3f} | {r['ours_write']:.2f} | "
              f"{ete[0]} | {ete[1]} | {ete[2]} |")

    rs = in_child(job_resolve, 10_000)
    print()
    print("| name resolution | traitkg | peer | target |")
    print("|---|---|---|---|")
    print(f"| resolver build over PFC taxonomy (36,899 taxa) + fish tree tips, s | {rs['build']:.2f} | - | |")
    print(f"| resolve 10,000 exact PFC species names, s (median of 3) | {rs['resolve']:.3f} "
          f"({rs['matched']:,} matched) | - (ete3 has no resolver) | <= 2 s |")
    print(f"\nPhenoscape taxa (distinct label, VTO id: {rs['pheno_total']}) resolved against the fish tree's tips:")
    for k, v in sorted(rs["pheno_by"].items(), key=lambda kv: -kv[1]):
        print(f"  {k:28s} {v:5d}")
    print(f"  binomial labels: {rs['pheno_binomials']}, exact tips: {rs['pheno_binomial_exact']} "
          "(data README: 848 of 1,999)")
    print(f"\n({load_avg()} at the end; 1-minute load average of the machine, which others share)")


if __name__ == "__main__":
    main()
