"""`traitkg index` (the build's last step: every index file a server start reads), this checkout
against a peer checkout, on one copy of a built store, alternating: before each run the files the
step writes (terms, term labels, states' evidence, trait pages, summary pages) are removed, the
files the loads wrote (trees, phenotype index, calls) kept, so each run builds what a build's
index step builds. Per run: wall seconds of the command, its parts' seconds as it reports them
(``--json``), CPU seconds and peak RSS of the process, the load average. Then medians, ratios, and
whether both checkouts wrote the same files: every member of every file compared (dtype, shape,
bytes), the files of the two checkouts' last runs.

Run: ``.venv/bin/python bench/index_step.py --store DIR/kg --peer CHECKOUT [--runs 3] [--workdir DIR]``
on a store built by ``bench/scale.py --keep DIR`` (e.g. ``/work/stores/m01/kg``; it is copied,
never written: the copy goes under ``--workdir``, default beside the store, and is removed after).
``--in-place`` runs on ``--store`` itself (a copy of your own: the step's files are removed in it).

``--resummarise DIR`` first has this checkout write the prediction batches' summaries again, as
its loads write them (the summary graph of each ``DIR/predictions-v*.parquet`` batch of model
``bioclip-traits`` dropped, then the same table loaded again: the batch is unchanged, its summary
graph is written again with the same triples and key, and the summaries kept beside the store):
the store a build by this checkout leaves. Both checkouts then index that same store.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.indexcache import load_mapped  # noqa: E402

STEP_KINDS = ("terms", "termlabels", "stateinfo", "traitpages", "summarypages")  # what the loads leave unwritten


def run_index(code: Path, store: Path) -> dict:
    """One ``traitkg index --json`` of ``code`` on ``store``: wall, CPU, peak RSS, its parts."""
    for kind in STEP_KINDS:
        shutil.rmtree(Path(f"{store}.cache") / kind, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TRAITKG_CACHE", None)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "from kg.cli import main; main()", "--store", f"oxigraph:{store}",
                             "index", "--json"], cwd=code, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{code}: traitkg index failed ({proc.returncode})")
    report = json.loads(out)
    return {"wall": took, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss / 1024, "load": (load0 + os.getloadavg()[0]) / 2,
            "parts": {p["part"]: p["seconds"] for p in report["parts"]},
            "written": sorted(f for p in report["parts"] for f in p["written"])}


def resummarise(code: Path, store: Path, tables: Path) -> None:
    """Drop each batch's summary graph and load its table again with ``code`` (see the module text)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TRAITKG_CACHE", None)
    for table in sorted(tables.glob("predictions-v*.parquet")):
        ver = table.stem.split("-v", 1)[1]
        t0 = time.perf_counter()
        for argv in (["drop", f"prediction-summary/bioclip-traits/{ver}"],
                     ["load", "predictions", str(table), "--model", "bioclip-traits", "--model-version", ver]):
            subprocess.run([sys.executable, "-c", "from kg.cli import main; main()", "-q", "--store", f"oxigraph:{store}",
                            *argv], cwd=code, env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"summaries of v{ver} written again by {code} in {time.perf_counter() - t0:.1f} s", flush=True)


def digests(store: Path, files: list[str]) -> dict[str, dict[str, str]]:
    """Each file's members (dtype, shape and bytes digested; the metadata member left out)."""
    out = {}
    for f in files:
        arrays = load_mapped(Path(f"{store}.cache") / f)
        out[f] = {k: hashlib.sha256(f"{v.dtype}{v.shape}".encode() + v.tobytes()).hexdigest()
                  for k, v in arrays.items() if k != "__meta__"}
        out[f][" file"] = hashlib.sha256((Path(f"{store}.cache") / f).read_bytes()).hexdigest()  # the whole file's bytes
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="a built store (DIR/kg, its files in DIR/kg.cache)")
    ap.add_argument("--peer", type=Path, required=True, help="the checkout to compare with (e.g. /work/main)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--in-place", action="store_true", help="run on --store itself (a copy of your own)")
    ap.add_argument("--resummarise", type=Path, default=None, metavar="DIR",
                    help="this checkout writes the summaries of the batches of DIR/predictions-v*.parquet again first")
    args = ap.parse_args()
    codes = {"this": ROOT, "peer": args.peer.resolve()}
    work = None if args.in_place else Path(tempfile.mkdtemp(prefix="index-step-", dir=args.workdir or args.store.parent))
    try:
        if work is None:
            store = args.store
        else:
            store = work / "kg"
            t = time.perf_counter()
            for part in ("", ".cache", ".tables"):
                if Path(f"{args.store}{part}").exists():
                    subprocess.run(["cp", "-a", f"{args.store}{part}", f"{store}{part}"], check=True)
            print(f"copied {args.store} in {time.perf_counter() - t:.1f} s", flush=True)
        if args.resummarise is not None:
            resummarise(ROOT, store, args.resummarise)
        runs: dict[str, list[dict]] = {n: [] for n in codes}
        files: dict[str, list[dict]] = {n: [] for n in codes}
        for i in range(args.runs):
            for name in (("this", "peer") if i % 2 == 0 else ("peer", "this")):
                r = run_index(codes[name], store)
                runs[name].append(r)
                files[name].append(digests(store, r["written"]))
                print(f"run {i + 1} {name}: {r['wall']:.1f} s, {r['cpu']:.1f} CPU s, peak {r['rss']:.0f} MB, load "
                      f"{r['load']:.1f}; " + ", ".join(f"{k} {v:.1f}" for k, v in r["parts"].items()), flush=True)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)

    def med(name: str, get) -> float:
        return statistics.median(get(r) for r in runs[name])

    loads = [r["load"] for n in codes for r in runs[n]]
    print(f"\ntraitkg index on a copy of {args.store} (files the step writes removed before each run; medians of "
          f"{args.runs}, alternating; load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)")
    print(f"{'':40}  {'this':>8}  {'peer':>8}  {'peer/this':>9}")
    parts = list(runs["this"][0]["parts"])
    rows = [(f"part: {p}, s", lambda r, p=p: r["parts"].get(p, float("nan"))) for p in parts]
    rows += [("whole step (wall), s", lambda r: r["wall"]), ("CPU s", lambda r: r["cpu"]),
             ("peak RSS, MB", lambda r: r["rss"])]
    for label, get in rows:
        a, b = med("this", get), med("peer", get)
        print(f"{label:40}  {a:8.1f}  {b:8.1f}  {b / a if a else float('nan'):8.2f}x")
    names = sorted(set(files["this"][-1]) | set(files["peer"][-1]))
    print(f"files written per run: {len(files['this'][-1])} by this, {len(files['peer'][-1])} by the peer; "
          "each file's members (dtype, shape, bytes) compared:")
    for f in names:
        a, b = files["this"][-1].get(f, {}), files["peer"][-1].get(f, {})
        unsteady = [n for n in codes if any(d.get(f) != files[n][0].get(f) for d in files[n])]
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k != " file")
        print(f"  {f}: {'identical' if not diff else 'members differing: ' + ', '.join(diff)}"
              f"{'; the same bytes in every run of each checkout' if not unsteady else '; differs between runs of ' + ' and '.join(unsteady)}")

if __name__ == "__main__":
    main()
