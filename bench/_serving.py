"""Shared by the serving benches (read_during_write.py, soak.py): a store with a subset of the
shared data, a real `traitkg serve`-equivalent server on loopback, a read mix, percentiles and the
server's memory (its process and its query workers)."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from _util import ROOT, SHARED

TOKEN = "bench-token"
TIPS = ("SELECT (COUNT(?t) AS ?n) WHERE { GRAPH ?g { ?t <http://purl.obolibrary.org/obo/CDAO_0000187> ?x } }")
LABEL = ("SELECT ?c WHERE { GRAPH ?g { ?c <http://www.w3.org/2000/01/rdf-schema#label> ?l } "
         "FILTER(STRSTARTS(?l, \"%s\")) } LIMIT 20")


def build_store(path: Path) -> str:
    """The fish tree (12k tips), PATO with its closure and three Characiformes Phenoscape matrices."""
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open(f"oxigraph:{path}")
    kg.load_tree(SHARED / "fishtree" / "actinopt_12k_raxml.tre", name="fish")
    kg.load_ontology(SHARED / "pato" / "pato.obo")
    nexml = sorted((SHARED / "phenoscape-data" / "nexml" / "Characiformes").glob("*.xml"))[:3]
    kg.load_phenotypes(nexml, lenient=True)
    kg.close()
    return f"oxigraph:{path}"


def upload_files() -> list[tuple[Path, dict[str, str]]]:
    """What the periodic writes upload: new tree versions and an ontology (with its closure)."""
    return [(SHARED / "fishtree" / "actinopt_12k_treePL.tre", {"kind": "tree", "name": "fishpl"}),
            (SHARED / "bspo" / "bspo.obo", {"kind": "ontology"})]


class Server:
    def __init__(self, selector: str, port: int, **env: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        full = {**os.environ, "TRAITKG_STORE": selector, "TRAITKG_API_TOKEN": TOKEN, "PYTHONPATH": str(ROOT), **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
                                      "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=full)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        """Resident memory of the server and its query workers, MB."""
        return self.memory()[0]

    def memory(self) -> tuple[float, float, int]:
        """(resident MB of the server and its query workers, of the server alone, how many workers)."""
        p = psutil.Process(self.proc.pid)
        procs = [p, *p.children(recursive=True)]
        total = own = 0
        for q in procs:
            try:
                rss = q.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            own += rss if q.pid == p.pid else 0
        return total / 1e6, own / 1e6, len(procs) - 1

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def read_once(c: httpx.Client, rng: random.Random) -> tuple[float, bool, str]:
    """One read of the mix: (seconds, ok, what)."""
    kind = rng.choice(["tips", "label", "graphs", "tree", "terms"])
    t0 = time.perf_counter()
    if kind == "tips":
        r = c.get("/sparql", params={"query": TIPS})
    elif kind == "label":
        r = c.get("/sparql", params={"query": LABEL % rng.choice(["fin", "bone", "red", "round", "ab"])})
    elif kind == "graphs":
        r = c.get("/api/v1/graphs", params={"limit": 50})
    elif kind == "tree":
        r = c.get("/api/v1/trees/fish")
    else:
        r = c.get("/api/v1/terms", params={"q": rng.choice(["shape", "color", "size"]), "limit": 10})
    return time.perf_counter() - t0, r.status_code == 200, kind


def upload(c: httpx.Client, path: Path, fields: dict[str, str], version: str) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        r = c.post("/api/v1/graphs", files={"file": (path.name, fh)}, data={**fields, "version": version},
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600)
    if r.status_code != 201:
        raise RuntimeError(f"upload failed: {r.status_code} {r.text[:300]}")
    return time.perf_counter() - t0


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")
