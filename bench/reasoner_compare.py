"""Compare our named-class subClassOf closure of UBERON 2015 with OWL reasoners' classifications.

1. ELK 0.6 (the reasoner Ubergraph uses; OWL API 5, in Java) on the original file, against ours on
   the same file and ours without the axioms ELK ignores (cardinality restrictions: outside OWL 2 EL).
2. Optionally a full OWL DL reasoner (HermiT or Pellet through owlready2) with a hard time limit.
   HermiT rejects the original file (a non-simple property in a cardinality restriction), so the DL
   run uses the file without axioms containing cardinality restrictions, compared like for like.

Every difference is printed, both ways, with the reason when it is known.

Run: .venv/bin/python bench/reasoner_compare.py [--dl hermit|pellet|none] [--timeout 600]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import SHARED  # TRAITKG_SHARED_DATA, default ../shared/data (exits with how to set it)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
UBERON = SHARED / "uberon" / "uberon-2015-05-25.owl.gz"

_DL = """
import json, sys, time
import owlready2 as owl
owl.reasoning.JAVA_MEMORY = int(sys.argv[4])
from ontologies.check import _run
t = time.perf_counter()
res, closure = _run(__import__("pathlib").Path(sys.argv[1]), sys.argv[3], classify=True)
json.dump({"seconds": time.perf_counter() - t, "consistent": res.consistent, "unsat": res.unsatisfiable,
           "closure": {k: sorted(v) for k, v in closure.items()}}, open(sys.argv[2], "w"))
"""


def _group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the processes of a process group (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[2]) == pgid:
                total += (int(f[11]) + int(f[12])) / tick
    return total


def _term(t) -> str:
    return "_:" + t.value if type(t).__name__ == "BlankNode" else t.value


def _pairs(c) -> set[tuple[str, str]]:
    from ontologies.closure import THING

    thing = c.index.get(THING)
    return {(c.names[i], c.names[j]) for i in range(len(c.names)) for j in c.sup[i] if j not in (i, thing)}


def show(label: str, diff: set[tuple[str, str]], limit: int = 20) -> None:
    print(f"  {label}: {len(diff):,}")
    for s, o in sorted(diff)[:limit]:
        print(f"    {s.rsplit('/', 1)[-1]} SubClassOf {o.rsplit('/', 1)[-1]}")


def dl_run(kind: str, nt: Path, timeout: int, memory: int, out: Path) -> dict | str:
    res = out / f"{kind}.json"
    p = subprocess.Popen([sys.executable, "-c", _DL, str(nt), str(res), kind, str(memory)],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        cpu = _group_cpu(p.pid)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return f"did not finish in {timeout} s wall ({cpu:.0f} CPU s; load average {os.getloadavg()[0]:.2f})"
    if p.returncode or not res.exists():
        return f"failed (rc {p.returncode}): {err.strip().splitlines()[-1][:300] if err.strip() else '?'}"
    return json.loads(res.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dl", choices=["hermit", "pellet", "none"], default="hermit")
    ap.add_argument("--timeout", type=int, default=600, help="wall-clock limit for the DL reasoner")
    ap.add_argument("--java-memory", type=int, default=8000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="traitkg-reasoners-", ignore_cleanup_errors=True) as out:
        run(a, Path(out))  # the reasoner's input and answers


def run(a: argparse.Namespace, out: Path) -> None:
    from kg.core.store import RdfFormat, parse_rdf, serialize_rdf
    from ontologies.axioms import Axioms
    from ontologies.closure import compute
    from ontologies.elk import classify_file, without_cardinality

    print(f"# UBERON 2015 named-class subClassOf closure: ours vs OWL reasoners (load average "
          f"{os.getloadavg()[0]:.2f})\n")
    t = time.perf_counter()
    elk = classify_file(UBERON)
    elk_wall = time.perf_counter() - t
    with gzip.open(UBERON) as fh:
        triples = [q.triple for q in parse_rdf(fh, RdfFormat.RDF_XML, base_iri="http://purl.obolibrary.org/obo/")]
    rows = [(_term(t.subject), t.predicate.value, _term(t.object)) for t in triples]
    t = time.perf_counter()
    ours = _pairs(compute(Axioms.from_triples(rows)))
    ours_s = time.perf_counter() - t
    kept, dropped = without_cardinality(rows)
    like_elk = _pairs(compute(Axioms.from_triples(kept)))
    theirs = elk.pairs()
    print("| closure | pairs | seconds |\n|---|---|---|")
    print(f"| ELK 0.6 (OWL API load {elk.load_seconds:.1f} s + classify {elk.classify_seconds:.1f} s) | "
          f"{len(theirs):,} | {elk_wall:.1f} wall incl. JVM |")
    print(f"| ours (axioms read + saturation) | {len(ours):,} | {ours_s:.1f} |")
    print(f"| ours without the {dropped:,} triples of axioms with cardinality restrictions | {len(like_elk):,} | |\n")
    print(f"ELK: {elk.ignored_axioms} of {elk.axioms:,} logical axioms outside OWL 2 EL (ignored); "
          f"unsatisfiable classes: {len(elk.unsatisfiable)}; e.g. {'; '.join(elk.ignored_examples[:3])}")
    print("ours vs ELK, same file:")
    show("only ours (each from an axiom ELK ignores: the genus of 'A ≡ G and (min n P C)' still holds)", ours - theirs)
    show("only ELK", theirs - ours)
    print("ours without the axioms ELK ignores vs ELK:")
    show("only ours", like_elk - theirs)
    show("only ELK", theirs - like_elk)
    if a.dl == "none":
        return
    nt = out / "uberon-no-cardinality.nt"
    keep_ids = {(s, p, o) for s, p, o in kept}
    nt.write_bytes(serialize_rdf((t for t, r in zip(triples, rows) if r in keep_ids), RdfFormat.N_TRIPLES))
    t = time.perf_counter()
    res = dl_run(a.dl, nt, a.timeout, a.java_memory, out)
    if isinstance(res, str):
        print(f"\n{a.dl} (owlready2) on the file without cardinality axioms: {res}")
        return
    named = {s for s, _ in like_elk} | {o for _, o in like_elk}
    dl = {(s, o) for s, sups in res["closure"].items() for o in sups if s != o and s in named and o in named}
    print(f"\n{a.dl} (owlready2) on the file without cardinality axioms: {res['seconds']:.1f} s "
          f"(wall {time.perf_counter() - t:.1f} s), consistent={res['consistent']}, "
          f"unsatisfiable={len(res['unsat'])}, {len(dl):,} pairs")
    show(f"only ours (without cardinality axioms) vs {a.dl}", like_elk - dl)
    show(f"only {a.dl}", dl - like_elk)


if __name__ == "__main__":
    main()
