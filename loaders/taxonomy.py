"""Classification tables (CSV/TSV with rank columns) into a taxon hierarchy.

Every column has a role (docs/formats/taxonomy.md): a rank (``kingdom`` ... ``order``, ``family``,
``genus``, ``species``, ``subspecies``; any of :data:`RANKS`), an external id (``vto``,
``ncbitaxon``, ``ott``, ``gbif``: ``skos:exactMatch`` of the row's lowest taxon), ``synonyms``
(``;`` or ``|`` separated) or ``vernacular`` (a common name of the row's lowest taxon,
``dwc:vernacularName``). Columns named after a role (case-insensitively, with the usual variants
such as ``genus.species`` or ``ott_id``) are recognised; ``columns={"order": "ORDER1"}``
(``--column order=ORDER1``) names the others. Every column left unused is reported.

Each distinct name becomes one taxon at ``kg.core.names.taxon_iri(name)`` with
``dwc:scientificName``, ``dwc:taxonRank`` and ``tkg:parentTaxon`` (the nearest higher rank filled
in on the row). A species epithet without its genus is completed from the genus column. A name
followed by an English name in parentheses (``Tyrannidae (Tyrant Flycatchers)``) is split: the
scientific name is ``Tyrannidae`` and the English name a vernacular name; a parenthesis holding a
year (``(Hamilton, 1822)``) is the authorship (``dwc:scientificNameAuthorship``).

Strict by default: a row with fewer or more fields than the header, an id that would become an
exact match of several taxa, or several ids of one source on one taxon refuse the table
(``lenient=True``: the row or id is left out and reported).

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "c.csv"
>>> _ = p.write_text("order,family,genus,species,synonyms\\nCypriniformes,Danionidae,Danio,rerio,Brachydanio rerio\\n")
>>> [(t.name, t.rank, t.parent) for t in parse(p).taxa.values()]
[('Cypriniformes', 'order', None), ('Danionidae', 'family', 'Cypriniformes'), ('Danio', 'genus', 'Danionidae'), ('Danio rerio', 'species', 'Danio')]
>>> tmp.cleanup()
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import EXCERPT, ParseError, ValidationError, excerpt
from kg.core.graphs import slug
from kg.core.names import DWC, SKOS_EXACT, TKG_PARENT_TAXON, TKG_SYNONYM, TKG_TAXON, normalise_name, taxon_iri
from kg.core.sources import Source, csv_rows, sniff_delimiter
from kg.core.store import Literal, NamedNode, Store
from loaders._base import Progress, ingest, write_triples
from loaders.report import LoadReport

KIND = "taxonomy"
FORMATS = ("taxonomy", "classification")
EXTENSIONS = ()  # CSV/TSV is not specific to taxonomies: load with `traitkg load taxonomy`

RANKS = ("domain", "kingdom", "phylum", "subphylum", "superclass", "class", "subclass", "infraclass",
         "superorder", "order", "suborder", "infraorder", "superfamily", "family", "subfamily", "tribe",
         "subtribe", "genus", "subgenus", "species", "subspecies")
#: external id roles -> CURIE prefix
ID_ROLES = {"vto": "VTO", "ncbitaxon": "NCBITaxon", "ott": "OTT", "gbif": "GBIF"}
#: every role a column can have (``columns={ROLE: COLUMN}``)
ROLES = (*RANKS, *ID_ROLES, "synonyms", "vernacular")
#: header names recognised without a mapping (lower case) -> role; ranks also as RANK_name
_ALIASES = {"genus.species": "species", "genus_species": "species", "scientificname": "species",
            "scientific_name": "species", "binomial": "species", "specificepithet": "species",
            "infraspecificepithet": "subspecies", "vto_id": "vto", "ncbi": "ncbitaxon", "ncbi_id": "ncbitaxon",
            "taxid": "ncbitaxon", "ncbi_taxid": "ncbitaxon", "ncbitaxon_id": "ncbitaxon", "ott_id": "ott",
            "ottid": "ott", "gbif_id": "gbif", "gbif_key": "gbif", "taxonkey": "gbif", "synonym": "synonyms",
            "vernacularname": "vernacular", "vernacular_name": "vernacular", "common_name": "vernacular",
            "commonname": "vernacular", "english_name": "vernacular", "english": "vernacular"}
#: the longest taxon name taken (a longer cell is not a name: a corrupt or wrong file)
MAX_NAME = 500
_PAREN = re.compile(r"^(?P<name>.*?\S)\s*\((?P<inner>[^()]*)\)\s*$")
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


@dataclass
class TaxonRecord:
    name: str
    rank: str
    parent: str | None = None
    line: int = 0
    synonyms: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    vernacular: list[str] = field(default_factory=list)
    authorship: str | None = None


@dataclass
class Classification:
    taxa: dict[str, TaxonRecord]
    rank_columns: list[str]
    rows: int
    warnings: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # column -> role
    unused: list[str] = field(default_factory=list)
    split_vernacular: int = 0
    derived: dict[str, int] = field(default_factory=dict)  # rank -> taxa named by the name below, no column
    skipped_rows: int = 0


def role_of(header: str) -> str | None:
    """The role a column has without a mapping (None: not recognised).

    >>> role_of("FAMILY"), role_of("genus.species"), role_of("OTT_ID"), role_of("ORDER1")
    ('family', 'species', 'ott', None)
    """
    key = header.strip().lower()
    key = _ALIASES.get(key, key)
    if key.endswith(("_name", " name")) and key[:-5] in RANKS:
        key = key[:-5]
    return key if key in ROLES else None


def split_name(text: str, rank: str) -> tuple[str, str | None, str | None]:
    """A cell as (scientific name, vernacular name, authorship): a trailing parenthesis holding a
    year is the authorship, one holding words is an English name (above the genus always; at the
    genus and below when it is more than one capitalised word, which is a subgenus).

    >>> split_name("Tyrannidae (Tyrant Flycatchers)", "family")
    ('Tyrannidae', 'Tyrant Flycatchers', None)
    >>> split_name("Danio rerio (Hamilton, 1822)", "species")
    ('Danio rerio', None, 'Hamilton, 1822')
    >>> split_name("Danio (Brachydanio)", "genus")
    ('Danio (Brachydanio)', None, None)
    """
    m = _PAREN.match(text)
    if not m:
        return text, None, None
    name, inner = m.group("name"), m.group("inner").strip()
    if re.search(r"\b1[5-9]\d\d\b|\b20\d\d\b", inner):
        return name, None, inner
    low = RANKS.index(rank) >= RANKS.index("genus") if rank in RANKS else False
    if not inner or (low and re.fullmatch(r"[A-Z][a-z]+", inner)):
        return text, None, None
    return name, inner, None


_GENUS = re.compile(r"[A-Z][a-z]+(?:-[a-z]+)?")


def _row_taxa(row: list[str], cols: list[tuple[int, str]], header: list[str], genus_col: int | None,
              have: set[str], where: str, line: int) -> list[tuple[str, str, str | None, str | None, bool]]:
    """A row's taxa from the highest rank down: (name, rank, vernacular, authorship, derived). A
    genus (or a species) that has no column is taken from the species' binomial (the subspecies'
    trinomial): derived."""
    out: list[tuple[str, str, str | None, str | None, bool]] = []
    for i, rank in cols:
        cell = row[i].strip()
        if not cell:
            continue
        if len(cell) > MAX_NAME:
            raise ParseError(f"column {excerpt(header[i])}: a name of {len(cell):,} characters (at most {MAX_NAME})",
                             source=where, line=line, value=cell)
        sci, vern, auth = split_name(cell, rank)
        name = normalise_name(sci)
        if rank in ("species", "subspecies") and " " not in name and genus_col is not None and row[genus_col].strip():
            name = f"{normalise_name(split_name(row[genus_col].strip(), 'genus')[0])} {name}"
        words = name.split()
        if rank in ("species", "subspecies") and "genus" not in have and len(words) >= 2 \
                and _GENUS.fullmatch(words[0]) and not any(t[1] == "genus" for t in out):
            out.append((words[0], "genus", None, None, True))
        if rank == "subspecies" and "species" not in have and len(words) >= 3 and _GENUS.fullmatch(words[0]):
            out.append((" ".join(words[:2]), "species", None, None, True))
        out.append((name, rank, vern, auth, False))
    return out


def _external_iri(prefix: str, value: str) -> str:
    from ontologies.prefixes import expand

    v = value.strip()
    if ":" in v or v.startswith("http"):
        return expand(v)
    v = re.sub(rf"^{prefix}_", "", v, flags=re.IGNORECASE)
    return expand(f"{prefix}:{v}")


def _assign_roles(header: list[str], columns: Mapping[str, str], where: str) -> dict[int, str]:
    """Column index -> role: the mapping first (its columns must exist), then the recognised names."""
    out: dict[int, str] = {}
    for role, col in columns.items():
        r = role.strip().lower()
        if r not in ROLES:
            raise ValidationError(f"unknown column role {excerpt(role)}; expected one of: "
                                  f"{', '.join(ROLES)}")
        if col not in header:
            raise ParseError(f"column {excerpt(col)} (mapped to {r}) is not in the header; the header has: "
                             f"{excerpt(', '.join(header), 300)}", source=where, line=1, value=col)
        i = header.index(col)
        if i in out:
            raise ValidationError(f"column {excerpt(col)} is mapped twice ({out[i]} and {r})")
        out[i] = r
    taken = set(out.values())
    for i, h in enumerate(header):
        r = role_of(h)
        if i not in out and r is not None and r not in taken:
            out[i] = r
            taken.add(r)
    return out


def parse(path: str | Path | Source, *, delimiter: str | None = None, columns: Mapping[str, str] | None = None,
          lenient: bool = False) -> Classification:
    """Read a classification table into taxon records (pure; no store)."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    where = str(src.path)
    text = src.read_text().lstrip("\ufeff")
    if not text.strip():
        raise ParseError("empty classification table", source=where, line=1)
    delim = delimiter or sniff_delimiter(text)
    rows = csv_rows(text, source=where, delimiter=delim)
    header = [h.strip() for h in next(rows)[1]]
    roles = _assign_roles(header, columns or {}, where)
    cols = sorted(((i, r) for i, r in roles.items() if r in RANKS), key=lambda c: RANKS.index(c[1]))
    if not cols:
        raise ParseError(f"no rank column in the header ({excerpt(', '.join(header), 200)}); name one with "
                         f"--column RANK=COLUMN (ranks: {', '.join(RANKS)})", source=where, line=1)
    ids = [(i, ID_ROLES[r]) for i, r in roles.items() if r in ID_ROLES]
    syn_col = next((i for i, r in roles.items() if r == "synonyms"), None)
    ver_col = next((i for i, r in roles.items() if r == "vernacular"), None)
    genus_col = next((i for i, r in cols if r == "genus"), None)
    have = {r for _, r in cols}
    out = Classification({}, [header[i] for i, _ in cols], 0, roles={header[i]: r for i, r in roles.items()},
                         unused=[h for i, h in enumerate(header) if i not in roles])
    taxa = out.taxa
    owner: dict[str, tuple[str, int]] = {}  # external IRI -> (taxon, line)
    held: dict[tuple[str, str], tuple[str, int, str]] = {}  # (taxon, prefix) -> (IRI, line, value)

    def problem(msg: str, line: int, value: str | None) -> None:
        if not lenient:
            raise ParseError(msg, source=where, line=line, value=value)
        out.warnings.append((msg, line, value))

    for line, row in rows:
        if not row or not any(c.strip() for c in row):
            continue
        out.rows += 1
        if len(row) != len(header):
            out.skipped_rows += 1
            problem(f"row has {len(row)} field(s), the header {len(header)}"
                    + ("; the file looks cut short" if len(row) < len(header) else "")
                    + ("; row skipped" if lenient else " (--lenient skips such rows)"), line,
                    excerpt(delim.join(row)))
            continue
        parent: str | None = None
        lowest: str | None = None
        for name, rank, vern, auth, derived in _row_taxa(row, cols, header, genus_col, have, where, line):
            rec = taxa.get(name)
            if rec is None:
                rec = taxa[name] = TaxonRecord(name, rank, parent, line)
                if derived:
                    out.derived[rank] = out.derived.get(rank, 0) + 1
            elif rec.rank != rank:
                out.warnings.append((f"{name!r} appears as {rec.rank} (line {rec.line}) and as {rank}", line, name))
            elif rec.parent != parent and parent is not None:
                out.warnings.append((f"{name!r} has parent {rec.parent!r} (line {rec.line}) and {parent!r}; "
                                     "the first is kept", line, name))
            if vern and vern not in rec.vernacular:
                rec.vernacular.append(vern)
                out.split_vernacular += 1
            if auth and rec.authorship is None:
                rec.authorship = auth
            parent = lowest = name
        if lowest is None:
            out.warnings.append(("row names no taxon", line, excerpt(delim.join(row))))
            continue
        rec = taxa[lowest]
        if syn_col is not None and row[syn_col].strip():
            for s in re.split(r"[;|]", row[syn_col]):
                s = normalise_name(s)
                if s and s != lowest and s not in rec.synonyms:
                    rec.synonyms.append(s)
        if ver_col is not None and row[ver_col].strip() and row[ver_col].strip() not in rec.vernacular:
            rec.vernacular.append(row[ver_col].strip())
        for i, prefix in ids:
            v = row[i].strip()
            if not v:
                continue
            try:
                iri = _external_iri(prefix, v)
            except Exception as exc:
                out.warnings.append((f"column {excerpt(header[i])}: bad {prefix} id {excerpt(v)} ({type(exc).__name__})", line, v))
                continue
            first = owner.get(iri)
            if first is not None and first[0] != lowest:
                problem(f"column {excerpt(header[i])}: id {excerpt(v)} would be an exact match of {first[0]!r} (line {first[1]}) "
                        f"and of {lowest!r}; one id names one taxon", line, v)
                continue
            had = held.get((lowest, prefix))
            if had is not None and had[0] != iri:
                problem(f"column {excerpt(header[i])}: {lowest!r} ({rec.rank}) would get a second {prefix} id ({excerpt(v)}; "
                        f"{excerpt(had[2])} on line {had[1]}): the id column names a lower rank than the lowest rank "
                        "column filled in on this row (map the lower rank with --column RANK=COLUMN"
                        + (f"; unused columns: {', '.join(out.unused)})" if out.unused else ")"), line, v)
                continue
            held.setdefault((lowest, prefix), (iri, line, v))
            owner[iri] = (lowest, line)
            if iri not in rec.external:
                rec.external.append(iri)
    if not taxa:
        raise ParseError("the classification table names no taxa", source=where)
    return out


