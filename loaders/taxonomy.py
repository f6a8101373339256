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

import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.core.bulk import gc_paused
from kg.core.errors import EXCERPT, ParseError, ValidationError, excerpt
from kg.core.graphs import slug
from kg.core.names import normalise_name
from kg.core.sources import Source, csv_rows, sniff_delimiter
from kg.core.store import NamedNode, RdfFormat, Store
from loaders._base import Progress, ingest, stage
from loaders._taxon_table import CHUNK_TAXA, TaxonRecord, TaxonTable, ntriples_chunks
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


@dataclass
class Classification:
    """What :func:`parse` read: the taxa (compactly in ``table``; ``taxa`` gives them as records by
    name), the rank columns, rows read, warnings ``(message, line, value)`` and the column roles."""

    table: TaxonTable
    rank_columns: list[str]
    rows: int
    warnings: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # column -> role
    unused: list[str] = field(default_factory=list)
    split_vernacular: int = 0
    derived: dict[str, int] = field(default_factory=dict)  # rank -> taxa named by the name below, no column
    skipped_rows: int = 0

    @property
    def taxa(self) -> dict[str, TaxonRecord]:
        """Every taxon as a :class:`TaxonRecord`, by name, in the order first named (built on each
        call: for small tables and the Python API; the load reads ``table``)."""
        t = self.table
        return {name: t.record(i) for i, name in enumerate(t.names)}


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
              have: set[str], where: str, line: int,
              memo: dict[tuple[int, str], tuple[str, str, str | None, str | None]] | None = None,
              ) -> list[tuple[str, str, str | None, str | None, bool]]:
    """A row's taxa from the highest rank down: (name, rank, vernacular, authorship, derived). A
    genus (or a species) that has no column is taken from the species' binomial (the subspecies'
    trinomial): derived. ``memo`` keeps what a cell above the species gave (those repeat on many rows)."""
    out: list[tuple[str, str, str | None, str | None, bool]] = []
    for i, rank in cols:
        cell = row[i]
        if memo is not None and (hit := memo.get((i, cell))) is not None:
            out.append((*hit, False))
            continue
        cell = cell.strip()
        if not cell:
            continue
        if len(cell) > MAX_NAME:
            raise ParseError(f"column {excerpt(header[i])}: a name of {len(cell):,} characters (at most {MAX_NAME})",
                             source=where, line=line, value=cell)
        sci, vern, auth = split_name(cell, rank)
        name = normalise_name(sci)
        if memo is not None and rank not in ("species", "subspecies"):
            memo[(i, row[i])] = (name, rank, vern, auth)
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


@contextmanager
def _text_lines(src: Source, progress: Progress | None) -> Iterator[tuple[Iterable[str], str]]:
    """The table's lines as a UTF-8 text stream (``newline=""``, a byte-order mark dropped) and its
    first line; ``progress(bytes read, size)`` as it is read. The file is never held whole."""
    where = str(src.path)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        progress(done[0], src.size)  # type: ignore[misc]

    with src.open(progress=tick if progress else None) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")  # type: ignore[arg-type]
        try:
            head = fh.read(1 << 16).lstrip("\ufeff")
            while head.isspace() and (more := fh.read(1 << 16)):  # a blank start: read on to the first text
                head += more
            if not head.strip():
                raise ParseError("empty classification table", source=where, line=1)
            if not head.endswith(("\n", "\r")):
                head += fh.readline()  # the first chunk ends with a whole line
            yield itertools.chain(io.StringIO(head, newline=""), fh), head.split("\n", 1)[0]
        except UnicodeDecodeError:
            src.read_text()  # raises the error with its line
            raise ParseError("not valid utf-8 text", source=where) from None


