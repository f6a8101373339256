"""Image manifests for training: one row per image (id or ARK id, file path, taxon, and any
image-quality columns), checked against the tree's taxa and the file system, row by row.

The image id, file path and taxon columns are found by name (:data:`ID_COLUMNS`,
:data:`PATH_COLUMNS`, :data:`TAXON_COLUMNS`, case-insensitive) or named with ``id_column``,
``path_column`` and ``taxon_column`` (CLI: ``--id-column`` ...), e.g. ``id_column="X"`` for a
table written by R with its row names. Rows naming an unknown taxon or a missing file are reported
with their line and dropped (``strict=True``: refused with every bad row named); every row left
out later (quality filters, taxa outside the export) is reported the same way, with a reason.
Quality columns become sample weights (``weight``) or filters (``min_quality`` / ``max_quality``).

>>> import pandas as pd
>>> m = read_images(pd.DataFrame({"image_id": ["a", "b"], "path": ["x.png", "y.png"],
...                               "taxon": ["Danio_rerio", "Nope nope"], "blur": [0.1, 0.9]}),
...                 known_taxa={"Danio rerio"}, check_files=False)
>>> m.frame["taxon"].tolist(), [p["message"] for p in m.problems]
(['Danio rerio'], ["taxon 'Nope nope' is not among the training taxa"])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ParseError, SourceNotFound, ValidationError
from kg.core.names import normalise_name

ID_COLUMNS = ("image_id", "ark_id", "ark", "id", "image", "uuid", "camid")
PATH_COLUMNS = ("path", "file_path", "filepath", "file", "image_path", "filename", "file_name")
TAXON_COLUMNS = ("taxon", "species", "scientific_name", "scientificname", "genus.species", "label")


@dataclass
class ImageManifest:
    """The checked rows (``image_id``, ``path``, ``taxon`` plus the table's other columns, and
    ``line``: the row's line in the file) and the problems of the rows left out."""

    frame: pd.DataFrame
    problems: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    rows: int = 0
    quality: dict[str, Any] | None = None
    renamed: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """Counts, the reasons rows were left out (reason -> rows) and every problem row."""
        out = {"source": self.source, "rows": self.rows, "kept": len(self.frame),
               "dropped": self.rows - len(self.frame), "renamed_taxa": self.renamed,
               "problem_count": len(self.problems), "reasons": self.reasons(),
               "problems": list(self.problems)}
        if self.quality:
            out["quality"] = self.quality
        return out

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.get("reason", "other")] = out.get(p.get("reason", "other"), 0) + 1
        return out

    def drop(self, mask: np.ndarray, reason: str, message: Callable[[Any], str], column: str | None = None) -> int:
        """Leave out the rows of ``frame`` where ``mask`` is true, each reported with ``reason`` and
        ``message(row)``; returns how many."""
        mask = np.asarray(mask, dtype=bool)
        for _, row in self.frame[mask].iterrows():
            self.problems.append({"line": int(row["line"]), "image_id": row["image_id"], "column": column,
                                  "value": row[column] if column in row else None, "reason": reason,
                                  "message": message(row)})
        self.frame = self.frame[~mask].reset_index(drop=True)
        return int(mask.sum())

    def summary_line(self, names: int = 5) -> str | None:
        """One line for a run that left rows out: counts per reason and the first image ids."""
        if not self.problems:
            return None
        dropped = sorted({p["image_id"] for p in self.problems}, key=str)
        why = ", ".join(f"{r} {n}" for r, n in self.reasons().items())
        return (f"images: {self.rows - len(self.frame)} of {self.rows} rows left out ({why}), e.g. "
                f"{', '.join(map(str, dropped[:names]))}{' ...' if len(dropped) > names else ''}; every row and "
                "reason in the JSON report (images.problems)")


def _pick(columns: list[str], wanted: tuple[str, ...], what: str, given: str | None, source: str,
          option: str) -> str:
    if given:
        if given not in columns:
            raise ValidationError(f"{source}: no column {given!r} for the {what}; columns: {', '.join(columns)}")
        return given
    low = {c.lower(): c for c in columns}
    for w in wanted:
        if w in low:
            return low[w]
    raise ValidationError(f"{source}: no {what} column; expected one of {', '.join(wanted)}, or name it with "
                          f"{option}=COLUMN (CLI --{option.replace('_', '-')}) (columns: {', '.join(columns)})")


