"""Imageomics-scale build: a seeded KG with the shape of the users' data, built through the public
CLI exactly as a user would, every step timed beside the engine's floor.

Full scale (``--fraction 1``): a 2.4M-tip tree with a taxonomy, 10M prediction rows over 450k taxa
(5 rows per image: two presence calls, an area, a length per side; ARK image ids; 3 model
versions), the shared Phenoscape matrices and PATO + BSPO + ZFA + UBERON with the closure
(bench/_scale_data.py makes the inputs). ``--fraction`` scales tree tips, taxa and rows.

Each step is a `traitkg` command in its own process: its wall time, its peak RSS (``wait4``), and
whether it drew a progress bar (stderr is a terminal, as for a user). The floor of a step is a raw
pyoxigraph ``bulk_load`` of the quads the step wrote (the graphs it made or changed, as stored
right after it: an ontology load rewrites the closure, which the next one rewrites again) into a
fresh on-disk store, in its own process, measured for every step right after it (its time is not
a step's). The whole build is the sum of the traitkg steps' times (not the bench's wall time,
which also holds the floors and copies) against the floor of the whole store's quads. Then
`traitkg export` against a raw ``Store.dump`` of the same store, right after it, the queries
(bench/_scale_queries.py), and the service start on the built store (``serve --warm --workers 2``,
twice: the first right after the build, the second on the files it left). The build's last step
is ``traitkg index`` (its own row, in the whole build's time): it writes every index file a start
reads, so the first start reads them too (without it, ``--steps`` lacking ``index``, the first start
writes the missing ones).

Run: ``.venv/bin/python bench/scale.py --fraction 0.01 [--workdir DIR] [--keep DIR] [--steps LIST]
[--json FILE]``; ``--keep DIR`` leaves the build in DIR (``DIR/kg``, ``DIR/species.txt``,
``DIR/predicted.txt``) for bench/scale_http.py; ``--steps`` runs a subset (see ``--help``).
Targets (issue 28): build <= 1.3x floor, peak RSS <= 8 GB; summary <= 50 ms, taxa-with <= 100 ms,
MRCA of 1,000 tips <= 5 ms, induced subtree of 10,000 tips <= 300 ms, service start <= 10 s,
export <= 1.5x dump.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _scale_data import MODEL_VERSIONS, make_inputs, sizes
from _scale_steps import (
    EXE,
    FLOOR_COMPRESSION,
    FLOOR_DUMP_S,
    PY,
    Step,
    cli,
    du,
    floor,
    graph_list,
    parquet_floor,
    raw_dump,
    sst_compression,
    warm_bytecode,
)
from _util import SHARED, table

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGIES = ["pato/pato.obo", "bspo/bspo.obo", "zfa/zfa.obo", "uberon/uberon-2015-05-25.owl.gz"]
MB = 1 << 20
BUILD_STEPS = ("ontologies", "taxonomy", "tree", "predictions", "phenotypes", "index")
AFTER_STEPS = ("export", "queries", "start")


def build(work: Path, fraction: float, seed: int, reuse: Path | None = None,
          save: Path | None = None, wanted: frozenset[str] = frozenset(BUILD_STEPS),
          prediction_fraction: float | None = None,
          versions: frozenset[str] | None = None) -> tuple[list[Step], Path, object]:
    store_dir = work / "kg"
    sel = f"oxigraph:{store_dir}"
    steps: list[Step] = []
    warm_bytecode(ROOT)
    t0 = time.perf_counter()
    inp = make_inputs(work, fraction, SHARED, seed, prediction_fraction)
    steps.append(Step("make inputs (seeded)", time.perf_counter() - t0, 0, False, ""))
    print(f"inputs: {inp.tips:,} tips, {inp.taxa:,} predicted taxa, {inp.rows:,} rows "
          f"({', '.join(f'v{v}: {n:,}' for v, _, n in inp.tables)}) in {steps[0].seconds:.1f} s", flush=True)
    before: dict[str, int] = {}

    def step(name: str, *args: str, side: Path | None = None) -> None:
        """One CLI step and its floor; ``side``: the Parquet side table the step may write (its
        raw pyarrow write of the same rows is then part of the floor)."""
        nonlocal before
        dt, rss, bar, out = cli(sel, *args)
        after = graph_list(sel)
        changed = [g for g, n in after.items() if before.get(g) != n and "/graph/manifest" not in g]
        before = after
        steps.append(Step(name, dt, rss, bar, out, changed))
        st = steps[-1]
        # the floor right away, of the graphs as this step left them (the build's timings are unaffected)
        st.floor_s, st.floor_rss, st.quads, _ = floor(store_dir, st.graphs, work)
        dump_s = FLOOR_DUMP_S[0]
        if side is not None and side.is_file():
            st.floor_s += parquet_floor(side, work)[0]
        print(f"  {name}: {dt:.1f} s, peak RSS {rss / MB:,.0f} MB, bar {'yes' if bar else 'no'}; floor "
              f"{st.floor_s:.1f} s ({st.seconds / max(st.floor_s, 1e-9):.2f}x), {st.floor_rss / MB:,.0f} MB, {st.quads:,} quads "
              f"(its graphs' dump before it, untimed: {dump_s:.1f} s); load avg {os.getloadavg()[0]:.1f}",
              flush=True)

    if "ontologies" in wanted and reuse is not None and (reuse / "steps.json").is_file():
        # the ontology steps do not depend on the fraction: a store saved after them by an earlier
        # run (--save-ontology-store) is copied in, and that run's figures are reported
        shutil.copytree(reuse / "kg", store_dir)
        for d in json.loads((reuse / "steps.json").read_text()):
            steps.append(Step(d["name"] + " [reused]", d["seconds"], d["rss"], d["bar"], "", d["graphs"],
                              d.get("floor_s", float("nan")), d.get("floor_rss", 0), d.get("quads", 0)))
        before = graph_list(sel)
        print(f"  ontology steps reused from {reuse}", flush=True)
    elif "ontologies" in wanted:
        for f in ONTOLOGIES:
            step(f"load ontology {Path(f).name} (+ closure)", "load", "ontology", str(SHARED / f), "--lenient")
        if save is not None:
            shutil.rmtree(save, ignore_errors=True)
            shutil.copytree(store_dir, save / "kg")
            (save / "steps.json").write_text(json.dumps([{k: v for k, v in s.__dict__.items() if k != "stdout"}
                                                         for s in steps[1:]]))
    if "taxonomy" in wanted:
        step(f"load taxonomy ({inp.tips:,} species)", "load", "taxonomy", str(inp.taxonomy), "--name", "scale-taxonomy")
    if "tree" in wanted:
        step(f"load tree ({inp.tips:,} tips)", "load", "tree", str(inp.tree), "--format", "newick", "--name", "scale")
    if "predictions" in wanted:
        for ver, path, n in inp.tables:
            if versions is not None and ver not in versions:
                continue
            step(f"load predictions v{ver} ({n:,} rows)", "load", "predictions", str(path), "--model",
                 "bioclip-traits", "--model-version", ver,
                 side=Path(f"{store_dir}.tables") / "predictions" / "bioclip-traits" / f"{ver}.parquet")
    if "phenotypes" in wanted:
        step("load phenotypes (Phenoscape, 47 matrices, + inference)", "load", "phenotypes",
             str(SHARED / "phenoscape-data" / "nexml"), "--lenient")
    if "index" in wanted:
        # the build's last step: every index file a server start reads (it writes no graph: no floor)
        dt, rss, bar, out = cli(sel, "index")
        steps.append(Step("index files (traitkg index: what a server start reads)", dt, rss, bar, out))
        print(f"  index files: {dt:.1f} s, peak RSS {rss / MB:,.0f} MB, bar {'yes' if bar else 'no'}; "
              f"{out.strip().splitlines()[-1] if out.strip() else ''}", flush=True)
    return steps, store_dir, inp


START_WORKERS = 2  # as the service bench starts it


def service_start(store_dir: Path, tree_tips: list[str], workers: int = START_WORKERS,
                  timeout: float = 900.0) -> dict[str, float]:
    """Seconds from `traitkg serve --warm --workers N` to the first /ping answer, then the first MRCA
    request; ``cpu``: the CPU seconds of the whole service run (parent and workers, start to stop).
    A service with no /ping answer after ``timeout`` seconds is stopped and reported as failed."""
    import resource

    import httpx
    from _api_port import free_port

    def children_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for descendants: the workers too
        return ru.ru_utime + ru.ru_stime

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen([EXE, "--store", f"oxigraph:{store_dir}", "serve", "--port", str(port), "--warm",
                             "--workers", str(workers), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()[-2000:])
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"no /ping answer after {timeout:.0f} s (stopped)")
            try:
                if httpx.get(f"{base}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        ready = time.perf_counter() - t0
        t1 = time.perf_counter()
        r = httpx.post(f"{base}/api/v1/trees/scale/mrca", json={"ids": tree_tips[:4]}, timeout=60)
        first = time.perf_counter() - t1
        assert r.status_code == 200, r.text[:300]
        t1 = time.perf_counter()
        httpx.post(f"{base}/api/v1/trees/scale/mrca", json={"ids": tree_tips[4:8]}, timeout=60)
        second = time.perf_counter() - t1
    finally:
        proc.terminate()
        proc.wait(60)
    return {"ready": ready, "first mrca": first, "second mrca": second, "cpu": children_cpu() - cpu0,
            "workers": workers}


def _store_quads(store_dir: Path) -> int:
    """Quads in the store, by the manifest (the sum of its graphs' triples)."""
    return sum(graph_list(f"oxigraph:{store_dir}").values())


def _steps_arg(text: str) -> frozenset[str]:
    names = {t.strip() for t in text.split(",") if t.strip()}
    bad = names - set(BUILD_STEPS) - set(AFTER_STEPS)
    if bad:
        raise argparse.ArgumentTypeError(f"unknown step(s) {', '.join(sorted(bad))}; choose from "
                                         f"{', '.join(BUILD_STEPS + AFTER_STEPS)}")
    return frozenset(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--workdir", type=Path, default=None, help="where the inputs and stores go (default: a temp dir)")
    ap.add_argument("--keep", type=Path, default=None, metavar="DIR",
                    help="build in DIR (new or empty) and leave it there: DIR/kg, DIR/species.txt, DIR/predicted.txt "
                         "for bench/scale_http.py")
    ap.add_argument("--steps", "--only", type=_steps_arg, default=frozenset(BUILD_STEPS + AFTER_STEPS),
                    help="comma-separated subset of the steps to run: " + ", ".join(BUILD_STEPS + AFTER_STEPS)
                         + " (default: all; e.g. --steps ontologies,phenotypes to measure the Phenoscape step "
                           "on the ontologies, or with --ontology-store)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--save-ontology-store", type=Path, default=None,
                    help="keep a copy of the store after the ontology steps (and their figures) here")
    ap.add_argument("--ontology-store", type=Path, default=None,
                    help="start from a store saved by --save-ontology-store; its ontology figures are reported")
    ap.add_argument("--prediction-fraction", type=float, default=None, metavar="F",
                    help="size the predicted taxa and prediction rows at F instead of --fraction (same taxonomy and "
                         "tree); printed in the headings")
    ap.add_argument("--prediction-versions", default=None, metavar="LIST",
                    help="load only these model versions' batches (comma-separated, of "
                         + ", ".join(MODEL_VERSIONS) + "; default: all)")
    ap.add_argument("--no-store-floor", action="store_true",
                    help="skip the whole store's floor (a dump and one bulk load of every quad: at fraction 1 as long "
                         "as the build's largest steps together); the whole-build ratio is then not printed")
    a = ap.parse_args()
    versions = None
    if a.prediction_versions is not None:
        versions = frozenset(v.strip() for v in a.prediction_versions.split(",") if v.strip())
        if not versions or versions - set(MODEL_VERSIONS):
            ap.error(f"--prediction-versions {a.prediction_versions}: choose from {', '.join(MODEL_VERSIONS)}")
    if a.keep is not None:
        if a.keep.exists() and any(a.keep.iterdir()):
            ap.error(f"--keep {a.keep}: not empty")
        a.keep.mkdir(parents=True, exist_ok=True)
        work = a.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="tkg-scale-", dir=a.workdir))
    tips, taxa, rows = sizes(a.fraction)
    pred_note = ""
    if a.prediction_fraction is not None:
        _, taxa, rows = sizes(a.prediction_fraction)
        taxa = min(taxa, tips)
        pred_note = f" (predictions at fraction {a.prediction_fraction})"
    if versions is not None:
        pred_note += f" (prediction batches loaded: {', '.join(sorted(versions))})"
    print(f"scale bench, fraction {a.fraction}: {tips:,} tips, {taxa:,} taxa, {rows:,} rows{pred_note}; work {work}; "
          f"steps {','.join(x for x in BUILD_STEPS + AFTER_STEPS if x in a.steps)}; "
          f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    t_exp = t_dump = t_dump0 = t_dump1 = float("nan")
    rss_exp = rss_dump = 0
    bar_exp = False
    queries: dict = {}
    nan = float("nan")
    start = {"ready": nan, "first mrca": nan, "second mrca": nan, "cpu": nan, "workers": START_WORKERS}
    first_start = dict(start)
    try:
        t_build = time.perf_counter()
        steps, store_dir, inp = build(work, a.fraction, a.seed, a.ontology_store, a.save_ontology_store,
                                      a.steps & frozenset(BUILD_STEPS), a.prediction_fraction, versions)
        t_build = time.perf_counter() - t_build
        store_size = du(store_dir)
        store_comp = sst_compression(store_dir)
        if a.no_store_floor:
            f_s, f_rss, f_quads, f_size = float("nan"), 0, _store_quads(store_dir), 0
            floor_comp: dict[str, int] = {}
        else:
            print("floor of the whole store ...", flush=True)
            f_s, f_rss, f_quads, f_size = floor(store_dir, ["*"], work)
            floor_comp = dict(FLOOR_COMPRESSION)
        if "export" in a.steps:
            exp_dir = work / "release"
            try:
                # the raw dump before and after the export (each run warms the page cache for the
                # next): the export is set against the mean of the two
                t_dump0, _ = raw_dump(store_dir, work / "dump.nq")
                (work / "dump.nq").unlink(missing_ok=True)
                t_exp, rss_exp, bar_exp, _ = cli(f"oxigraph:{store_dir}", "export", str(exp_dir))
                shutil.rmtree(exp_dir, ignore_errors=True)
                t_dump1, rss_dump = raw_dump(store_dir, work / "dump.nq")
                t_dump = (t_dump0 + t_dump1) / 2
                print(f"  export: {t_exp:.1f} s, peak RSS {rss_exp / MB:,.0f} MB; raw Store.dump {t_dump0:.1f} s before, "
                      f"{t_dump1:.1f} s after, {rss_dump / MB:,.0f} MB ({t_exp / t_dump:.2f}x their mean)", flush=True)
            except RuntimeError as exc:  # reported; the build's figures still printed
                print(f"export failed: {exc}", flush=True)
            shutil.rmtree(exp_dir, ignore_errors=True)
            (work / "dump.nq").unlink(missing_ok=True)
        (work / "species.txt").write_text("\n".join(inp.species))
        (work / "predicted.txt").write_text("\n".join(inp.predicted))
        if "queries" in a.steps:
            print("queries ...", flush=True)
            q = subprocess.run([PY, str(ROOT / "bench" / "_scale_queries.py"), f"oxigraph:{store_dir}",
                                str(work / "species.txt"), str(work / "predicted.txt")], capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            if q.returncode:  # reported, and the build's figures still printed
                print("queries failed:", q.stderr[-3000:], flush=True)
            else:
                queries = json.loads(q.stdout.strip().splitlines()[-1])
        if "start" in a.steps:
            try:
                tip_names = [s.replace(" ", "_") for s in inp.species[::max(1, len(inp.species) // 8)]]
                # the first start right after the build: it reads the files the build's index step
                # wrote (without that step it writes the missing ones, once: one builder per file);
                # the second start reads them, as every later start does
                first_start = service_start(store_dir, tip_names)
                start = service_start(store_dir, tip_names)
            except Exception as exc:  # noqa: BLE001 - reported beside the other figures
                print(f"service start failed: {exc}", flush=True)
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"build kept: .venv/bin/python bench/scale_http.py --store {work / 'kg'} "
                  f"--species {work / 'species.txt'} --predicted {work / 'predicted.txt'}", flush=True)

    rows_out = []
    for s in steps:
        ratio = s.seconds / s.floor_s if s.floor_s == s.floor_s else float("nan")
        rows_out.append([s.name, s.seconds, s.floor_s, ratio, round(s.rss / MB), round(s.floor_rss / MB), s.quads,
                         "yes" if s.bar else ("-" if not s.rss else "no")])
    cmds = [s for s in steps if s.rss]  # the traitkg steps (not the seeded inputs)
    reused = sum(1 for s in cmds if s.name.endswith("[reused]"))
    t_sum = sum(s.seconds for s in cmds)
    peak = max((s.rss for s in cmds), default=0)
    rows_out.append([f"whole build: sum of the {len(cmds)} traitkg steps above"
                     + (f" ({reused} reused)" if reused else "") + " vs the whole store's floor",
                     t_sum, f_s, t_sum / f_s, round(peak / MB), round(f_rss / MB), f_quads, ""])
    if "export" in a.steps:
        rows_out.append(["export (traitkg export) vs raw Store.dump (same run; mean of one before, one after)",
                         t_exp, t_dump, t_exp / t_dump,
                         round(rss_exp / MB), round(rss_dump / MB), f_quads, "yes" if bar_exp else "no"])
    table(f"Scale build, fraction {a.fraction} ({tips:,} tips, {taxa:,} taxa, {rows:,} prediction rows{pred_note}), "
          "on disk, "
          f"{os.cpu_count()} cores; floor = raw pyoxigraph bulk_load of the same quads into a fresh store "
          "(+ a raw pyarrow write of the same rows for a prediction batch's Parquet side table)",
          ["step", "traitkg s", "floor s", "ratio", "peak RSS MB", "floor RSS MB", "quads", "bar"], rows_out)
    print(f"(bench wall time of the build phase, with the per-step floors, the inputs and any copied store: "
          f"{t_build:,.1f} s; a step's floor is the bulk load of the graphs it wrote, as it left them)")
    # RocksDB's SST files by compression: the bulk loader writes LZ4 files; compactions write the
    # base level uncompressed (oxigraph's options), so the same quads differ ~2x by their history
    table("Store size (SST files by the compression they were written with)",
          ["store", "MB", "quads", "bytes/quad", "LZ4 MB", "uncompressed MB"],
          [["traitkg store (after the build)", store_size / MB, f_quads, store_size / max(f_quads, 1),
            store_comp.get("LZ4", 0) / MB, store_comp.get("NoCompression", 0) / MB],
           ["floor store (same quads, bulk_load)", f_size / MB, f_quads, f_size / max(f_quads, 1),
            floor_comp.get("LZ4", 0) / MB, floor_comp.get("NoCompression", 0) / MB],
           ["ratio", store_size / max(f_size, 1), "", "", "", ""]])
    targets = {"prediction summary": 0.05, "taxa-with entity (subsumption)": 0.1, "mrca 1000 tips (names)": 0.005,
               "mrca 1000 tips (ids)": 0.005, "induced 10000 tips (names)": 0.3}
    qrows = [[k, v["median"] * 1e3, v["p95"] * 1e3, v["n"], targets[k] * 1e3,
              "ok" if v["median"] <= targets[k] else "OVER"] for k, v in queries.items() if isinstance(v, dict)]
    qrows += [[k, v * 1e3, "", 1, "", ""] for k, v in queries.items() if isinstance(v, float)]
    w = start["workers"]
    first_what = "reads the files the index step wrote" if "index" in a.steps else "writes the missing index files"
    qrows += [[f"first service start after the build (serve --warm --workers {w} to first /ping; {first_what}; "
               f"{first_start['cpu']:.1f} CPU s in all)", first_start["ready"] * 1e3, "", 1, 10_000,
               "ok" if first_start["ready"] <= 10 else "OVER"],
              [f"service start, index files kept (serve --warm --workers {w} to first /ping; "
               f"{start['cpu']:.1f} CPU s in all)", start["ready"] * 1e3, "", 1, 10_000,
               "ok" if start["ready"] <= 10 else "OVER"],
              ["first MRCA request after start", start["first mrca"] * 1e3, "", 1, "", ""],
              ["second MRCA request", start["second mrca"] * 1e3, "", 1, "", ""]]
    if "queries" not in a.steps and "start" not in a.steps:
        qrows = []
    if qrows:
        table(f"Queries on the built store (Python API, one process; tree index: {queries.get('tree index source')}; "
              f"taxa-with answer sizes {queries.get('taxa-with answers (taxa)')})",
              ["query", "median ms", "p95 ms", "n", "target ms", ""], qrows)
    if a.json:
        a.json.write_text(json.dumps({"fraction": a.fraction, "tips": tips, "taxa": taxa, "rows": rows,
                                      "steps": [{k: v for k, v in s.__dict__.items() if k != "stdout"} for s in steps],
                                      "build_s": t_sum, "build_wall_s": t_build, "floor_s": f_s, "floor_rss": f_rss, "quads": f_quads,
                                      "store_bytes": store_size, "floor_bytes": f_size, "export_s": t_exp,
                                      "dump_s": t_dump, "dump_s_before_after": [t_dump0, t_dump1], "queries": queries, "start": start,
                                      "first_start": first_start}, indent=1, default=str))


if __name__ == "__main__":
    main()
