"""Image metadata tables (CSV, TSV, Parquet; ``.gz``) into one graph (kind ``images``): one node
per image (ARK ids as n2t.net IRIs, other ids under ``<base>image/``, the same IRIs the
prediction loader mints, so the two join on the image). User documentation: docs/formats/images.md.

Recognised columns: the image id (``image_id``, ``ark``, ``image``, ``filename``...; or ``image=COLUMN``),
the access URI (``ac:accessURI``), batch name (``tkg:imageBatch``), the image record's creation date
(``create_date``, ``created``: ``dcterms:created``), the date the specimen was collected or the
photograph taken (``date``, ``event_date``, ``collection_date``: ``dwc:eventDate``), format
(``dcterms:format``), license (``dcterms:license``), specimen id (``tkg:specimenId``). Every other
column (the image-quality fields of Fish-AIR / BGNN tables: brightness, blur, colour issues, uniform
background, contains ruler, ...) becomes a property ``<base>image-field/<column>``. Values keep
their column's type: a column of whole numbers is xsd:integer (unless a value has a leading zero,
an identifier), other numbers xsd:double, true/false xsd:boolean, ISO dates xsd:date (and
date-times xsd:dateTime), the rest text. Empty cells are left out. CSV/TSV are read in
``encoding`` (UTF-8 by default); a cell that does not decode is a one-line error naming it.

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()
>>> p = pathlib.Path(tmp.name) / "m.csv"
>>> _ = p.write_text("ark_id,accessURI,batch_name,brightness,width\\nark:/89609/x/1,https://example.org/1.jpg,b1,0.8,4000\\n")
>>> t = parse(p)
>>> t.id_column, sorted(t.fields), t.types["width"], t.types["brightness"]
('ark_id', ['accessURI', 'batch_name', 'brightness', 'width'], 'integer', 'double')
>>> tmp.cleanup()
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ParseError
from kg.core.graphs import BASE, TKG, XSD, slug
from kg.core.ids import image_iri
from kg.core.names import DWC
from kg.core.sources import Source
from kg.core.store import Literal, NamedNode, Store
from loaders._base import Progress, ingest, write_triples
from loaders._table_io import check_decoded, id_problems, physical_lines, read_table, shown, table_format
from loaders.report import LoadReport

KIND = "images"
FORMATS = ("images", "image-metadata")
EXTENSIONS = ()
FIELD_NS = BASE + "image-field/"
AC = "http://rs.tdwg.org/ac/terms/"
DCT = "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
ID_COLUMNS = ("image_id", "imageid", "ark", "ark_id", "arkid", "image", "image_ark", "filename", "file_name",
              "original_file_name")
KNOWN = {  # lower-case column -> (property, IRI-valued when the value is a URL)
    "accessuri": (AC + "accessURI", True), "access_uri": (AC + "accessURI", True), "url": (AC + "accessURI", True),
    "batch": (TKG + "imageBatch", False), "batch_name": (TKG + "imageBatch", False),
    "batchname": (TKG + "imageBatch", False),
    "create_date": (DCT + "created", False), "createdate": (DCT + "created", False), "created": (DCT + "created", False),
    "date": (DWC + "eventDate", False), "eventdate": (DWC + "eventDate", False), "event_date": (DWC + "eventDate", False),
    "collection_date": (DWC + "eventDate", False), "collectiondate": (DWC + "eventDate", False),
    "date_collected": (DWC + "eventDate", False),
    "format": (DCT + "format", False), "license": (DCT + "license", True),
    "specimen_id": (TKG + "specimenId", False), "specimen": (TKG + "specimenId", False),
}
_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_ZERO_LED = re.compile(r"[+-]?0[0-9]+(\.[0-9]*)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?")
_TEXT_ONLY = {DCT + "format", TKG + "specimenId", TKG + "imageBatch", AC + "accessURI", DCT + "license"}


@dataclass
class ImageTable:
    frame: pd.DataFrame
    id_column: str
    fields: dict[str, tuple[str, bool]] = field(default_factory=dict)  # column -> (property IRI, IRI-valued)
    duplicates: list[int] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # column -> integer|double|boolean|date|dateTime|string


def _cells(s: pd.Series) -> pd.Series:
    """A column as stripped text ('' for a missing value)."""
    return s.astype(object).where(s.notna(), "").map(lambda v: str(v).strip())


def column_type(s: pd.Series) -> str:
    """The XSD type every non-empty value of a column has (``string`` when they differ)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "integer"
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.dropna().to_numpy()
        return "double" if np.isfinite(vals).all() else "string"
    text = [v for v in pd.unique(_cells(s)) if v]
    if not text:
        return "string"
    if any(_ZERO_LED.fullmatch(v) for v in text):
        return "string"  # 00123: an identifier, not a number
    if all(_INT.fullmatch(v) for v in text):
        return "integer"
    if all(_is_number(v) for v in text):
        return "double"
    if all(v.lower() in ("true", "false") for v in text):
        return "boolean"
    if all(_DATE.fullmatch(v) and _valid_date(v) for v in text):
        return "date"
    if all(_DATETIME.fullmatch(v) for v in text):
        return "dateTime"
    return "string"


