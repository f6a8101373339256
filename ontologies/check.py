"""OWL DL checks with owlready2 and a Java reasoner (HermiT or Pellet, bundled with owlready2), or
ELK for large ontologies in OWL 2 EL (see :mod:`ontologies.elk`; axioms outside EL are ignored and counted).

``check_file`` / ``check_graph`` report consistency and unsatisfiable classes; ``classify_file``
returns the reasoner's named-class subsumption closure (used to cross-check our own closure).
Each call runs in a fresh owlready2 World on a temporary N-Triples copy, so nothing leaks
between checks. Needs ``java`` on PATH.

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "u.ttl"
>>> _ = p.write_text('''@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
... <http://x.org/o> a owl:Ontology . <http://x.org/B> a owl:Class ; owl:disjointWith <http://x.org/C> .
... <http://x.org/C> a owl:Class . <http://x.org/A> a owl:Class ; rdfs:subClassOf <http://x.org/B>, <http://x.org/C> .''')
>>> check_file(p).unsatisfiable
['http://x.org/A']
>>> tmp.cleanup()
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import ReasonerError

log = logging.getLogger(__name__)
REASONERS = ("hermit", "pellet", "elk")
_NOTHING = "http://www.w3.org/2002/07/owl#Nothing"


@dataclass
class CheckResult:
    """Outcome of a reasoner run."""

    reasoner: str
    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _to_ntriples(path: Path, out: Path) -> None:
    """Any RDF syntax (by extension, .gz too) -> N-Triples, which owlready2 reads fastest."""
    from kg.core.sources import Source
    from kg.core.store import RdfFormat, parse_rdf, rdf_format, serialize_rdf

    src = Source.resolve(path)
    fmt = rdf_format(src.format_hint) if src.format_hint not in ("obo", "") else RdfFormat.N_TRIPLES
    with src.open() as fh:
        out.write_bytes(serialize_rdf((q.triple for q in parse_rdf(fh, fmt, base_iri=src.path.resolve().as_uri())),
                                      RdfFormat.N_TRIPLES))


def _run(nt: Path, reasoner: str, classify: bool) -> tuple[CheckResult, dict[str, set[str]]]:
    if reasoner not in REASONERS:
        raise ReasonerError(f"unknown reasoner {reasoner!r}; expected one of {', '.join(REASONERS)}")
    if reasoner == "elk":
        from ontologies.elk import classify_file as elk_classify

        res = elk_classify(nt)
        note = f"OWL 2 EL only: {res.ignored_axioms} of {res.axioms} logical axioms are outside the profile and ignored"
        return (CheckResult("elk", res.consistent, res.unsatisfiable, res.load_seconds + res.classify_seconds, note),
                res.superclasses)
    import owlready2 as owl

    if not shutil.which("java"):
        raise ReasonerError("the reasoners need Java (a `java` executable on PATH); install a JRE 11+")
    world = owl.World()
    onto = world.get_ontology(nt.resolve().as_uri()).load(format="ntriples")
    t0 = time.perf_counter()
    run = owl.sync_reasoner_hermit if reasoner == "hermit" else owl.sync_reasoner_pellet
    consistent, message = True, ""
    try:
        with onto:
            run(world, infer_property_values=False, debug=0)
    except owl.OwlReadyInconsistentOntologyError as exc:
        consistent, message = False, str(exc).strip().splitlines()[0] if str(exc).strip() else "inconsistent"
    except owl.OwlReadyJavaError as exc:
        text = str(exc)
        detail = next((ln for ln in text.splitlines() if "Exception" in ln), text[:300])
        raise ReasonerError(f"{reasoner} failed: {detail.strip()}") from exc
    unsat = sorted(c.iri for c in world.inconsistent_classes()
                   if getattr(c, "iri", _NOTHING) != _NOTHING) if consistent else []
    closure: dict[str, set[str]] = {}
    if classify and consistent:
        for c in world.classes():
            closure[c.iri] = {a.iri for a in c.ancestors(include_self=False) if hasattr(a, "iri")} - {
                "http://www.w3.org/2002/07/owl#Thing"}
    world.close()
    return CheckResult(reasoner, consistent, unsat, time.perf_counter() - t0, message), closure


def check_file(path: str | Path, *, reasoner: str = "hermit") -> CheckResult:
    """Consistency and unsatisfiable classes (IRIs) of an OWL file (RDF syntaxes, ``.gz``)."""
    with tempfile.TemporaryDirectory() as tmp:
        nt = Path(tmp) / "onto.nt"
        _to_ntriples(Path(path), nt)
        return _run(nt, reasoner, classify=False)[0]


def classify_file(path: str | Path, *, reasoner: str = "hermit") -> dict[str, set[str]]:
    """The reasoner's named superclasses of every class: ``{class IRI: {superclass IRIs}}``."""
    with tempfile.TemporaryDirectory() as tmp:
        nt = Path(tmp) / "onto.nt"
        _to_ntriples(Path(path), nt)
        return _run(nt, reasoner, classify=True)[1]


def check_graph(store: Any, graph: str, *, reasoner: str = "hermit") -> CheckResult:
    """Check a loaded ontology graph (dumped to N-Triples first)."""
    from kg.core.store import RdfFormat, serialize_rdf

    with tempfile.TemporaryDirectory() as tmp:
        nt = Path(tmp) / "onto.nt"
        nt.write_bytes(serialize_rdf((q.triple for q in store.quads(None, None, None, graph)), RdfFormat.N_TRIPLES))
        return _run(nt, reasoner, classify=False)[0]
