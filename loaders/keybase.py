"""KeyBase dichotomous keys: single keys (CSV/TSV ``from, statement, to[, shortcut]``) and
project exports (a zip with ``project_metadata.yaml``, ``keys.tsv``, ``items.tsv``,
``sources.tsv`` and one TSV per key).

``parse(path)`` is pure and returns a :class:`KeyBaseProject` (a single key file is a project of
one key); ``load(...)`` validates every key (:func:`loaders.keymodel.validate`; the problems go
into the report, a key with problems is still loaded so it can be inspected) and writes one graph
of kind ``key`` per file: a project release keeps all of its keys in one graph, so they are
versioned and dropped together (see :mod:`loaders._key_rdf` for the shape). A malformed row
raises ``ParseError`` naming file, member and row (``lenient=True``: reported and skipped).

>>> from pathlib import Path
>>> p = parse(Path(__file__).parent.parent / "kg" / "sample" / "key-fish-orders.tsv")
>>> k = p.keys[0]
>>> len(k.leads), k.first, k.leads[2].item
(22, '1', 'Siluriformes')
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import ParseError
from kg.core.graphs import slug
from kg.core.sources import Source, csv_rows
from kg.core.store import RdfFormat, Store
from loaders._base import Progress, ingest
from loaders._key_rdf import keys_ntriples
from loaders.keymodel import Key, problem_counts, validate_all
from loaders.report import LoadReport, Problem

KIND = "key"
FORMATS = ("keybase",)
EXTENSIONS = ("zip",)  # single CSV/TSV keys: `traitkg load key FILE` or format="keybase"

_HEADERS = {("from", "statement", "to"), ("from", "text", "to")}  # KeyBase's exports; its import docs
_NUMERIC = re.compile(r"\s*\d+\s*")


@dataclass
class KeyBaseProject:
    """A KeyBase project (or a single key file as a project of one key)."""

    name: str
    title: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: list[tuple[str, int | None, str | None]] = field(default_factory=list)


def _delimiter(text: str) -> str:
    """Tab or comma: the one that splits the first rows into 3 or 4 fields (quotes respected)."""
    head = "\n".join(text.splitlines()[:20])

    def fits(d: str) -> int:
        try:
            return sum(1 for _, r in csv_rows(head, source="", delimiter=d) if r and 3 <= len(r) <= 4)
        except ParseError:  # a malformed head: the reading proper says where
            return 0

    return "\t" if fits("\t") >= fits(",") else ","


def parse_key_text(text: str, *, key_id: str, where: str, title: str = "", delimiter: str | None = None,
                   lenient: bool = False, warnings: list | None = None) -> list[Key]:
    """The keys in one KeyBase CSV/TSV text: the main key first, then its sub-keys. A header row is
    optional (KeyBase: the first cell is a couplet number when there is none); the second column
    may be headed ``statement`` or ``text``. A fourth column is the lead's shortcut, or, headed
    ``subkey``, the sub-key a row belongs to (KeyBase's import format for keys with sub-keys: rows
    with an empty ``subkey`` form the main key; a lead whose ``to`` names a sub-key hands over to it).
    Sub-keys are named ``<key id>-<sub-key name>`` and titled by their name."""
    text = text.lstrip("\ufeff")
    delim = delimiter or _delimiter(text)
    rows: list[tuple[str, str, str]] = []
    lines: list[int] = []
    fourth: list[str] = []
    header: list[str] | None = None
    for line, row in csv_rows(text, source=where, delimiter=delim):
        if not row or not any(c.strip() for c in row):
            continue
        if header is None and not rows and not _NUMERIC.fullmatch(row[0] or ""):
            header = [c.strip().lower() for c in row]
            if tuple(header[:3]) not in _HEADERS or (len(header) > 3 and header[3] not in ("shortcut", "subkey", "")):
                raise ParseError(f"header {row!r} is not KeyBase's; expected from, statement (or text), to"
                                 "[, shortcut or subkey]", source=where, line=line, value=delim.join(row)[:80])
            continue
        if tuple(c.strip().lower() for c in row[:3]) in _HEADERS:
            continue  # the header repeated inside the file (some KeyBase exports do that)
        while len(row) > 4 and not row[-1].strip():
            row = row[:-1]
        problem = None
        if len(row) < 3:
            problem = f"row has {len(row)} field(s); expected 3 (from, statement, to)"
        elif len(row) > 4:
            problem = f"row has {len(row)} fields; expected 3 or 4 (from, statement, to, shortcut)"
        elif not row[0].strip():
            problem = "row has an empty 'from' (couplet) cell"
        elif not row[1].strip():
            problem = "row has an empty statement"
        if problem:
            if not lenient:
                raise ParseError(problem, source=where, line=line, value=delim.join(row)[:80])
            if warnings is not None:
                warnings.append((f"{where}: {problem}; row skipped", line, delim.join(row)[:80]))
            continue
        rows.append((row[0], row[1], row[2]))
        fourth.append(row[3].strip() if len(row) > 3 else "")
        lines.append(line)
    if not rows:
        raise ParseError("the key has no leads", source=where, line=1)
    if not (header and len(header) > 3 and header[3] == "subkey"):
        return [Key.from_rows(key_id, rows, title=title, source=where, lines=lines,
                              shortcuts=fourth if any(fourth) else None)]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(fourth):
        groups.setdefault(name, []).append(i)
    if "" not in groups:
        raise ParseError("no row belongs to the main key (every row names a subkey)", source=where, line=lines[0],
                         value=fourth[0])
    ids = {name: f"{key_id}-{slug(name)}" if name else key_id for name in groups}
    keys = []
    for name, idx in sorted(groups.items(), key=lambda kv: kv[0] != ""):
        k = Key.from_rows(ids[name], [rows[i] for i in idx], title=name or title, source=where,
                          lines=[lines[i] for i in idx])
        k.parent = key_id if name else None
        for lead in k.leads:
            if lead.item in ids and lead.item and not lead.shortcut:
                lead.subkey, lead.item = ids[lead.item], None
        keys.append(k)
    return keys


def _tsv(text: str, where: str = "") -> list[dict[str, str]]:
    rows = [r for _, r in csv_rows(text.lstrip("\ufeff"), source=where, delimiter="\t")]
    if not rows:
        return []
    head = rows[0]
    return [{k: (r[i] if i < len(r) else "") for i, k in enumerate(head)} for r in rows[1:] if r]


def _yaml_flat(text: str) -> dict[str, str]:
    """The flat ``key: value`` lines of ``project_metadata.yaml`` (all KeyBase writes there)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_]\w*):\s*(.*)$", line)
        if m:
            v = m.group(2).strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out[m.group(1)] = "" if v in ("null", "~") else v
    return out