def _valid_date(v: str) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def parse(path: str | Path | Source, *, image: str | None = None, fmt: str | None = None,
          encoding: str | None = None) -> ImageTable:
    """Read an image metadata table (pure: no store); an image id missing or given twice is a
    one-line error naming the row, line and column."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    f = table_format(src, fmt)
    df = read_table(src, f, encoding=encoding)
    df.columns = [str(c) for c in df.columns]
    lower = {c.lower().strip(): c for c in df.columns}
    idc = image if image else next((lower[c] for c in ID_COLUMNS if c in lower), None)
    if idc is None or idc not in df.columns:
        names = ", ".join(c if len(c) <= 60 else c[:57] + "..." for c in list(df.columns)[:30])
        what = f"column {image!r} is not in the header" if image else "no image id column (image_id, ark, filename...)"
        raise ParseError(f"{what}: name it with --image COLUMN; the header has {names}"
                         + (f", ... ({df.shape[1]} columns)" if df.shape[1] > 30 else ""), source=src.origin, line=1)
    check_decoded(df, list(df.columns), src, f, encoding=encoding)
    ids = _cells(df[idc])

    def fail(i: int, what: str, value: str | None) -> None:
        row = i + 1
        line = physical_lines(src, f, [row], encoding=encoding).get(row)
        val = f"{shown(value)!r} " if value is not None else ""
        raise ParseError(f"row {row}" + (f" (line {line})" if line else "") + f", column {idc!r}: {val}{what}",
                         source=src.origin, line=line, value=value)

    empty = (ids == "").to_numpy()
    if empty.any():
        fail(int(empty.argmax()), "empty (every row names its image)", None)
    odd = id_problems(ids)
    if (odd != "").any():
        i = int((odd != "").to_numpy().argmax())
        fail(i, str(odd.iat[i]), str(ids.iat[i]))
    dup = ids.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(dup.argmax())
        first = int((ids == ids.iat[i]).to_numpy().argmax()) + 1
        fail(i, f"repeats the image of row {first} (one row per image)", str(ids.iat[i]))
    df[idc] = ids
    fields, types = {}, {}
    for c in df.columns:
        if c == idc:
            continue
        known = KNOWN.get(c.lower().strip())
        fields[c] = known if known else (FIELD_NS + slug(c), False)
        typ = column_type(df[c])
        types[c] = "string" if fields[c][0] in _TEXT_ONLY or (known and typ not in ("date", "dateTime")) else typ
    return ImageTable(df, idc, fields, types=types)


def _literal(text: str, typ: str) -> Literal:
    if typ == "string":
        return Literal(text)
    if typ == "integer":
        return Literal(str(int(text)), datatype=NamedNode(XSD + "integer"))
    if typ == "double":
        return Literal(repr(float(text)), datatype=NamedNode(XSD + "double"))
    if typ == "boolean":
        return Literal(text.lower(), datatype=NamedNode(XSD + "boolean"))
    return Literal(text, datatype=NamedNode(XSD + typ))


def triples(t: ImageTable) -> list[tuple]:
    out: list[tuple] = []
    typ, img_cls = NamedNode(RDF_TYPE), NamedNode(TKG + "Image")
    cols = {c: _cells(t.frame[c]).tolist() for c in t.fields}
    for i, raw in enumerate(t.frame[t.id_column].tolist()):
        s = NamedNode(image_iri(raw))
        out.append((s, typ, img_cls))
        for c, (prop, iri_valued) in t.fields.items():
            text = cols[c][i]
            if not text:
                continue
            if iri_valued and text.startswith(("http://", "https://")):
                obj: Any = NamedNode(text)
            else:
                obj = _literal(text, t.types.get(c, "string"))
            out.append((s, NamedNode(prop), obj))
    return out


def _is_number(text: str) -> bool:
    try:
        x = float(text)
    except ValueError:
        return False
    return bool(np.isfinite(x))


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         image: str | None = None, fmt: str | None = None, encoding: str | None = None,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load an image metadata table into ``graph/images/<name>/<version>``."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    t = parse(src, image=image, fmt=fmt, encoding=encoding)
    data = triples(t)
    rep = LoadReport(source=src.origin, kind=KIND)
    rep.counts.update({"images": len(t.frame), "fields": len(t.fields)})
    return ingest(store, src, kind=KIND, name=name or slug(src.stem), version=version, loader="images",
                  writer=lambda g: write_triples(store, g, data), parameters={k: v for k, v in (("image", image), ("encoding", encoding)) if v},
                  report=rep)


__all__ = ["KIND", "FORMATS", "EXTENSIONS", "parse", "load", "triples", "column_type", "ImageTable", "FIELD_NS"]