def parse(path: str | Path | Source, *, delimiter: str | None = None, columns: Mapping[str, str] | None = None,
          lenient: bool = False, progress: Progress | None = None) -> Classification:
    """Read a classification table into taxon records (pure; no store). The file is read as a
    stream and each taxon kept compactly (:class:`loaders._taxon_table.TaxonTable`), so memory grows
    by a few hundred bytes a taxon; ``progress(bytes, size)`` follows the read."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    with _text_lines(src, progress) as (lines, first):
        return _read(lines, first, str(src.path), delimiter, columns or {}, lenient)


def _read(lines: Iterable[str], first: str, where: str, delimiter: str | None, columns: Mapping[str, str],
          lenient: bool) -> Classification:
    delim = delimiter or sniff_delimiter(first)
    rows = csv_rows(lines, source=where, delimiter=delim)
    header = [h.strip() for h in next(rows)[1]]
    roles = _assign_roles(header, columns, where)
    cols = sorted(((i, r) for i, r in roles.items() if r in RANKS), key=lambda c: RANKS.index(c[1]))
    if not cols:
        raise ParseError(f"no rank column in the header ({excerpt(', '.join(header), 200)}); name one with "
                         f"--column RANK=COLUMN (ranks: {', '.join(RANKS)})", source=where, line=1)
    ids = [(i, ID_ROLES[r]) for i, r in roles.items() if r in ID_ROLES]
    syn_col = next((i for i, r in roles.items() if r == "synonyms"), None)
    ver_col = next((i for i, r in roles.items() if r == "vernacular"), None)
    genus_col = next((i for i, r in cols if r == "genus"), None)
    have = {r for _, r in cols}
    table = TaxonTable(RANKS)
    out = Classification(table, [header[i] for i, _ in cols], 0, roles={header[i]: r for i, r in roles.items()},
                         unused=[h for i, h in enumerate(header) if i not in roles])
    index, names, ranks, parents, first_line = table.index, table.names, table.rank, table.parent, table.line
    code = {r: k for k, r in enumerate(RANKS)}
    owner: dict[str, tuple[int, int]] = {}  # external IRI -> (taxon, line)
    held: dict[tuple[int, str], tuple[str, int, str]] = {}  # (taxon, prefix) -> (IRI, line, value)
    warn = out.warnings.append
    width = len(header)
    memo: dict[tuple[int, str], tuple[str, str, str | None, str | None]] = {}  # cells above the species

    def problem(msg: str, line: int, value: str | None) -> None:
        if not lenient:
            raise ParseError(msg, source=where, line=line, value=value)
        warn((msg, line, value))

    with gc_paused():
        for line, row in rows:
            if not row or not any(c.strip() for c in row):
                continue
            out.rows += 1
            if len(row) != width:
                out.skipped_rows += 1
                problem(f"row has {len(row)} field(s), the header {width}"
                        + ("; the file looks cut short" if len(row) < width else "")
                        + ("; row skipped" if lenient else " (--lenient skips such rows)"), line,
                        excerpt(delim.join(row)))
                continue
            parent = -1
            for name, rank, vern, auth, derived in _row_taxa(row, cols, header, genus_col, have, where, line, memo):
                i = index.get(name)
                if i is None:
                    i = table.add(name, code[rank], parent, line)
                    if derived:
                        out.derived[rank] = out.derived.get(rank, 0) + 1
                elif RANKS[ranks[i]] != rank:
                    warn((f"{name!r} appears as {RANKS[ranks[i]]} (line {first_line[i]}) and as {rank}", line, name))
                elif parents[i] != parent and parent >= 0:
                    warn((f"{name!r} has parent {table.name_of(parents[i])!r} (line {first_line[i]}) and "
                          f"{names[parent]!r}; the first is kept", line, name))
                if vern and vern not in table.vernacular.get(i, ()):
                    table.vernacular.setdefault(i, []).append(vern)
                    out.split_vernacular += 1
                if auth and i not in table.authorship:
                    table.authorship[i] = auth
                parent = i
            if parent < 0:
                warn(("row names no taxon", line, excerpt(delim.join(row))))
                continue
            lowest = parent
            low_name = names[lowest]
            if syn_col is not None and row[syn_col].strip():
                for s in re.split(r"[;|]", row[syn_col]):
                    s = normalise_name(s)
                    if s and s != low_name and s not in table.synonyms.get(lowest, ()):
                        table.synonyms.setdefault(lowest, []).append(s)
            if ver_col is not None and (v := row[ver_col].strip()) and v not in table.vernacular.get(lowest, ()):
                table.vernacular.setdefault(lowest, []).append(v)
            for i, prefix in ids:
                v = row[i].strip()
                if not v:
                    continue
                try:
                    iri = _external_iri(prefix, v)
                    NamedNode(iri)  # a valid IRI (the bulk path does not check them again)
                except Exception as exc:
                    warn((f"column {excerpt(header[i])}: bad {prefix} id {excerpt(v)} ({type(exc).__name__})", line, v))
                    continue
                first = owner.get(iri)
                if first is not None and first[0] != lowest:
                    problem(f"column {excerpt(header[i])}: id {excerpt(v)} would be an exact match of "
                            f"{names[first[0]]!r} (line {first[1]}) and of {low_name!r}; one id names one taxon",
                            line, v)
                    continue
                had = held.get((lowest, prefix))
                if had is not None and had[0] != iri:
                    problem(f"column {excerpt(header[i])}: {low_name!r} ({RANKS[ranks[lowest]]}) would get a second "
                            f"{prefix} id ({excerpt(v)}; {excerpt(had[2])} on line {had[1]}): the id column names a "
                            "lower rank than the lowest rank column filled in on this row (map the lower rank with "
                            "--column RANK=COLUMN"
                            + (f"; unused columns: {', '.join(out.unused)})" if out.unused else ")"), line, v)
                    continue
                held.setdefault((lowest, prefix), (iri, line, v))
                owner[iri] = (lowest, line)
                ext = table.external.setdefault(lowest, [])
                if iri not in ext:
                    ext.append(iri)
    if not len(table):
        raise ParseError("the classification table names no taxa", source=where)
    return out


def triples(cls: Classification) -> list[tuple[NamedNode, NamedNode, Any]]:
    """The taxon hierarchy as RDF triples (for small tables; the load writes N-Triples chunks)."""
    from kg.core.store import parse_rdf

    data = b"".join(chunk for chunk, _ in ntriples_chunks(cls.table))
    return [(t.subject, t.predicate, t.object) for t in parse_rdf(data, RdfFormat.N_TRIPLES)]


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         delimiter: str | None = None, columns: Mapping[str, str] | None = None, lenient: bool = False,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load a classification table into its own graph (kind ``taxonomy``); ``columns`` maps roles
    to columns (``{"order": "ORDER1", "species": "SCI_NAME"}``). The whole table is read and
    checked first (nothing is written if it is refused), then written in chunks through the store's
    bulk path; ``progress`` follows both stages (:func:`loaders._base.stage`)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    cls = parse(src, delimiter=delimiter, columns=columns, lenient=lenient, progress=stage(progress, "read", "B"))
    table = cls.table
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
    rep.counts.update({"rows": cls.rows, "taxa": len(table), **table.rank_counts(),
                       "synonyms": sum(map(len, table.synonyms.values())),
                       "vernacular_names": sum(map(len, table.vernacular.values())),
                       "external_ids": sum(map(len, table.external.values()))})
    if cls.skipped_rows:
        rep.counts["skipped_rows"] = cls.skipped_rows
    params: dict[str, Any] = {"delimiter": delimiter} if delimiter else {}
    if columns:
        params["columns"] = dict(columns)
    if lenient:
        params["lenient"] = True
    write_progress = stage(progress, "write", "taxa")

    def write(graph: str) -> int:
        from kg.core.bulk import load_chunks

        return load_chunks(store, _counted(ntriples_chunks(table), len(table), write_progress), graph)

    rep.parsed = table  # type: ignore[attr-defined]  # the facade keeps the taxa's names from it
    return ingest(store, src, kind=KIND, name=name or slug(src.stem), version=version, loader="taxonomy",
                  writer=write, parameters=params, report=rep, counted=True)


def _counted(chunks: Iterator[tuple[bytes, int]], taxa: int, progress: Progress | None) -> Iterator[tuple[bytes, int]]:
    """``chunks`` as they are, telling ``progress`` how many of the ``taxa`` have been handed on."""
    done = 0
    if progress:
        progress(0, taxa)
    for data, n in chunks:
        yield data, n
        done = min(taxa, done + CHUNK_TAXA)
        if progress:
            progress(done, taxa)
