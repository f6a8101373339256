"""The row checks of a prediction table and how a bad row is told: :class:`RowProblem` names the
row, its line, the column as the table's header spells it (``Feret``, never the internal field),
the value and what was expected, in one line.

A prediction is identified by (image, trait, region): ``region`` is the side, part or instance of
the image the value was measured on (left/right wing, each fin ray, a bounding box), so a table
may hold one value per region. Two rows with the same identity are either an exact duplicate (every
mapped field the same) or a conflict (another value); each is reported as what it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loaders._table_io import id_problems, shown
from ontologies.units import unit_curie

if TYPE_CHECKING:
    from loaders._prediction_table import PredictionTable

REQUIRED = ("image", "taxon", "trait", "value")
IDENTITY = ("image", "trait", "region")
MAPPED = ("image", "taxon", "trait", "value", "confidence", "unit", "truth", "specimen", "region")


@dataclass
class RowProblem:
    """Why one row cannot be loaded: where (row, line, column as the user named it), the value,
    what is wrong (``reason``, read after the value) and a short ``kind`` for counting."""

    row: int
    reason: str
    column: str | None = None
    value: str | None = None
    line: int | None = None
    pos: int = -1  # position in the table's frame (a wide row gives several frame rows)
    kind: str = ""
    more: tuple[int, ...] = ()  # other frame positions with the same problem (the traits of one wide row)

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        col = f", column {self.column!r}" if self.column else ""
        val = f"{shown(self.value)!r} " if self.value is not None else ""
        return f"{where}{col}: {val}{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("pos")
        d.pop("more")
        if self.value is not None:
            d["value"] = shown(self.value, 1000)
        d["message"] = str(self)
        return d


def merged(problems: list[RowProblem]) -> list[RowProblem]:
    """One problem per row, column and reason (a wide row's traits share its taxon and image
    cells), sorted by row; the frame positions of the merged ones are kept in ``more``."""
    out: dict[tuple[Any, ...], RowProblem] = {}
    for p in problems:
        key = (p.row, p.column, p.kind, p.reason, p.value)
        first = out.get(key)
        if first is None:
            out[key] = p
        else:
            first.more = (*first.more, p.pos, *p.more)
    return sorted(out.values(), key=lambda p: (p.row, p.pos))


def problem_counts(problems: list[RowProblem], *, limit: int = 6) -> str:
    """``2 x not a number in 'Feret', 1 x unknown unit in 'unit'`` (the most frequent first)."""
    by: dict[tuple[str, str], int] = {}
    for p in problems:
        key = (p.kind or p.reason, p.column or "")
        by[key] = by.get(key, 0) + 1
    items = sorted(by.items(), key=lambda x: (-x[1], x[0]))
    text = ", ".join(f"{n} x {k}" + (f" in {c!r}" if c else "") for (k, c), n in items[:limit])
    return text + (f", and {len(items) - limit} more kinds" if len(items) > limit else "")


def column_names(t: PredictionTable) -> np.ndarray | None:
    """Per frame row, the value column it came from (wide tables), else None."""
    return t.frame["vcol"].to_numpy() if "vcol" in t.frame else None


def column_of(t: PredictionTable, field: str, vcols: np.ndarray | None, i: int) -> str:
    """The header's name of the column a field of frame row ``i`` was read from."""
    if vcols is not None and field in ("value", "trait"):
        return str(vcols[i])
    if field in t.columns:
        return t.columns[field]
    return f"{field} (a constant of the mapping)"


def positions(t: PredictionTable) -> np.ndarray:
    """Each frame row's position in the whole table's frame (a chunk starts at ``t.pos0``; a frame
    of rows picked from several chunks has them in a ``pos`` column)."""
    if "pos" in t.frame:
        return t.frame["pos"].to_numpy()
    return np.arange(t.pos0, t.pos0 + len(t.frame))


def add(t: PredictionTable, mask: np.ndarray, field: str, reason: str, kind: str, *,
        values: pd.Series | np.ndarray | None = None) -> None:
    """Problems for the frame rows where ``mask`` holds."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return
    rows = t.frame["row"].to_numpy()
    pos = positions(t)
    vcols = column_names(t)
    vals = (values.to_numpy() if isinstance(values, pd.Series) else values) if values is not None else None
    t.problems.extend(RowProblem(int(rows[i]), reason, column_of(t, field, vcols, int(i)),
                                 None if vals is None else str(vals[i]), pos=int(pos[i]), kind=kind) for i in idx)


def check_rows(t: PredictionTable, units: dict[str, str | None]) -> dict[str, list[int]]:
    """The checks each row can have alone (empty required cells, image ids, confidences, units);
    sets the frame's ``num``, ``conf`` and ``unit`` (UO CURIEs); ``units``: unit text -> CURIE (or
    None: unknown), shared by the chunks of a table. Returns, per trait, ``[numbers, has a unit,
    empty values, rows]`` for :func:`kinds_of`."""
    df = t.frame
    for f in REQUIRED:
        add(t, (df[f] == "").to_numpy(), f, f"empty (every row needs a {f})", "empty")
    odd = id_problems(df["image"])
    for reason in pd.unique(odd[odd != ""]):
        add(t, (odd == reason).to_numpy(), "image", str(reason), "not an image id", values=df["image"])
    # confidence: a number in [0, 1] when given
    conf_s = df["confidence"].str.strip()
    conf = pd.to_numeric(conf_s, errors="coerce").to_numpy(dtype=float, copy=True)
    given = (conf_s != "").to_numpy()
    add(t, given & np.isnan(conf), "confidence", "is not a number (a confidence is a number in [0, 1])",
        "not a number", values=conf_s)
    add(t, given & ~np.isnan(conf) & ((conf < 0) | (conf > 1)), "confidence", "is outside [0, 1] (a confidence)",
        "confidence outside [0, 1]", values=conf_s)
    df["conf"] = np.where(given & (conf >= 0) & (conf <= 1), conf, np.nan)
    # units: UO CURIEs or common strings
    present = [u for u in pd.unique(df["unit"]) if u]
    for u in present:
        if u not in units:
            units[u] = unit_curie(u)
    unknown = {u for u in present if units[u] is None}
    if unknown:
        add(t, df["unit"].isin(unknown).to_numpy(), "unit", "is not a known unit (a UO CURIE or cm, mm, m, g, ...)",
            "unknown unit", values=df["unit"])
    df["unit"] = df["unit"].map({"": "", **{u: units[u] or "" for u in present}}) if present else ""
    num = pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float, copy=True)
    num[~np.isfinite(num)] = np.nan
    df["num"] = num
    stats = pd.DataFrame({"trait": df["trait"], "isnum": ~np.isnan(num), "unit": df["unit"] != "",
                          "empty": df["value"] == ""}).groupby("trait", sort=False).agg(
        isnum=("isnum", "sum"), unit=("unit", "any"), empty=("empty", "sum"), n=("isnum", "size"))
    return {str(tr): [int(a), int(b), int(c), int(d)] for tr, a, b, c, d in
            zip(stats.index, stats["isnum"], stats["unit"], stats["empty"], stats["n"])}


def add_stats(total: dict[str, list[int]], part: dict[str, list[int]]) -> None:
    """Sum :func:`check_rows`' per-trait counts of a chunk into ``total`` (traits in the order met)."""
    for tr, (a, b, c, d) in part.items():
        x = total.setdefault(tr, [0, 0, 0, 0])
        x[0] += a
        x[1] = int(bool(x[1] or b))
        x[2] += c
        x[3] += d