def _parse_zip(src: Source, *, lenient: bool) -> KeyBaseProject:
    where = str(src.path)
    try:
        zf = zipfile.ZipFile(src.path)
    except zipfile.BadZipFile as exc:
        raise ParseError(f"not a zip file: {exc}", source=where) from exc
    with zf:
        names = set(zf.namelist())

        def text(member: str) -> str:
            try:
                return zf.read(member).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ParseError(f"member {member} is not UTF-8: {exc}", source=where) from exc
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise ParseError(f"member {member} cannot be read: {exc}", source=where) from None

        meta = _yaml_flat(text("project_metadata.yaml")) if "project_metadata.yaml" in names else {}
        proj = KeyBaseProject(name=slug(meta.get("title") or src.stem).lower(), title=meta.get("title") or src.stem,
                              metadata=meta)
        if "items.tsv" in names:
            for r in _tsv(text("items.tsv"), f"{where}!items.tsv"):
                if r.get("name"):
                    proj.items[r["name"].strip()] = {"id": r.get("id", ""), "url": r.get("url", "")}
        if "sources.tsv" in names:
            proj.sources = {r["id"]: r for r in _tsv(text("sources.tsv"), f"{where}!sources.tsv") if r.get("id")}
        listed = _tsv(text("keys.tsv"), f"{where}!keys.tsv") if "keys.tsv" in names else []
        if not listed:
            listed = [{"id": n.split("-")[1] if n.count("-") > 1 else Path(n).stem, "key_file": n, "title": ""}
                      for n in sorted(names) if n.startswith("key-") and n.endswith((".tsv", ".csv"))]
        for r in listed:
            member = r.get("key_file", "")
            if member not in names:
                msg = f"keys.tsv lists key {r.get('id')!r} with file {member!r}, which is not in the zip"
                if not lenient:
                    raise ParseError(msg, source=where, value=member)
                proj.warnings.append((msg, None, member))
                continue
            key, *subs = parse_key_text(text(member), key_id=r.get("id") or Path(member).stem,
                                        where=f"{where}#{member}", title=r.get("title", ""), lenient=lenient,
                                        warnings=proj.warnings, delimiter="\t" if member.endswith(".tsv") else None)
            key.scope = (r.get("item") or "").strip() or None
            src_rec = proj.sources.get(r.get("source_id", ""))
            key.metadata = {"creator": r.get("author", ""), "description": r.get("description", ""),
                            "spatial": r.get("spatial", ""), "modified": r.get("updated_at", ""),
                            "bibliographicCitation": _citation(src_rec) if src_rec else ""}
            for k in (key, *subs):
                k.items = {n: proj.items[n] for n in k.item_names() + ([k.scope] if k.scope else [])
                           if n in proj.items}
            proj.keys += [key, *subs]
    if not proj.keys:
        raise ParseError("the KeyBase export holds no keys", source=where)
    return proj


