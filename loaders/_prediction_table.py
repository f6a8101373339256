"""Reading and checking a prediction table (CSV, TSV, Parquet; ``.gz``): the pure half of
:mod:`loaders.predictions`.

A :class:`Mapping` says which column holds what. Per row: ``image``, ``taxon``, ``trait`` and
``value`` (required); ``confidence``, ``unit``, ``truth`` (the ground-truth value of the trait for
that image, e.g. the expert identification), ``specimen``, ``region`` (a bounding box or mask
reference) optional. Batch-level fields (``model``, ``model_version``) may also come from columns
that hold one value. ``constants`` give a value for every row instead of a column (e.g. the trait
of a single-trait table); ``traits`` turn a wide table (one value column per trait) into rows.

Row numbers in problems are data records counted from 1 (the header is not counted); for CSV/TSV
the physical line is given too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ParseError, ValidationError
from kg.core.sources import MAX_CELL, Source, last_row_cut
from ontologies.units import unit_curie

ROW_FIELDS = ("image", "taxon", "trait", "value", "confidence", "unit", "truth", "specimen", "region")
REQUIRED = ("image", "taxon", "trait", "value")
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
    "region": ("region", "bbox", "mask", "bounding_box"),
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
    batch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Mapping:
        """A mapping from a dict (a YAML file's content). Unknown keys are an error."""
        d = dict(d or {})
        known = {"columns", "constants", "traits", "trait_labels", "kinds", "image_id", "delimiter", "batch"}
        extra = set(d) - known - set(ROW_FIELDS) - set(BATCH_FIELDS)
        if extra:
            raise ValidationError(f"unknown mapping key(s) {sorted(extra)}; expected {sorted(known)} or field names "
                                  f"{list(ROW_FIELDS) + list(BATCH_FIELDS)}")
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
            traits.append(TraitColumn(str(t["column"]), str(t["trait"]), t.get("unit"), t.get("kind")))
        m = cls(columns=cols, constants={k: str(v) for k, v in (d.get("constants") or {}).items()}, traits=traits,
                trait_labels={str(k): str(v) for k, v in (d.get("trait_labels") or {}).items()},
                kinds={str(k): str(v) for k, v in (d.get("kinds") or {}).items()},
                image_id=str(d.get("image_id") or "as-is"), delimiter=d.get("delimiter"),
                batch=dict(d.get("batch") or {}))
        if m.image_id not in IMAGE_ID_RULES:
            raise ValidationError(f"image_id rule {m.image_id!r}: expected one of {', '.join(IMAGE_ID_RULES)}")
        for k in [*m.kinds.values(), *(t.kind for t in traits if t.kind)]:
            if k not in KINDS:
                raise ValidationError(f"trait kind {k!r}: expected one of {', '.join(KINDS)}")
        return m

    @classmethod
    def read(cls, path: str | Path) -> Mapping:
        """A mapping from a small YAML (or JSON) file."""
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ParseError(f"not valid YAML ({getattr(exc, 'problem', exc)})", source=str(p),
                             line=mark.line + 1 if mark else None) from exc
        if data is not None and not isinstance(data, dict):
            raise ParseError("a mapping file holds key: value pairs at the top", source=str(p), line=1)
        return cls.from_dict(data)

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
        return out


@dataclass
class RowProblem:
    """Why one row cannot be loaded."""

    row: int
    reason: str
    column: str | None = None
    value: str | None = None
    line: int | None = None
    pos: int = -1  # position in the table's frame (a wide row gives several frame rows)

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        col = f" [{self.column}]" if self.column else ""
        val = f" ({self.value!r})" if self.value is not None else ""
        return f"{where}{col}: {self.reason}{val}"


@dataclass
class PredictionTable:
    """A parsed table: one row per prediction (``frame``), the problems found, batch fields."""

    frame: pd.DataFrame        # columns: row + ROW_FIELDS (strings) + num, conf (floats), unit (UO CURIE or "")
    problems: list[RowProblem]
    rows: int                  # data records in the file
    batch: dict[str, str]      # batch-level fields read from columns
    kinds: dict[str, str]      # raw trait -> continuous | categorical
    mapping: Mapping
    fmt: str
    source: str = ""

    def bad_positions(self) -> np.ndarray:
        """Positions in ``frame`` of the rows with a problem."""
        return np.array(sorted({p.pos for p in self.problems if p.pos >= 0}), dtype=np.int64)


def read_table(src: Source, fmt: str, mapping: Mapping) -> pd.DataFrame:
    """The table as strings (CSV/TSV; empty cells as ''), or as stored (Parquet)."""
    if fmt == "parquet":
        try:
            df = pd.read_parquet(src.path)
        except Exception as exc:
            raise ParseError(f"not a readable Parquet file ({exc})", source=src.origin) from exc
        return df
    delim = mapping.delimiter or ("\t" if fmt == "tsv" else ",")
    try:
        with src.open() as fh:
            df = pd.read_csv(fh, sep=delim, dtype=str, keep_default_na=False, na_filter=False, engine="c")
        check_cells(df, src, delim)
        return df
    except UnicodeDecodeError:
        src.read_text()  # raises the ParseError that names the line of the first byte that is not UTF-8
        raise
    except pd.errors.EmptyDataError as exc:
        raise ParseError("empty prediction table", source=src.origin, line=1) from exc
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ParseError(f"malformed {fmt.upper()} ({exc})", source=src.origin,
                         line=int(m.group(1)) if m else None) from exc


def check_cells(df: pd.DataFrame, src: Source, delimiter: str) -> None:
    """Refuse a table cut inside its last row (fewer fields than the header) and cells longer than
    :data:`kg.core.sources.MAX_CELL` (a corrupt or wrong file), naming the file, line and column."""
    cut = last_row_cut(src, delimiter, len(df.columns))
    if cut:
        raise ParseError(f"the last row has fewer fields than the header ({len(df.columns)}): the file looks cut "
                         "short", source=src.origin, line=cut[0], value=cut[1])
    for c in df.columns:
        if len(str(c)) > MAX_CELL:
            raise ParseError(f"a header cell of {len(str(c)):,} characters (at most {MAX_CELL:,})",
                             source=src.origin, line=1)
        if not len(df) or not pd.api.types.is_string_dtype(df[c]):
            continue
        lengths = df[c].str.len().to_numpy()
        if lengths.max() > MAX_CELL:
            i = int(lengths.argmax())
            raise ParseError(f"column {str(c)!r}, row {i + 1}: a cell of {int(lengths[i]):,} characters "
                             f"(a cell holds at most {MAX_CELL:,}; is this the right file?)", source=src.origin,
                             line=i + 2)


def _as_str(s: pd.Series) -> pd.Series:
    if s.dtype == object and all(isinstance(x, str) for x in s.iloc[:100]):
        return s.fillna("").astype(str)
    return s.astype(object).where(s.notna(), "").astype(str)


def table_format(src: Source, fmt: str | None) -> str:
    if fmt:
        return fmt.lower()
    hint = src.format_hint
    return {"tsv": "tsv", "tab": "tsv", "txt": "tsv", "parquet": "parquet", "pq": "parquet"}.get(hint, "csv")


def parse(path: str | Path | Source, mapping: Mapping | dict[str, Any] | None = None, *,
          fmt: str | None = None) -> PredictionTable:
    """Read and check a prediction table (pure: no store). A missing required column raises
    :class:`~kg.core.errors.ParseError`; problems with single rows are collected in ``problems``.

    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "p.csv"
    >>> _ = p.write_text("image_id,taxon,trait,value,confidence\\nark:/89609/x/1,Danio rerio,UBERON:2000251,present,0.9\\n"
    ...                  "ark:/89609/x/2,Danio rerio,UBERON:2000251,absent,1.7\\n")
    >>> t = parse(p)
    >>> len(t.frame), [str(x) for x in t.problems]
    (2, ["row 2 (line 3) [confidence]: confidence outside [0, 1] ('1.7')"])
    >>> tmp.cleanup()
    """
    src = path if isinstance(path, Source) else Source.resolve(path)
    m = mapping if isinstance(mapping, Mapping) else Mapping.from_dict(mapping)
    fmt = table_format(src, fmt)
    raw = read_table(src, fmt, m)
    header = [str(c) for c in raw.columns]
    raw.columns = header
    try:
        cols = _resolve_columns(m, header)
    except ParseError as exc:  # name the file
        raise ParseError(exc.message, source=exc.source or src.origin, line=exc.line, value=exc.value) from None
    batch = _batch_from_columns(raw, cols, src)
    n = len(raw)
    rownum = np.arange(1, n + 1)
    parts = []
    specs = m.traits or [None]
    for spec in specs:
        part = pd.DataFrame({"row": rownum})
        for f in ROW_FIELDS:
            if spec is not None and f == "value":
                part[f] = _as_str(raw[spec.column])
            elif spec is not None and f == "trait":
                part[f] = spec.trait
            elif spec is not None and f == "unit" and spec.unit:
                part[f] = spec.unit
            elif f in cols:
                part[f] = _as_str(raw[cols[f]])
            elif f in m.constants:
                part[f] = m.constants[f]
            else:
                part[f] = ""
        parts.append(part)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for f in ("image", "taxon", "trait", "value", "unit", "truth"):
        df[f] = df[f].str.strip()
    if m.image_id == "basename":
        df["image"] = df["image"].str.rsplit("/", n=1).str[-1]
    elif m.image_id == "stem":
        df["image"] = df["image"].str.rsplit("/", n=1).str[-1].str.rsplit(".", n=1).str[0]
    kinds = {t.trait: t.kind for t in m.traits if t.kind}
    kinds.update(m.kinds)
    problems: list[RowProblem] = []
    table = PredictionTable(df, problems, n, batch, {}, m, fmt, src.origin)
    _check(table, kinds)
    if problems and fmt in ("csv", "tsv"):
        _add_lines(src, m, fmt, problems)
    return table


def _resolve_columns(m: Mapping, header: list[str]) -> dict[str, str]:
    """Field -> column name: the mapping's, else a recognised column name; required ones checked."""
    cols: dict[str, str] = {}
    lower = {h.lower().strip(): h for h in header}
    for f, col in m.columns.items():
        if col not in header:
            raise ParseError(f"column {col!r} (mapped to {f}) is not in the header; the header has: "
                             f"{', '.join(header)}", line=1, value=col)
        cols[f] = col
    wide = {"trait", "value"} if m.traits else set()
    for t in m.traits:
        if t.column not in header:
            raise ParseError(f"trait column {t.column!r} is not in the header; the header has: {', '.join(header)}",
                             line=1, value=t.column)
    for f, names in AUTO_COLUMNS.items():
        if f in cols or f in m.constants or f in wide:
            continue
        hit = next((lower[x] for x in names if x in lower and lower[x] not in cols.values()), None)
        if hit is not None:
            cols[f] = hit
    missing = [f for f in REQUIRED if f not in cols and f not in m.constants and f not in wide]
    if missing:
        raise ParseError(f"missing required column(s) {', '.join(missing)}: the header has {', '.join(header)}; "
                         "name them in a mapping (--column FIELD=COLUMN or --mapping FILE)", line=1,
                         value=",".join(header))
    return cols


def _batch_from_columns(raw: pd.DataFrame, cols: dict[str, str], src: Source) -> dict[str, str]:
    out = {}
    for f in BATCH_FIELDS:
        if f not in cols:
            continue
        vals = [v for v in pd.unique(_as_str(raw[cols[f]]).str.strip()) if v]
        if len(vals) > 1:
            raise ParseError(f"column {cols[f]!r} ({f}) holds several values ({', '.join(map(str, vals[:5]))}): "
                             "a batch is one model version; split the table", source=src.origin, value=vals[0])
        if vals:
            out[f] = vals[0]
    return out


def _check(t: PredictionTable, declared: dict[str, str]) -> None:
    df, probs = t.frame, t.problems
    rows = df["row"].to_numpy()

    def flag(mask: np.ndarray, reason: str, column: str | None, values: pd.Series | None = None) -> None:
        idx = np.flatnonzero(mask)
        vals = values.to_numpy()[idx] if values is not None else [None] * len(idx)
        probs.extend(RowProblem(int(rows[i]), reason, column, None if v is None else str(v), pos=int(i))
                     for i, v in zip(idx, vals))

    for f in REQUIRED:
        flag((df[f] == "").to_numpy(), f"missing {f}", f)
    # confidence: a number in [0, 1] when given
    conf_s = df["confidence"].str.strip()
    conf = pd.to_numeric(conf_s, errors="coerce").to_numpy(dtype=float, copy=True)
    given = (conf_s != "").to_numpy()
    flag(given & np.isnan(conf), "confidence is not a number", "confidence", conf_s)
    flag(given & ~np.isnan(conf) & ((conf < 0) | (conf > 1)), "confidence outside [0, 1]", "confidence", conf_s)
    df["conf"] = np.where(given & (conf >= 0) & (conf <= 1), conf, np.nan)
    # units: UO CURIEs or common strings
    units = {u: unit_curie(u) for u in pd.unique(df["unit"]) if u}
    unknown = {u for u, c in units.items() if c is None}
    if unknown:
        flag(df["unit"].isin(unknown).to_numpy(), "unknown unit (a UO CURIE or cm, mm, m, g, ...)", "unit", df["unit"])
    df["unit"] = df["unit"].map({"": "", **{u: c or "" for u, c in units.items()}}) if units else ""
    # kinds: declared, else continuous when a unit is given or every value is a number
    num = pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float, copy=True)
    num[~np.isfinite(num)] = np.nan
    df["num"] = num
    kinds: dict[str, str] = {}
    stats = pd.DataFrame({"trait": df["trait"], "isnum": ~np.isnan(num), "unit": df["unit"] != "",
                          "empty": df["value"] == ""}).groupby("trait", sort=False).agg(
        isnum=("isnum", "sum"), unit=("unit", "any"), empty=("empty", "sum"), n=("isnum", "size"))
    for trait, r in stats.iterrows():
        k = declared.get(trait)
        if k is None:
            k = "continuous" if r["unit"] or (r["isnum"] > 0 and r["isnum"] == r["n"] - r["empty"]) else "categorical"
        kinds[trait] = k
    t.kinds = kinds
    cont = df["trait"].map(kinds).eq("continuous").to_numpy()
    flag(cont & np.isnan(num) & (df["value"] != "").to_numpy(), "value of a continuous trait is not a number",
         "value", df["value"])
    # duplicates: one prediction per (image, trait) in a batch (the batch is one model)
    dup = df.duplicated(["image", "trait"], keep="first").to_numpy() & (df["image"] != "").to_numpy()
    if dup.any():
        first = df.groupby(["image", "trait"], sort=False)["row"].transform("first").to_numpy()
        idx = np.flatnonzero(dup)
        probs.extend(RowProblem(int(rows[i]), f"duplicate (image, trait, model) row; first at row {int(first[i])}",
                                "image", str(df["image"].iat[i]), pos=int(i)) for i in idx)
    probs.sort(key=lambda p: p.row)


def _add_lines(src: Source, m: Mapping, fmt: str, problems: list[RowProblem]) -> None:
    """Physical line numbers of the rows with problems (quoted fields may span lines)."""
    import csv
    import io

    want = {p.row for p in problems}
    lines: dict[int, int] = {}
    with src.open() as fh:
        reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline=""),
                            delimiter=m.delimiter or ("\t" if fmt == "tsv" else ","))
        next(reader, None)
        start = 2
        for i, _ in enumerate(reader, start=1):
            if i in want:
                lines[i] = start
                if len(lines) == len(want):
                    break
            start = reader.line_num + 1
    for p in problems:
        p.line = lines.get(p.row)


__all__ = ["Mapping", "TraitColumn", "RowProblem", "PredictionTable", "parse", "table_format", "read_table",
           "ROW_FIELDS", "REQUIRED", "BATCH_FIELDS", "KINDS"]