def kinds_of(stats: dict[str, list[int]], declared: dict[str, str]) -> dict[str, str]:
    """Each trait's kind: declared, else continuous when a unit is given or every value is a number."""
    kinds: dict[str, str] = {}
    for trait, (isnum, unit, empty, n) in stats.items():
        k = declared.get(trait)
        if k is None:
            k = "continuous" if unit or (isnum > 0 and isnum == n - empty) else "categorical"
        kinds[trait] = k
    return kinds


def odd_values(stats: dict[str, list[int]], kinds: dict[str, str]) -> bool:
    """Whether a continuous trait has values that are not numbers (so :func:`check_kinds` finds rows)."""
    return any(kinds.get(tr) == "continuous" and n - empty - isnum > 0 for tr, (isnum, _, empty, n) in stats.items())


def check_kinds(t: PredictionTable, kinds: dict[str, str]) -> None:
    """The check that needs every row's trait kind: a continuous trait's values are numbers."""
    df = t.frame
    cont = df["trait"].map(kinds).eq("continuous").to_numpy()
    add(t, cont & np.isnan(df["num"].to_numpy()) & (df["value"] != "").to_numpy(), "value",
        "is not a number (the trait is continuous)", "not a number", values=df["value"])


def check(t: PredictionTable, declared: dict[str, str]) -> None:
    """Every row check of a whole table; sets ``t.kinds`` and the frame's ``num``, ``conf`` and ``unit``."""
    t.kinds = kinds_of(check_rows(t, {}), declared)
    check_kinds(t, t.kinds)
    check_identity(t)
    t.problems[:] = merged(t.problems)


def identity_hashes(df: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's (image, trait, region) (0 for rows without an image: they have
    no identity to repeat)."""
    h = pd.util.hash_pandas_object(df[list(IDENTITY)], index=False).to_numpy()
    return np.where((df["image"] != "").to_numpy(), h, np.uint64(0))


def check_identity(t: PredictionTable) -> None:
    """One prediction per (image, trait, region): exact duplicates and conflicting values (over the
    frame's rows: the whole table, or every row of it whose identity hash repeats)."""
    df = t.frame
    has = (df["image"] != "").to_numpy()
    same = df.duplicated(list(IDENTITY), keep="first").to_numpy() & has
    if not same.any():
        return
    exact = df.duplicated(list(MAPPED), keep="first").to_numpy() & has
    first = df.groupby(list(IDENTITY), sort=False)["row"].transform("first").to_numpy()
    first_exact = df.groupby(list(MAPPED), sort=False)["row"].transform("first").to_numpy()
    first_val = df.groupby(list(IDENTITY), sort=False)["value"].transform("first").to_numpy()
    rows = df["row"].to_numpy()
    pos = positions(t)
    vcols = column_names(t)
    regioned = "region" in t.columns
    ident = "image, trait and region" if regioned else "image and trait (map a region column to tell parts apart)"
    for i in np.flatnonzero(exact).tolist():
        t.problems.append(RowProblem(int(rows[i]), f"repeats row {int(first_exact[i])} exactly (a duplicate row)",
                                     column_of(t, "image", vcols, i), str(df["image"].iat[i]), pos=int(pos[i]),
                                     kind="duplicate row"))
    for i in np.flatnonzero(same & ~exact).tolist():
        t.problems.append(RowProblem(
            int(rows[i]), f"conflicts with row {int(first[i])} ({str(first_val[i])!r} there): same {ident}",
            column_of(t, "value", vcols, i), str(df["value"].iat[i]), pos=int(pos[i]), kind="conflicting value"))


__all__ = ["RowProblem", "check", "check_rows", "check_kinds", "check_identity", "kinds_of", "add_stats", "odd_values",
           "identity_hashes", "positions", "add", "merged", "problem_counts", "column_of", "REQUIRED", "IDENTITY", "MAPPED"]
