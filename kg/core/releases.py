"""KG releases: every graph as canonical N-Quads plus ``release.json`` (checksums) and a README with
counts; import verifies everything before writing; :func:`diff_releases` says what changed between
two releases (graphs, and the terms, taxa, phenotypes, calls, predictions, keys and hypotheses in them).

>>> from kg import KnowledgeGraph
>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()
>>> d = pathlib.Path(tmp.name)
>>> g = KnowledgeGraph.open("oxigraph:")
>>> _ = (d / "a.ttl").write_text("<http://example.org/A> a <https://w3id.org/traitkg/schema#Taxon> .")
>>> _ = g.load_rdf(d / "a.ttl", name="toy", version="1")
>>> _ = export_release(g.store, d / "r1")
>>> _ = (d / "a.ttl").write_text("<http://example.org/B> a <https://w3id.org/traitkg/schema#Taxon> .")
>>> _ = g.load_rdf(d / "a.ttl", name="toy", version="2")
>>> _ = export_release(g.store, d / "r2")
>>> diff = diff_releases(d / "r1", d / "r2")
>>> [(c.name, c.added, c.removed) for c in diff.categories if c.added or c.removed]
[('taxa', 1, 0)]
>>> [(u["name"], u["from"], u["to"]) for u in diff.graphs_updated], len(diff.graphs_added)
([], 1)
>>> tmp.cleanup()
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import IntegrityError, ValidationError
from kg.core.faults import crash_point
from kg.core.graphs import (
    BASE,
    GRAPH_PREFIX,
    MANIFEST,
    RDF_TYPE,
    TKG,
    GraphRecord,
    check_release_file,
    data_op,
    list_graphs,
    slug,
    utc_now,
)
from kg.core.store import NamedNode, Quad, RdfFormat, Store, parse_rdf
from kg.core.store.canonical import write_canonical_graph
from kg.core.tables import check_release_tables, export_tables, import_tables

RELEASE_FORMAT = "traitkg-release/1"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
#: what a release diff counts: category -> the rdf:type of its members
CATEGORIES = {
    "terms": OWL_CLASS,
    "taxa": TKG + "Taxon",
    "phenotypes": TKG + "Phenotype",
    "calls": TKG + "PresenceAbsenceCall",
    "predictions": TKG + "Prediction",
    "keys": TKG + "Key",
    "hypotheses": TKG + "Hypothesis",
}


def release_file(rec_iri: str, i: int) -> str:
    tail = rec_iri[len(GRAPH_PREFIX):] if rec_iri.startswith(GRAPH_PREFIX) else rec_iri
    return f"graphs/{i:04d}-{slug(tail.replace('/', '--'))}.nq"


def export_release(store: Store, directory: str | Path, *,
                   progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Write every manifest graph (and the manifest itself) as canonical N-Quads plus ``release.json``.

    Each graph streams from the engine through an external sort to its file, hashed as it is
    written (:func:`kg.core.store.canonical.write_canonical_graph`): memory does not grow with the
    store. ``progress(quads written, quads in the manifest)``."""
    out = Path(directory)
    if out.exists() and any(out.iterdir()):
        raise ValidationError(f"export directory {out} is not empty")
    (out / "graphs").mkdir(parents=True, exist_ok=True)
    entries = []
    records = list_graphs(store)
    side = export_tables(store, records, out)  # side tables (Parquet per-image rows) travel as files
    iris = [MANIFEST] + [g.iri for g in records]
    total = store.count(MANIFEST) + sum(r.triples for r in records)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], max(total, done[0]))

    for i, iri in enumerate(iris):
        rel = release_file(iri, i)
        # canonical blank nodes and line order: the same store always exports to the same bytes
        f = write_canonical_graph(store, iri, out / rel, progress=tick)
        entries.append({"graph": iri, "file": rel, "sha256": f.sha256, "bytes": f.bytes, "triples": f.quads,
                        **({"table": side[iri]} if iri in side else {})})
    release = {"format": RELEASE_FORMAT, "created": utc_now(), "base": BASE, "store": store.selector,
               "graphs": entries}
    (out / "release.json").write_text(json.dumps(release, indent=2) + "\n")
    (out / "README.md").write_text(release_readme(release, records))
    return release