def _citation(s: dict[str, str]) -> str:
    parts = [s.get("author", ""), f"({s['year']})" if s.get("year") else "", s.get("title", ""),
             ("In: " + s["collection_title"]) if s.get("collection_title") else "", s.get("publisher", "")]
    return " ".join(p for p in parts if p).strip()


def parse(path: str | Path | Source, *, delimiter: str | None = None, lenient: bool = False) -> KeyBaseProject:
    """Read a KeyBase key (CSV/TSV) or project export (zip) into records (pure; no store)."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    if zipfile.is_zipfile(src.path):
        return _parse_zip(src, lenient=lenient)
    where = str(src.path)
    try:
        text = src.read_text()
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text: {exc}", source=where) from exc
    proj = KeyBaseProject(name=slug(src.stem).lower(), title=src.stem)
    proj.keys += parse_key_text(text, key_id=slug(src.stem).lower(), where=where, title=src.stem,
                                delimiter=delimiter, lenient=lenient, warnings=proj.warnings)
    return proj


def report_problems(rep: LoadReport, keys: list[Key]) -> dict[str, int]:
    """Validate the keys (each, and across them: :func:`loaders.keymodel.validate_all`), put the
    problems into the report (``key_id: message``, the source row of the first offending lead, the
    lead ids as value) and return the counts per problem class."""
    probs = validate_all(keys)
    for kid, p in probs:
        rep.problems.append(Problem(f"{kid}: {p.kind}: {p.message}", p.lines[0] if p.lines else None,
                                    ",".join(p.leads), p.severity))
    return problem_counts(p for _k, p in probs)


def write(store: Store, src: Source, *, project: str, project_label: str, keys: list[Key], rep: LoadReport,
          name: str | None, version: str | None, loader: str, parameters: dict[str, Any]) -> LoadReport:
    """Validate, count and write keys into one ``key`` graph (shared by the KeyBase and SDD loaders)."""
    totals = report_problems(rep, keys)
    rep.counts.update({"keys": len(keys), "couplets": sum(len(k.couplets()) for k in keys),
                       "leads": sum(len(k.leads) for k in keys),
                       "items": len({n for k in keys for n in k.item_names()})})
    rep.counts.update({f"problems_{c}": n for c, n in totals.items()})
    data, n = keys_ntriples(project, project_label, keys)

    def writer(graph: str) -> int:
        store.load_file(data, RdfFormat.N_TRIPLES, graph)
        return n

    return ingest(store, src, kind=KIND, name=name or project, version=version, loader=loader, writer=writer,
                  parameters=parameters, report=rep, counted=True)


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         delimiter: str | None = None, lenient: bool = False, progress: Progress | None = None,
         **_: Any) -> LoadReport:
    """Load a KeyBase key or project export into graph ``key/<name>/<version>`` (name: the project)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    proj = parse(src, delimiter=delimiter, lenient=lenient)
    rep = LoadReport(source=src.origin, kind=KIND)
    for msg, line, val in proj.warnings:
        rep.warn(msg, line=line, value=val)
    params: dict[str, Any] = {k: v for k, v in (("delimiter", delimiter), ("lenient", lenient)) if v}
    out = write(store, src, project=name or proj.name, project_label=proj.title, keys=proj.keys, rep=rep,
                name=name, version=version, loader="keybase", parameters=params)
    if progress:
        progress(src.size, src.size)
    return out
