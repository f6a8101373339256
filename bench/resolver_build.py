"""A store's name resolver, built and asked: this checkout and a peer checkout (e.g. the main
branch), each in its own process, alternating, on one store (e.g. the 2.4M-tip build of
``bench/scale.py --fraction 1.0 --keep DIR``). Each run reads the store's kept names
(:func:`kg.taxon_names.store_resolver`), then resolves a seeded sample of names: species as written,
some with an authority or a qualifier, some misspelt (those search the whole universe fuzzily).
The first run of each checkout may join the names kept per graph (each checkout keys its joined
file by its own format); the later ones read them. Printed: seconds to the resolver, seconds to
resolve the sample, peak RSS, and whether the two checkouts' answers are the same.

    .venv/bin/python bench/resolver_build.py --store /tmp/big/full/kg --peer /work/main --runs 3 \
        --phenex ../shared/data/phenoscape-data/nexml
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import hashlib, json, resource, sys, time
from kg.core.store import open_store
from kg.taxon_names import store_resolver
names = json.loads(sys.stdin.read())
store = open_store("oxigraph:" + sys.argv[1])
t0 = time.perf_counter()
r = store_resolver(store)
t1 = time.perf_counter()
exact = r.resolve(names["exact"], fuzzy=False)
t2 = time.perf_counter()
fuzzy = r.resolve(names["fuzzy"])
t3 = time.perf_counter()
otus = []
t_parsed = t3
if names["phenex"]:
    from loaders.phenex.load import expand_paths
    from loaders.phenex.names import resolve_otus
    from loaders.phenex.nexml import parse
    matrices = [parse(p) for p in expand_paths(names["phenex"])]
    t_parsed = time.perf_counter()
    memo = {}
    try:  # this checkout: the batch's fuzzy searches at once, as load_many makes them
        from loaders.phenex.names import complete_fuzzy
    except ImportError:  # an older checkout: matrix by matrix
        complete_fuzzy = None
    done = [resolve_otus(m, r, memo, **({"fuzzy": False} if complete_fuzzy else {})) for m in matrices]
    if complete_fuzzy:
        complete_fuzzy([(m.otus, names) for m, names in zip(matrices, done)], r)
    otus = [x for names in done for x in names]
t4 = time.perf_counter()
got = json.dumps([m.to_dict() for m in exact + fuzzy + otus], sort_keys=True, default=str)
print(json.dumps({"resolver": t1 - t0, "exact": t2 - t1, "fuzzy": t3 - t2, "otus": t4 - t_parsed, "n_otus": len(otus),
                  "otus_matched": sum(m.status == "matched" for m in otus), "taxa": len(r),
                  "matched": sum(m.status == "matched" for m in exact),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "digest": hashlib.sha256(got.encode()).hexdigest()[:16]}))
"""


def sample(path: Path, n_exact: int, n_fuzzy: int, seed: int = 28) -> dict[str, list[str]]:
    """Species names of ``path`` (one a line): as written, with an authority or ``cf.``, and misspelt."""
    names = [x for x in path.read_text().split("\n") if x]
    rng = np.random.default_rng(seed)
    pick = [names[i] for i in rng.choice(len(names), n_exact + n_fuzzy, replace=False).tolist()]
    exact = [n if i % 5 else (f"{n} (Smith, 1901)" if i % 10 else n.replace(" ", " cf. ", 1))
             for i, n in enumerate(pick[:n_exact])]
    fuzzy = []
    for n in pick[n_exact:]:
        j = int(rng.integers(1, max(2, len(n) - 1)))
        fuzzy.append(n[:j] + n[j + 1:])  # one letter dropped
    return {"exact": exact, "fuzzy": fuzzy}


def run(checkout: Path, store: Path, names: dict[str, list[str]]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(store)], input=json.dumps(names), env=env,
                         capture_output=True, text=True, check=True, cwd=checkout)
    return json.loads(out.stdout.strip().split("\n")[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="an on-disk store with taxa (opened, not changed)")
    ap.add_argument("--peer", type=Path, required=True, help="the checkout to compare with (e.g. /work/main)")
    ap.add_argument("--names", type=Path, help="species names, one a line [STORE/../species.txt]")
    ap.add_argument("--exact", type=int, default=5_000, help="names asked without fuzzy search [5,000]")
    ap.add_argument("--fuzzy", type=int, default=8, help="misspelt names, searched fuzzily [8]")
    ap.add_argument("--runs", type=int, default=3, help="runs of each checkout, alternating [3]")
    ap.add_argument("--phenex", type=Path, help="a folder of Phenex NeXML matrices whose OTUs are resolved too")
    args = ap.parse_args()
    names = sample(args.names or args.store.parent / "species.txt", args.exact, args.fuzzy)
    names["phenex"] = [str(args.phenex.resolve())] if args.phenex else []
    who = {"this": ROOT, "peer": args.peer}
    got: dict[str, list[dict[str, float]]] = {k: [] for k in who}
    for i in range(args.runs):
        for k, checkout in who.items():
            got[k].append(run(checkout, args.store, names))
            print(f"run {i + 1} {k}: {json.dumps(got[k][-1])} (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\nresolver on {args.store} ({got['this'][0]['taxa']:,} taxa; {args.exact:,} names asked exactly, "
          f"{args.fuzzy} fuzzily; first run, then the median of the later ones; load {os.getloadavg()[0]:.1f})")
    print(f"{'':34}{'this':>10}{'peer':>10}{'peer/this':>11}")
    for label, key in (("resolver, first run, s", "resolver"),):
        a, b = got["this"][0][key], got["peer"][0][key]
        print(f"{label:34}{a:>10.2f}{b:>10.2f}{b / a:>10.2f}x")
    for label, key in (("resolver, later runs, s", "resolver"), ("resolve the exact names, s", "exact"),
                       ("resolve the misspelt names, s", "fuzzy"),
                       *([(f"resolve the matrices' {got['this'][0]['n_otus']:,} OTUs, s", "otus")] if args.phenex else []),
                       ("peak RSS, MB", "rss")):
        later = {k: [r[key] for r in (v[1:] or v)] for k, v in got.items()}
        a, b = statistics.median(later["this"]), statistics.median(later["peer"])
        print(f"{label:34}{a:>10.2f}{b:>10.2f}{b / a:>10.2f}x")
    same = {r["digest"] for v in got.values() for r in v}
    print(f"answers the same in every run of both: {len(same) == 1} ({', '.join(sorted(same))})")


if __name__ == "__main__":
    main()
