"""Classification tables (CSV/TSV with rank columns) into a taxon hierarchy.

Columns named after ranks (``order``, ``family``, ``genus``, ``species`` or ``genus.species``,
...; any of the usual Linnaean ranks) give one taxon per distinct name at
``kg.core.names.taxon_iri(name)``, with ``dwc:scientificName``, ``dwc:taxonRank`` and
``tkg:parentTaxon`` (the nearest higher rank filled in on the row). Optional columns:
``synonyms`` (``;`` or ``|`` separated, ``tkg:synonym``) and external ids (``vto``,
``ncbitaxon``/``ncbi``/``taxid``, ``ott``, ``gbif``; ``skos:exactMatch``) for the row's
lowest-rank taxon. A species epithet without its genus is completed from the genus column.

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "c.csv"
>>> _ = p.write_text("order,family,genus,species,synonyms\\nCypriniformes,Danionidae,Danio,rerio,Brachydanio rerio\\n")
>>> [(t.name, t.rank, t.parent) for t in parse(p).taxa.values()]
[('Cypriniformes', 'order', None), ('Danionidae', 'family', 'Cypriniformes'), ('Danio', 'genus', 'Danionidae'), ('Danio rerio', 'species', 'Danio')]
>>> tmp.cleanup()
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import ParseError
from kg.core.graphs import slug
from kg.core.names import DWC, SKOS_EXACT, TKG_PARENT_TAXON, TKG_SYNONYM, TKG_TAXON, normalise_name, taxon_iri
from kg.core.sources import Source
from kg.core.store import Literal, NamedNode, Store
from loaders._base import Progress, ingest, write_triples
from loaders.report import LoadReport

KIND = "taxonomy"
FORMATS = ("taxonomy", "classification")
EXTENSIONS = ()  # CSV/TSV is not specific to taxonomies: load with `traitkg load taxonomy`

RANKS = ("domain", "kingdom", "phylum", "subphylum", "superclass", "class", "subclass", "infraclass",
         "superorder", "order", "suborder", "infraorder", "superfamily", "family", "subfamily", "tribe",
         "subtribe", "genus", "subgenus", "species", "subspecies")
_RANK_ALIASES = {"genus.species": "species", "genus_species": "species", "scientificname": "species",
                 "scientific_name": "species", "binomial": "species"}
_ID_COLUMNS = {"vto": "VTO", "vto_id": "VTO", "ncbitaxon": "NCBITaxon", "ncbi": "NCBITaxon",
               "ncbi_id": "NCBITaxon", "taxid": "NCBITaxon", "ncbi_taxid": "NCBITaxon", "ott": "OTT",
               "ott_id": "OTT", "gbif": "GBIF", "gbif_id": "GBIF", "gbif_key": "GBIF"}
_SYN_COLUMNS = ("synonyms", "synonym")
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


@dataclass
class Classification:
    taxa: dict[str, TaxonRecord]
    rank_columns: list[str]
    rows: int
    warnings: list[tuple[str, int | None, str | None]] = field(default_factory=list)


def _external_iri(prefix: str, value: str) -> str:
    from ontologies.prefixes import expand

    v = value.strip()
    if ":" in v or v.startswith("http"):
        return expand(v)
    v = re.sub(rf"^{prefix}_", "", v, flags=re.IGNORECASE)
    return expand(f"{prefix}:{v}")


def parse(path: str | Path | Source, *, delimiter: str | None = None) -> Classification:
    """Read a classification table into taxon records (pure; no store)."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    text = src.read_text()
    if not text.strip():
        raise ParseError("empty classification table", source=str(src.path), line=1)
    first = text.split("\n", 1)[0]
    delim = delimiter or ("\t" if first.count("\t") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    header = [h.strip() for h in next(reader)]
    cols: list[tuple[int, str]] = []
    ids: list[tuple[int, str]] = []
    syn_col = None
    for i, h in enumerate(header):
        key = h.lower()
        rank = _RANK_ALIASES.get(key, key)
        if rank in RANKS:
            cols.append((i, rank))
        elif key in _ID_COLUMNS:
            ids.append((i, _ID_COLUMNS[key]))
        elif key in _SYN_COLUMNS:
            syn_col = i
    if not cols:
        raise ParseError(f"no rank columns in the header {header}; expected some of: {', '.join(RANKS)}",
                         source=str(src.path), line=1, value=first)
    cols.sort(key=lambda c: RANKS.index(c[1]))
    genus_col = next((i for i, r in cols if r == "genus"), None)
    taxa: dict[str, TaxonRecord] = {}
    out = Classification(taxa, [header[i] for i, _ in cols], 0)
    for row in reader:
        line = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        out.rows += 1
        if len(row) != len(header):
            out.warnings.append((f"row has {len(row)} fields, the header {len(header)}; row skipped", line,
                                 delim.join(row)[:80]))
            continue
        parent: str | None = None
        lowest: str | None = None
        for i, rank in cols:
            name = normalise_name(row[i])
            if not name:
                continue
            if rank in ("species", "subspecies") and " " not in name and genus_col is not None and row[genus_col].strip():
                name = f"{normalise_name(row[genus_col])} {name}"
            rec = taxa.get(name)
            if rec is None:
                taxa[name] = TaxonRecord(name, rank, parent, line)
            else:
                if rec.rank != rank:
                    out.warnings.append((f"{name!r} appears as {rec.rank} (line {rec.line}) and as {rank}",
                                         line, name))
                elif rec.parent != parent and parent is not None:
                    out.warnings.append((f"{name!r} has parent {rec.parent!r} (line {rec.line}) and {parent!r}; "
                                         "the first is kept", line, name))
            parent = name
            lowest = name
        if lowest is None:
            out.warnings.append(("row names no taxon", line, delim.join(row)[:80]))
            continue
        rec = taxa[lowest]
        if syn_col is not None and row[syn_col].strip():
            for s in re.split(r"[;|]", row[syn_col]):
                s = normalise_name(s)
                if s and s != lowest and s not in rec.synonyms:
                    rec.synonyms.append(s)
        for i, prefix in ids:
            v = row[i].strip()
            if v:
                try:
                    rec.external.append(_external_iri(prefix, v))
                except Exception as exc:
                    out.warnings.append((f"bad {prefix} id: {exc}", line, v))
    if not taxa:
        raise ParseError("the classification table names no taxa", source=str(src.path))
    return out


def triples(cls: Classification) -> list[tuple[NamedNode, NamedNode, Any]]:
    """The taxon hierarchy as RDF triples."""
    typ, taxon, label = NamedNode(_RDF_TYPE), NamedNode(TKG_TAXON), NamedNode(_RDFS_LABEL)
    sci, rank_p, parent_p = NamedNode(DWC + "scientificName"), NamedNode(DWC + "taxonRank"), NamedNode(TKG_PARENT_TAXON)
    syn_p, exact = NamedNode(TKG_SYNONYM), NamedNode(SKOS_EXACT)
    out: list[tuple[NamedNode, NamedNode, Any]] = []
    for rec in cls.taxa.values():
        t = NamedNode(taxon_iri(rec.name))
        out += [(t, typ, taxon), (t, sci, Literal(rec.name)), (t, label, Literal(rec.name)),
                (t, rank_p, Literal(rec.rank))]
        if rec.parent:
            out.append((t, parent_p, NamedNode(taxon_iri(rec.parent))))
        out += [(t, syn_p, Literal(s)) for s in rec.synonyms]
        out += [(t, exact, NamedNode(x)) for x in dict.fromkeys(rec.external)]
    return out


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         delimiter: str | None = None, progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load a classification table into its own graph (kind ``taxonomy``)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    cls = parse(src, delimiter=delimiter)
    rep = LoadReport(source=src.origin, kind=KIND)
    for msg, line, val in cls.warnings:
        rep.warn(msg, line=line, value=val)
    by_rank: dict[str, int] = {}
    for rec in cls.taxa.values():
        by_rank[rec.rank] = by_rank.get(rec.rank, 0) + 1
    rep.counts.update({"rows": cls.rows, "taxa": len(cls.taxa), **by_rank,
                       "synonyms": sum(len(r.synonyms) for r in cls.taxa.values()),
                       "external_ids": sum(len(r.external) for r in cls.taxa.values())})
    data = triples(cls)
    return ingest(store, src, kind=KIND, name=name or slug(src.stem), version=version, loader="taxonomy",
                  writer=lambda g: write_triples(store, g, data), parameters={"delimiter": delimiter} if delimiter else {},
                  report=rep)
