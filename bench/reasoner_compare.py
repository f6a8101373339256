"""Compare our named-class subClassOf closure of UBERON 2015 with Pellet's classification.

HermiT rejects UBERON 2015 (a non-simple property in a cardinality restriction), so every axiom
whose class expression contains a cardinality restriction is stripped first (the stripped file is
what both sides see, so the comparison is like for like). Pellet runs through owlready2 in a
subprocess with a hard time limit; on success the script prints every difference, both ways.

Run: .venv/bin/python bench/reasoner_compare.py [--timeout 600] [--java-memory 8000] [--out DIR]
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
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("TRAITKG_SHARED", ROOT.parent / "shared" / "data"))
UBERON = SHARED / "uberon" / "uberon-2015-05-25.owl.gz"
OWL = "http://www.w3.org/2002/07/owl#"
_CARD = {OWL + p for p in ("cardinality", "minCardinality", "maxCardinality", "qualifiedCardinality",
                           "minQualifiedCardinality", "maxQualifiedCardinality")}

_PELLET = """
import json, sys, time
import owlready2 as owl
owl.reasoning.JAVA_MEMORY = int(sys.argv[3])
if sys.argv[4]:
    owl.JAVA_EXE = sys.argv[4]
from ontologies.check import _run
t = time.perf_counter()
res, closure = _run(__import__("pathlib").Path(sys.argv[1]), "pellet", classify=True)
json.dump({"seconds": time.perf_counter() - t, "consistent": res.consistent, "unsat": res.unsatisfiable,
           "closure": {k: sorted(v) for k, v in closure.items()}}, open(sys.argv[2], "w"))
"""


def _default_java() -> str | None:
    """The newest JDK under /usr/lib/jvm (the Jena classes bundled with owlready2's Pellet may need it)."""
    import glob
    import re

    found = [(int(m.group(1)), j) for j in glob.glob("/usr/lib/jvm/*/bin/java")
             if (m := re.search(r"-(\d+)[-.]", j.split("/")[4] + "-"))]
    return max(found)[1] if found else None


def _group_cpu(pgid: int) -> str:
    """CPU seconds used so far by the processes of a process group (from /proc), as text."""
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
    return f"{total:.0f}"


def _term(t) -> str:
    return "_:" + t.value if type(t).__name__ == "BlankNode" else t.value


def strip_cardinality(src: Path) -> tuple[list[tuple], list[tuple[str, str, str]], int]:
    """(kept pyoxigraph triples, kept (s, p, o) strings, number of dropped triples)."""
    from kg.store import RdfFormat, parse_rdf

    with gzip.open(src) if src.suffix == ".gz" else open(src, "rb") as fh:
        triples = [q.triple for q in parse_rdf(fh, RdfFormat.RDF_XML, base_iri="http://purl.obolibrary.org/obo/")]
    up: dict[str, set[str]] = defaultdict(set)
    down: dict[str, set[str]] = defaultdict(set)
    bad: set[str] = set()
    for t in triples:
        s, o = _term(t.subject), _term(t.object)
        if s.startswith("_:") and o.startswith("_:"):
            up[o].add(s)
            down[s].add(o)
        if t.predicate.value in _CARD:
            bad.add(s)
    todo = list(bad)  # every blank-node expression that contains a cardinality restriction ...
    while todo:
        for p in up.get(todo.pop(), ()):
            if p not in bad:
                bad.add(p)
                todo.append(p)
    todo = list(bad)  # ... and everything inside those expressions
    while todo:
        for c in down.get(todo.pop(), ()):
            if c not in bad:
                bad.add(c)
                todo.append(c)
    kept = [t for t in triples if _term(t.subject) not in bad and _term(t.object) not in bad]
    rows = [(_term(t.subject), t.predicate.value, _term(t.object)) for t in kept]
    return kept, rows, len(triples) - len(kept)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--java-memory", type=int, default=8000)
    ap.add_argument("--java", default=_default_java(), help="java executable (owlready2's Pellet jars need a recent one)")
    ap.add_argument("--out", type=Path, default=None, help="keep the stripped file and Pellet's JSON here")
    a = ap.parse_args()
    from kg.store import RdfFormat, serialize_rdf
    from ontologies.axioms import Axioms
    from ontologies.closure import compute

    out = a.out or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    kept, rows, dropped = strip_cardinality(UBERON)
    nt = out / "uberon-stripped.nt"
    nt.write_bytes(serialize_rdf(kept, RdfFormat.N_TRIPLES))
    print(f"stripped {dropped:,} triples (axioms with cardinality restrictions); {len(kept):,} kept", flush=True)
    res = out / "pellet.json"
    t = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # own session, so a timeout kills Java (a grandchild) too
    p = subprocess.Popen([sys.executable, "-c", _PELLET, str(nt), str(res), str(a.java_memory), a.java or ""],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = p.communicate(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        cpu = _group_cpu(p.pid)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        print(f"pellet: did not finish in {a.timeout} s wall ({cpu} CPU s in the reasoner's processes; "
              f"load average {os.getloadavg()[0]:.2f})")
        return
    if p.returncode or not res.exists():
        print(f"pellet failed (rc {p.returncode}) after {time.perf_counter() - t:.0f} s:\n{err[-3000:]}")
        return
    pel = json.loads(res.read_text())
    print(f"pellet: {pel['seconds']:.1f} s reasoning+extraction, wall {time.perf_counter() - t:.1f} s, "
          f"consistent={pel['consistent']}, unsatisfiable={len(pel['unsat'])}")
    c = compute(Axioms.from_triples(rows))
    ours = {(c.names[i], c.names[j]) for i in range(len(c.names)) for j in c.sup[i] if i != j}
    named = set(c.names) - {OWL + "Thing"}
    theirs = {(s, o) for s, sups in pel["closure"].items() for o in sups
              if s != o and not s.startswith("_:") and not o.startswith("_:")}
    ours = {(s, o) for s, o in ours if s in named and o in named}
    theirs = {(s, o) for s, o in theirs if s in named and o in named}
    print(f"named-class subClassOf pairs: ours {len(ours):,}  pellet {len(theirs):,}  common {len(ours & theirs):,}")
    for label, diff in (("only ours", ours - theirs), ("only pellet", theirs - ours)):
        print(f"{label}: {len(diff):,}")
        for s, o in sorted(diff)[:200]:
            print(f"  {s} SubClassOf {o}")
    (out / "diff.json").write_text(json.dumps({"only_ours": sorted(ours - theirs),
                                               "only_pellet": sorted(theirs - ours)}))


if __name__ == "__main__":
    main()
