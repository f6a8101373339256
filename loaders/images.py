"""Image metadata tables (CSV, TSV, Parquet; ``.gz``) into one graph (kind ``images``): one node
per image (ARK ids as n2t.net IRIs, other ids under ``<base>image/``, the same IRIs the
prediction loader mints, so the two join on the image).

Recognised columns: the image id (``image_id``, ``ark``, ``image``, ``filename``...; or ``image=COLUMN``),
the access URI (``ac:accessURI``), batch name (``tkg:imageBatch``), create date (``dcterms:created``),
format (``dcterms:format``), license (``dcterms:license``), specimen id (``tkg:specimenId``). Every
other column (the image-quality fields of Fish-AIR / BGNN tables: brightness, blur, colour issues,
uniform background, contains ruler, ...) becomes a property ``<base>image-field/<column>``
(numbers as xsd:double). Empty cells are left out.

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()
>>> p = pathlib.Path(tmp.name) / "m.csv"
>>> _ = p.write_text("ark_id,accessURI,batch_name,brightness\\nark:/89609/x/1,https://example.org/1.jpg,b1,0.8\\n")
>>> t = parse(p)
>>> t.id_column, sorted(t.fields)
('ark_id', ['accessURI', 'batch_name', 'brightness'])
>>> tmp.cleanup()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kg.core.errors import ParseError
from kg.core.graphs import BASE, TKG, XSD, slug
from kg.core.ids import image_iri
from kg.core.sources import Source
from kg.core.store import Literal, NamedNode, Store
from loaders._base import Progress, ingest, write_triples
from loaders._prediction_table import Mapping, read_table, table_format
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
    "date": (DCT + "created", False), "format": (DCT + "format", False), "license": (DCT + "license", True),
    "specimen_id": (TKG + "specimenId", False), "specimen": (TKG + "specimenId", False),
}


@dataclass
class ImageTable:
    frame: pd.DataFrame
    id_column: str
    fields: dict[str, tuple[str, bool]] = field(default_factory=dict)  # column -> (property IRI, IRI-valued)
    duplicates: list[int] = field(default_factory=list)


def parse(path: str | Path | Source, *, image: str | None = None, fmt: str | None = None) -> ImageTable:
    """Read an image metadata table (pure: no store); duplicate image ids are an error."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    f = table_format(src, fmt)
    df = read_table(src, f, Mapping())
    df.columns = [str(c) for c in df.columns]
    lower = {c.lower().strip(): c for c in df.columns}
    idc = image if image else next((lower[c] for c in ID_COLUMNS if c in lower), None)
    if idc is None or idc not in df.columns:
        raise ParseError(f"no image id column: name it with image=COLUMN; the header has {', '.join(df.columns)}",
                         source=src.origin, line=1)
    ids = df[idc].astype(str).str.strip()
    empty = (ids == "") | df[idc].isna()
    if empty.any():
        raise ParseError("row without an image id", source=src.origin, line=int(empty.to_numpy().argmax()) + 2)
    dup = ids.duplicated(keep="first")
    if dup.any():
        raise ParseError(f"image id {ids[dup].iloc[0]!r} appears twice (one row per image)", source=src.origin,
                         line=int(dup.to_numpy().argmax()) + 2, value=ids[dup].iloc[0])
    df[idc] = ids
    fields = {}
    for c in df.columns:
        if c == idc:
            continue
        known = KNOWN.get(c.lower().strip())
        fields[c] = known if known else (FIELD_NS + slug(c), False)
    return ImageTable(df, idc, fields)


def triples(t: ImageTable) -> list[tuple]:
    out: list[tuple] = []
    typ, img_cls = NamedNode(RDF_TYPE), NamedNode(TKG + "Image")
    dbl = NamedNode(XSD + "double")
    cols = {c: t.frame[c] for c in t.fields}
    for i, raw in enumerate(t.frame[t.id_column].tolist()):
        s = NamedNode(image_iri(raw))
        out.append((s, typ, img_cls))
        for c, (prop, iri_valued) in t.fields.items():
            v = cols[c].iat[i]
            if v is None or (isinstance(v, float) and pd.isna(v)):
                continue
            text = str(v).strip()
            if not text:
                continue
            if iri_valued and text.startswith(("http://", "https://")):
                obj: Any = NamedNode(text)
            elif prop.startswith(FIELD_NS) and _is_number(text):
                obj = Literal(repr(float(text)), datatype=dbl)
            else:
                obj = Literal(text)
            out.append((s, NamedNode(prop), obj))
    return out


def _is_number(text: str) -> bool:
    try:
        return pd.notna(float(text)) and float(text) not in (float("inf"), float("-inf"))
    except ValueError:
        return False


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         image: str | None = None, fmt: str | None = None, progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load an image metadata table into ``graph/images/<name>/<version>``."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    t = parse(src, image=image, fmt=fmt)
    data = triples(t)
    rep = LoadReport(source=src.origin, kind=KIND)
    rep.counts.update({"images": len(t.frame), "fields": len(t.fields)})
    return ingest(store, src, kind=KIND, name=name or slug(src.stem), version=version, loader="images",
                  writer=lambda g: write_triples(store, g, data), parameters={"image": image} if image else {},
                  report=rep)


__all__ = ["KIND", "FORMATS", "EXTENSIONS", "parse", "load", "triples", "ImageTable", "FIELD_NS"]