def read_table(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise SourceNotFound(f"image manifest {p} does not exist")
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ParseError(f"unreadable image manifest: {exc}", source=str(p)) from exc


def read_images(table: str | Path | pd.DataFrame, *, root: str | Path | None = None,
                known_taxa: Collection[str] | None = None, check_files: bool = True, strict: bool = False,
                id_column: str | None = None, path_column: str | None = None,
                taxon_column: str | None = None,
                resolve: Callable[[list[str]], dict[str, str]] | None = None) -> ImageManifest:
    """Read and check an image manifest (CSV/TSV/Parquet or a DataFrame). Relative paths are taken from
    ``root`` (default: the manifest's folder). Taxa outside ``known_taxa`` that ``resolve`` maps to
    a known name (a synonym) are renamed, and counted in ``renamed``."""
    if isinstance(table, pd.DataFrame):
        df, source, base = table.copy(), "image manifest", Path(root) if root else Path.cwd()
        first_line = 2
    else:
        df, source = read_table(table), str(table)
        base = Path(root) if root else Path(table).resolve().parent
        first_line = 2
    cols = [str(c) for c in df.columns]
    df.columns = cols
    idc = _pick(cols, ID_COLUMNS, "image id", id_column, source, "id_column")
    pc = _pick(cols, PATH_COLUMNS, "file path", path_column, source, "path_column")
    tc = _pick(cols, TAXON_COLUMNS, "taxon", taxon_column, source, "taxon_column")
    taken = {c for c in (idc, pc, tc)}
    clash = [c for c in ("image_id", "path", "taxon") if c in cols and c not in taken]
    if clash:  # a column of that name that is not the one chosen would be shadowed
        df = df.rename(columns={c: f"{c}_original" for c in clash})
    out = df.rename(columns={idc: "image_id", pc: "path", tc: "taxon"})
    out["image_id"] = out["image_id"].astype(str)
    out["taxon"] = [normalise_name(str(x)) for x in out["taxon"]]
    out["line"] = np.arange(first_line, first_line + len(out))
    known = {normalise_name(t) for t in known_taxa} if known_taxa is not None else None
    renamed: dict[str, str] = {}
    if known is not None and resolve is not None:
        unknown = sorted({t for t in out["taxon"] if t and t not in known})
        renamed = {a: normalise_name(b) for a, b in resolve(unknown).items() if normalise_name(b) in known}
        if renamed:
            out["taxon"] = [renamed.get(t, t) for t in out["taxon"]]
    problems: list[dict[str, Any]] = []
    keep = np.ones(len(out), dtype=bool)
    paths = []
    for k, (iid, p, t, line) in enumerate(zip(out["image_id"], out["path"], out["taxon"], out["line"])):
        full = Path(str(p))
        full = full if full.is_absolute() else base / full
        paths.append(str(full))
        if not t:
            problems.append({"line": int(line), "image_id": iid, "column": tc, "value": "", "reason": "no taxon",
                             "message": "no taxon"})
            keep[k] = False
        elif known is not None and t not in known:
            problems.append({"line": int(line), "image_id": iid, "column": tc, "value": t, "reason": "off-tree taxon",
                             "message": f"taxon {t!r} is not among the training taxa"})
            keep[k] = False
        if check_files and not full.is_file():
            problems.append({"line": int(line), "image_id": iid, "column": pc, "value": str(p),
                             "reason": "missing file", "message": f"file {full} does not exist"})
            keep[k] = False
    out["path"] = paths
    dup = out["image_id"].duplicated(keep="first").to_numpy()
    for k in np.flatnonzero(dup & keep).tolist():
        problems.append({"line": int(out["line"].iloc[k]), "image_id": out["image_id"].iloc[k], "column": idc,
                         "value": out["image_id"].iloc[k], "reason": "duplicate image id",
                         "message": "duplicate image id; the first row is kept"})
    keep &= ~dup
    if strict and problems:
        lines = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValidationError(f"{source}: {len(problems)} bad row(s): {lines}{more}")
    return ImageManifest(out[keep].reset_index(drop=True), problems, source, len(out), renamed=renamed)


def apply_quality(images: ImageManifest, *, weight: str | None = None, higher_is_better: bool = True,
                  min_quality: Mapping[str, float] | None = None,
                  max_quality: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Filter rows by quality thresholds (each row left out is reported in ``images.problems`` with
    its reason) and add a ``weight`` column (mean 1) from a quality column. Changes ``images`` in
    place; returns what was done."""
    df = images.frame
    rep: dict[str, Any] = {"rows_before": len(df)}
    keep = np.ones(len(df), dtype=bool)
    for bound, sign in ((min_quality, 1), (max_quality, -1)):
        for col, thr in (bound or {}).items():
            if col not in df.columns:
                raise ValidationError(f"no quality column {col!r} in the image manifest; columns: "
                                      f"{', '.join(map(str, df.columns))}")
            x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
            ok = (x >= thr) if sign > 0 else (x <= thr)
            ok &= ~np.isnan(x)
            rep.setdefault("filters", []).append({"column": col, "min" if sign > 0 else "max": thr,
                                                  "dropped": int((keep & ~ok).sum())})
            bad = keep & ~ok
            for k in np.flatnonzero(bad).tolist():
                v = df[col].iloc[k]
                images.problems.append({
                    "line": int(df["line"].iloc[k]), "image_id": df["image_id"].iloc[k], "column": col, "value": v,
                    "reason": "quality filter",
                    "message": f"{col} {v!r} is {'below the minimum' if sign > 0 else 'above the maximum'} {thr!r}"
                    if not np.isnan(x[k]) else f"{col} {v!r} is not a number ({'min' if sign > 0 else 'max'} {thr!r})"})
            keep &= ok
    df = df[keep].reset_index(drop=True)
    if weight:
        if weight not in df.columns:
            raise ValidationError(f"no quality column {weight!r} in the image manifest; columns: "
                                  f"{', '.join(map(str, df.columns))}")
        x = pd.to_numeric(df[weight], errors="coerce").to_numpy(dtype=np.float64)
        if not higher_is_better:
            x = np.nanmax(x) + np.nanmin(x) - x if np.isfinite(x).any() else x
        x = np.where(np.isnan(x), np.nanmin(x) if np.isfinite(x).any() else 1.0, x)
        x = np.clip(x, 0.0, None)
        df["weight"] = x / x.mean() if x.sum() > 0 else np.ones(len(x))
        rep["weight"] = {"column": weight, "higher_is_better": higher_is_better}
    images.frame = df
    rep["rows_after"] = len(df)
    return rep