def triples(cls: Classification) -> list[tuple[NamedNode, NamedNode, Any]]:
    """The taxon hierarchy as RDF triples."""
    typ, taxon, label = NamedNode(_RDF_TYPE), NamedNode(TKG_TAXON), NamedNode(_RDFS_LABEL)
    sci, rank_p, parent_p = NamedNode(DWC + "scientificName"), NamedNode(DWC + "taxonRank"), NamedNode(TKG_PARENT_TAXON)
    syn_p, exact = NamedNode(TKG_SYNONYM), NamedNode(SKOS_EXACT)
    vern_p, auth_p = NamedNode(DWC + "vernacularName"), NamedNode(DWC + "scientificNameAuthorship")
    out: list[tuple[NamedNode, NamedNode, Any]] = []
    for rec in cls.taxa.values():
        t = NamedNode(taxon_iri(rec.name))
        out += [(t, typ, taxon), (t, sci, Literal(rec.name)), (t, label, Literal(rec.name)),
                (t, rank_p, Literal(rec.rank))]
        if rec.parent:
            out.append((t, parent_p, NamedNode(taxon_iri(rec.parent))))
        out += [(t, syn_p, Literal(s)) for s in rec.synonyms]
        out += [(t, vern_p, Literal(v)) for v in rec.vernacular]
        if rec.authorship:
            out.append((t, auth_p, Literal(rec.authorship)))
        out += [(t, exact, NamedNode(x)) for x in dict.fromkeys(rec.external)]
    return out


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         delimiter: str | None = None, columns: Mapping[str, str] | None = None, lenient: bool = False,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load a classification table into its own graph (kind ``taxonomy``); ``columns`` maps roles
    to columns (``{"order": "ORDER1", "species": "SCI_NAME"}``)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    cls = parse(src, delimiter=delimiter, columns=columns, lenient=lenient)
    rep = LoadReport(source=src.origin, kind=KIND)
    for col in cls.unused:
        rep.warn(f"column {excerpt(col)} is not used (not a rank, id, synonym or vernacular column); give it a role "
                 f"with --column ROLE={col if len(col) <= EXCERPT else excerpt(col)}", line=1)
    if cls.derived:
        rep.warn("taxa of ranks without a column, taken from the names of the species (genus) or subspecies "
                 f"(species): {', '.join(f'{r} {n}' for r, n in cls.derived.items())}")
    if cls.split_vernacular:
        rep.warn(f"{cls.split_vernacular} name(s) carried a vernacular name in parentheses (e.g. "
                 "'Tyrannidae (Tyrant Flycatchers)'): taken out of the scientific name and kept as dwc:vernacularName")
    for msg, line, val in cls.warnings:
        rep.warn(msg, line=line, value=val)
    by_rank: dict[str, int] = {}
    for rec in cls.taxa.values():
        by_rank[rec.rank] = by_rank.get(rec.rank, 0) + 1
    rep.counts.update({"rows": cls.rows, "taxa": len(cls.taxa), **by_rank,
                       "synonyms": sum(len(r.synonyms) for r in cls.taxa.values()),
                       "vernacular_names": sum(len(r.vernacular) for r in cls.taxa.values()),
                       "external_ids": sum(len(r.external) for r in cls.taxa.values())})
    if cls.skipped_rows:
        rep.counts["skipped_rows"] = cls.skipped_rows
    data = triples(cls)
    params: dict[str, Any] = {"delimiter": delimiter} if delimiter else {}
    if columns:
        params["columns"] = dict(columns)
    if lenient:
        params["lenient"] = True
    return ingest(store, src, kind=KIND, name=name or slug(src.stem), version=version, loader="taxonomy",
                  writer=lambda g: write_triples(store, g, data), parameters=params, report=rep)