def import_release(store: Store, directory: str | Path, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Restore a release written by :func:`export_release`. Checksums are verified for every file
    before anything is written; graphs already in the store are refused; all-or-nothing."""
    src = Path(directory)
    release = read_release(src)
    for e in release["graphs"]:
        check_release_file(src / e["file"], e["sha256"], e["bytes"])
    check_release_tables(src, release["graphs"])
    existing = set(store.named_graphs())
    clash = [e["graph"] for e in release["graphs"] if e["graph"] in existing and e["graph"] != MANIFEST]
    if clash:
        raise ValidationError(f"graphs already in the store: {', '.join(clash[:5])}; drop them first")
    # Validate every file fully before the first write.
    for e in release["graphs"]:
        try:
            with open(src / e["file"], "rb") as fh:
                for q in parse_rdf(fh, RdfFormat.N_QUADS):
                    if not isinstance(q.graph_name, NamedNode) or q.graph_name.value != e["graph"]:
                        raise IntegrityError(f"{src / e['file']}: quad outside graph {e['graph']}")
        except SyntaxError as exc:
            raise IntegrityError(f"{src / e['file']}: {exc}") from exc
    written: list[str] = []
    manifest_quads: list[Quad] = []
    files: list[Path] = []
    try:
        files = import_tables(store, src, release["graphs"])
        for e in release["graphs"]:
            if e["graph"] == MANIFEST:
                with open(src / e["file"], "rb") as fh:
                    manifest_quads = list(parse_rdf(fh, RdfFormat.N_QUADS))
                continue
            written.append(e["graph"])
            store.load_file(src / e["file"], RdfFormat.N_QUADS, e["graph"], keep_graphs=True)
            if progress:
                progress(e["graph"])
        store.flush()
        crash_point("import:written")
        store.update(data_op("INSERT DATA", manifest_quads))  # one transaction, whatever its size
    except BaseException:
        for g in written:
            store.drop_graph(g)
        for f in files:
            f.unlink(missing_ok=True)
        raise
    store.flush()
    return release


def release_readme(release: dict[str, Any], records: list[GraphRecord]) -> str:
    """The README of a release: what it holds, per graph and per kind, and how to restore it."""
    by_iri = {r.iri: r for r in records}
    lines = ["# traitkg release", "", f"Created {release['created']} from `{release['store']}` (base `{release['base']}`).",
             "Restore with `traitkg import DIR`; compare two releases with `traitkg release diff A B`.", "",
             "| kind | name | version | triples | source | sha256 of the N-Quads |", "|---|---|---|---|---|---|"]
    totals: dict[str, list[int]] = {}
    for e in release["graphs"]:
        rec = by_iri.get(e["graph"])
        if rec is None:
            continue
        lines.append(f"| {rec.kind} | {rec.name} | {rec.version} | {e['triples']:,} | {rec.source} | `{e['sha256'][:16]}` |")
        t = totals.setdefault(rec.kind, [0, 0])
        t[0] += 1
        t[1] += e["triples"]
    lines += ["", "| kind | graphs | triples |", "|---|---|---|"]
    lines += [f"| {k} | {n} | {t:,} |" for k, (n, t) in sorted(totals.items())]
    return "\n".join(lines) + "\n"


@dataclass
class CategoryChange:
    """Members of one category (e.g. taxa) only in the first or only in the second release."""

    name: str
    type: str
    added: int = 0
    removed: int = 0
    sample_added: list[str] = field(default_factory=list)
    sample_removed: list[str] = field(default_factory=list)


@dataclass
class ReleaseDiff:
    """What changed from release ``a`` to release ``b``."""

    a: str
    b: str
    graphs_added: list[dict[str, Any]] = field(default_factory=list)
    graphs_removed: list[dict[str, Any]] = field(default_factory=list)
    graphs_updated: list[dict[str, Any]] = field(default_factory=list)  # same kind/name, another version
    graphs_unchanged: int = 0
    categories: list[CategoryChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        parts = [f"{self.a} -> {self.b}: {len(self.graphs_added)} graphs added, {len(self.graphs_removed)} removed, "
                 f"{self.graphs_unchanged} unchanged"]
        for u in self.graphs_updated:
            parts.append(f"  {u['kind']}/{u['name']}: {u['from']} -> {u['to']} ({u['triples_from']:,} -> {u['triples_to']:,} triples)")
        for c in self.categories:
            if c.added or c.removed:
                parts.append(f"  {c.name}: +{c.added:,} -{c.removed:,}")
        return "\n".join(parts)


def read_release(directory: Path) -> dict[str, Any]:
    """``release.json`` of a release directory, checked for its format (files are not read)."""
    meta_path = directory / "release.json"
    if not meta_path.is_file():
        raise IntegrityError(f"{directory} is not a traitkg release: release.json is missing")
    try:
        release = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"{meta_path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    if release.get("format") != RELEASE_FORMAT:
        raise IntegrityError(f"{meta_path}: format {release.get('format')!r}, expected {RELEASE_FORMAT!r}")
    return release


def _release_records(directory: Path) -> tuple[dict[str, Any], dict[str, GraphRecord]]:
    release = read_release(directory)
    manifest = next((e for e in release["graphs"] if e["graph"] == MANIFEST), None)
    records: dict[str, GraphRecord] = {}
    if manifest is not None:  # the manifest's own quads say each graph's kind, name and version
        from kg.core.store import open_store

        mem = open_store("oxigraph:")
        try:
            mem.load_file(directory / manifest["file"], RdfFormat.N_QUADS, MANIFEST, keep_graphs=True)
            records = {r.iri: r for r in list_graphs(mem)}
        finally:
            mem.close()
    return release, records


def _members(path: Path, types: dict[str, str]) -> dict[str, set[str]]:
    wanted = {NamedNode(t): name for name, t in types.items()}
    rdf_type = NamedNode(RDF_TYPE)
    out: dict[str, set[str]] = {name: set() for name in types}
    with open(path, "rb") as fh:
        for q in parse_rdf(fh, RdfFormat.N_QUADS):
            if q.predicate == rdf_type and (name := wanted.get(q.object)) is not None:
                out[name].add(q.subject.value if isinstance(q.subject, NamedNode) else str(q.subject))
    return out


def diff_releases(a: str | Path, b: str | Path, *, sample: int = 10) -> ReleaseDiff:
    """Compare two release directories: graphs added, removed, updated (same kind and name, another
    version) and, per :data:`CATEGORIES`, the members only in one of them. Graphs with the same
    checksum in both are not read (they cannot differ)."""
    pa, pb = Path(a), Path(b)
    ra, meta_a = _release_records(pa)
    rb, meta_b = _release_records(pb)
    ea = {e["graph"]: e for e in ra["graphs"] if e["graph"] != MANIFEST}
    eb = {e["graph"]: e for e in rb["graphs"] if e["graph"] != MANIFEST}
    diff = ReleaseDiff(a=str(pa), b=str(pb))

    def key(meta: dict[str, GraphRecord], iri: str) -> tuple[str, str]:
        r = meta.get(iri)
        return (r.kind, r.name) if r else ("?", iri)

    def desc(meta: dict[str, GraphRecord], e: dict[str, Any]) -> dict[str, Any]:
        r = meta.get(e["graph"])
        return {"graph": e["graph"], "kind": r.kind if r else None, "name": r.name if r else None,
                "version": r.version if r else None, "triples": e["triples"]}

    shas_a = {e["sha256"] for e in ea.values()}
    shas_b = {e["sha256"] for e in eb.values()}
    only_a = [e for g, e in ea.items() if g not in eb]
    only_b = [e for g, e in eb.items() if g not in ea]
    diff.graphs_unchanged = sum(1 for g in ea if g in eb and ea[g]["sha256"] == eb[g]["sha256"])
    old_by_key = {key(meta_a, e["graph"]): e for e in only_a}
    for e in only_b:
        k = key(meta_b, e["graph"])
        if k in old_by_key:
            o = old_by_key.pop(k)
            diff.graphs_updated.append({"kind": k[0], "name": k[1], "from": meta_a[o["graph"]].version,
                                        "to": meta_b[e["graph"]].version, "triples_from": o["triples"],
                                        "triples_to": e["triples"]})
        else:
            diff.graphs_added.append(desc(meta_b, e))
    diff.graphs_removed = [desc(meta_a, e) for e in old_by_key.values()]
    # members per category, read only from graphs whose bytes differ between the releases
    sets_a: dict[str, set[str]] = {n: set() for n in CATEGORIES}
    sets_b: dict[str, set[str]] = {n: set() for n in CATEGORIES}
    for entries, root, other, sets in ((ea, pa, shas_b, sets_a), (eb, pb, shas_a, sets_b)):
        for e in entries.values():
            if e["sha256"] in other:
                continue
            for n, members in _members(root / e["file"], CATEGORIES).items():
                sets[n] |= members
    for n, t in CATEGORIES.items():
        add, rem = sorted(sets_b[n] - sets_a[n]), sorted(sets_a[n] - sets_b[n])
        diff.categories.append(CategoryChange(n, t, len(add), len(rem), add[:sample], rem[:sample]))
    return diff


__all__ = ["RELEASE_FORMAT", "CATEGORIES", "export_release", "import_release", "read_release", "release_readme",
           "diff_releases",
           "ReleaseDiff", "CategoryChange", "release_file"]
