"""What a prediction table holds and how it is mapped (CSV, TSV, Parquet; ``.gz``): the pure half of
:mod:`loaders.predictions` with :mod:`loaders._prediction_scan` (reading and checking it).

A :class:`Mapping` says which column holds what. Per row: ``image``, ``taxon``, ``trait`` and
``value`` (required); ``confidence``, ``unit``, ``truth`` (the ground-truth value of the trait for
that image, e.g. the expert identification), ``specimen``, ``region`` (the side, part or instance
measured: ``left``/``right``, a fin ray, a bounding box; part of a prediction's identity, so an
image may have one value of a trait per region) optional. Batch-level fields (``model``, ``model_version``) may also come from columns
that hold one value. ``constants`` give a value for every row instead of a column (e.g. the trait
of a single-trait table); ``traits`` turn a wide table (one value column per trait) into rows.

CSV/TSV are read in the mapping's ``encoding`` (UTF-8 by default); only the columns the mapping
uses must decode (see :mod:`loaders._table_io`). Row numbers in problems are data records counted
from 1 (the header is not counted); for CSV/TSV the physical line is given too, and the column is
named as the header spells it. The user documentation is ``docs/formats/predictions.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ParseError, ValidationError
from kg.core.sources import Source
from loaders._prediction_rows import REQUIRED, RowProblem
from loaders._table_io import encoding_name, physical_lines, read_table, table_format
from ontologies.units import unit_curie

ROW_FIELDS = ("image", "taxon", "trait", "value", "confidence", "unit", "truth", "specimen", "region")
BATCH_FIELDS = ("model", "model_version", "weights_sha256", "hf_repo", "code_commit", "run_id", "date")
KINDS = ("continuous", "categorical")
#: Column names recognised without a mapping (lower-case).
AUTO_COLUMNS = {
    "image": ("image", "image_id", "imageid", "image_ark", "ark", "ark_id", "filename", "file_name"),
    "taxon": ("taxon", "taxon_name", "scientific_name", "scientificname", "species", "taxon_id"),
    "trait": ("trait", "trait_id", "character", "entity"),
    "value": ("value", "predicted", "prediction", "predicted_value", "pred"),
    "confidence": ("confidence", "probability", "score", "prob"),
    "unit": ("unit", "units"),
    "truth": ("truth", "ground_truth", "true_value", "label"),
    "specimen": ("specimen", "specimen_id", "catalog_number", "catalognumber"),
    "region": ("region", "side", "instance", "bbox", "mask", "bounding_box"),
    "model": ("model", "model_name"),
    "model_version": ("model_version", "version"),
}
IMAGE_ID_RULES = ("as-is", "basename", "stem")


@dataclass
class TraitColumn:
    """One value column of a wide table: the trait it measures, its unit and kind."""

    column: str
    trait: str
    unit: str | None = None
    kind: str | None = None


@dataclass
class Mapping:
    """Which column holds what (see the module docstring)."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    traits: list[TraitColumn] = field(default_factory=list)
    trait_labels: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    image_id: str = "as-is"
    delimiter: str | None = None
    encoding: str | None = None
    batch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Mapping:
        """A mapping from a dict (a YAML file's content). Unknown keys are an error."""
        d = dict(d or {})
        known = {"columns", "constants", "traits", "trait_labels", "kinds", "image_id", "delimiter", "encoding", "batch"}
        extra = set(d) - known - set(ROW_FIELDS) - set(BATCH_FIELDS)
        if extra:
            raise ValidationError(f"unknown mapping key(s) {sorted(extra)}; expected {sorted(known)} or field names "
                                  f"{list(ROW_FIELDS) + list(BATCH_FIELDS)}")
        for key in ("columns", "constants", "trait_labels", "kinds", "batch"):
            if d.get(key) is not None and not isinstance(d[key], dict):
                raise ValidationError(f"mapping key {key!r} holds key: value pairs, not {type(d[key]).__name__} "
                                      f"{str(d[key])[:80]!r}")
        if d.get("traits") is not None and not isinstance(d["traits"], list):
            raise ValidationError(f"mapping key 'traits' holds a list of {{column, trait, unit, kind}}, not "
                                  f"{str(d['traits'])[:80]!r}")
        delim = d.get("delimiter")
        if delim is not None and (not isinstance(delim, str) or len(delim) != 1 or delim in "\"\r\n"):
            raise ValidationError(f"delimiter {delim!r}: one character (not a quote or a line break)")
        cols = {k: str(v) for k, v in (d.get("columns") or {}).items()}
        cols.update({k: str(d[k]) for k in (*ROW_FIELDS, *BATCH_FIELDS) if k in d})  # flat form
        bad = set(cols) - set(ROW_FIELDS) - set(BATCH_FIELDS)
        if bad:
            raise ValidationError(f"unknown field(s) {sorted(bad)} in the column mapping; expected "
                                  f"{list(ROW_FIELDS) + list(BATCH_FIELDS)}")
        traits = []
        for t in d.get("traits") or []:
            if not isinstance(t, dict) or "column" not in t or "trait" not in t:
                raise ValidationError(f"each entry of 'traits' needs 'column' and 'trait' (and may give unit, kind): {t!r}")
            extra_keys = set(t) - {"column", "trait", "unit", "kind"}
            if extra_keys:
                raise ValidationError(f"traits: column {t['column']!r}: unknown key(s) {sorted(extra_keys)}; expected "
                                      "column, trait, unit, kind")
            traits.append(TraitColumn(str(t["column"]), str(t["trait"]), None if t.get("unit") is None else str(t["unit"]),
                                      None if t.get("kind") is None else str(t["kind"])))
        m = cls(columns=cols, constants={k: str(v) for k, v in (d.get("constants") or {}).items()}, traits=traits,
                trait_labels={str(k): str(v) for k, v in (d.get("trait_labels") or {}).items()},
                kinds={str(k): str(v) for k, v in (d.get("kinds") or {}).items()},
                image_id=str(d.get("image_id") or "as-is"), delimiter=d.get("delimiter"),
                encoding=str(d["encoding"]) if d.get("encoding") else None, batch=dict(d.get("batch") or {}))
        if m.image_id not in IMAGE_ID_RULES:
            raise ValidationError(f"image_id rule {m.image_id!r}: expected one of {', '.join(IMAGE_ID_RULES)}")
        for k in [*m.kinds.values(), *(t.kind for t in traits if t.kind)]:
            if k not in KINDS:
                raise ValidationError(f"trait kind {k!r}: expected one of {', '.join(KINDS)}")
        for where, u in [*((f"traits: column {t.column!r}", t.unit) for t in traits if t.unit),
                         *(("constants: unit", m.constants[k]) for k in ("unit",) if m.constants.get(k))]:
            if unit_curie(str(u)) is None:
                raise ValidationError(f"{where}: unit {u!r} is not a known unit (a UO CURIE or cm, mm, m, g, ...)")
        if m.encoding:
            try:
                encoding_name(m.encoding)
            except ParseError as exc:
                raise ValidationError(exc.message) from exc
        return m

    @classmethod
    def read(cls, path: str | Path) -> Mapping:
        """A mapping from a small YAML (or JSON) file."""
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_bytes())  # YAML finds UTF-8/16 itself
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at offset {exc.start})",
                             source=str(p)) from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ParseError(f"not valid YAML ({getattr(exc, 'problem', exc)})", source=str(p),
                             line=mark.line + 1 if mark else None) from exc
        if data is not None and not isinstance(data, dict):
            raise ParseError("a mapping file holds key: value pairs at the top", source=str(p), line=1)
        try:
            return cls.from_dict(data)
        except ValidationError as exc:
            raise ValidationError(f"{p}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """A canonical dict (recorded as a load parameter)."""
        out: dict[str, Any] = {"columns": dict(sorted(self.columns.items())), "image_id": self.image_id}
        for k in ("constants", "trait_labels", "kinds", "batch"):
            if getattr(self, k):
                out[k] = dict(sorted(getattr(self, k).items()))
        if self.traits:
            out["traits"] = [{k: v for k, v in t.__dict__.items() if v is not None} for t in self.traits]
        if self.delimiter:
            out["delimiter"] = self.delimiter
        if self.encoding:
            out["encoding"] = self.encoding
        return out


@dataclass
class PredictionTable:
    """A parsed table: one row per prediction (``frame``), the problems found, batch fields."""

    frame: pd.DataFrame        # columns: row + ROW_FIELDS (strings) + num, conf (floats), unit (UO CURIE or "")
    problems: list[RowProblem]  # (+ vcol: the value column of each frame row, in wide tables)
    rows: int                  # data records in the file
    batch: dict[str, str]      # batch-level fields read from columns
    kinds: dict[str, str]      # raw trait -> continuous | categorical
    mapping: Mapping
    fmt: str
    source: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # field -> the header's name of its column
    empty_cells: int = 0       # wide tables: value cells left empty (not measured), which give no prediction
    pos0: int = 0              # a chunk's first frame row's position in the whole table's frame

    def bad_positions(self) -> np.ndarray:
        """Positions in ``frame`` of the rows with a problem."""
        return np.array(sorted({q for p in self.problems for q in (p.pos, *p.more) if q >= 0}), dtype=np.int64)



def add_lines(table: PredictionTable, src: Source, *, encoding: str | None = None) -> None:
    """Put the physical line on each problem that has none yet (CSV/TSV)."""
    want = {p.row for p in table.problems if p.line is None}
    if not want or table.fmt not in ("csv", "tsv"):
        return
    lines = physical_lines(src, table.fmt, want, delimiter=table.mapping.delimiter,
                           encoding=encoding or table.mapping.encoding)
    for p in table.problems:
        p.line = lines.get(p.row, p.line)


def _header_text(header: list[str]) -> str:
    shown = [h if len(h) <= 60 else h[:57] + "..." for h in header[:30]]
    text = ", ".join(shown) + (f", ... ({len(header)} columns)" if len(header) > 30 else "")
    other = next((d for d in (",", "\t", ";", "|") if len(header) == 1 and d in header[0]), None)
    if other:
        text += (f" (one column: are the columns separated by {other!r}? name the format with --format csv|tsv "
                 "or the mapping's delimiter:)")
    return text


def resolve_columns(m: Mapping, header: list[str], src: Source) -> dict[str, str]:
    """:func:`_resolve_columns`, its errors naming the file."""
    try:
        return _resolve_columns(m, header)
    except ParseError as exc:
        raise ParseError(exc.message, source=src.origin, line=exc.line, value=exc.value) from None


def _resolve_columns(m: Mapping, header: list[str]) -> dict[str, str]:
    """Field -> column name: the mapping's, else a recognised column name; required ones checked."""
    cols: dict[str, str] = {}
    lower = {h.lower().strip(): h for h in header}
    for f, col in m.columns.items():
        if col not in header:
            raise ParseError(f"column {col!r} (mapped to {f}) is not in the header; the header has: "
                             f"{_header_text(header)}", line=1, value=col)
        cols[f] = col
    wide = {"trait", "value"} if m.traits else set()
    for t in m.traits:
        if t.column not in header:
            raise ParseError(f"trait column {t.column!r} is not in the header; the header has: "
                             f"{_header_text(header)}", line=1, value=t.column)
    for f, names in AUTO_COLUMNS.items():
        if f in cols or f in m.constants or f in wide:
            continue
        hit = next((lower[x] for x in names if x in lower and lower[x] not in cols.values()), None)
        if hit is not None:
            cols[f] = hit
    missing = [f for f in REQUIRED if f not in cols and f not in m.constants and f not in wide]
    if missing:
        raise ParseError(f"missing required column(s) {', '.join(missing)}: the header has {_header_text(header)}; "
                         "name them in a mapping (--column FIELD=COLUMN or --mapping FILE; "
                         "see docs/formats/predictions.md)", line=1)
    return cols


__all__ = ["Mapping", "TraitColumn", "RowProblem", "PredictionTable", "resolve_columns", "add_lines", "table_format",
           "read_table", "ROW_FIELDS", "REQUIRED", "BATCH_FIELDS", "KINDS"]
