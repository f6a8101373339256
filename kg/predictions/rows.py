"""Per-image rows of batches whose rows are in a Parquet side table (``--rows parquet``; see
:mod:`loaders._image_rows`): the same answers :mod:`kg.predictions.queries` reads from the batch
graph, read with pyarrow (the ``taxon`` column is sorted, so a taxon is found from row-group
statistics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kg.core.graphs import GraphRecord, list_graphs
from kg.core.store import Store
from kg.core.tables import TABLE_KIND, table_path, tables_of


def side_tables(store: Store, chosen: list[GraphRecord]) -> dict[str, Path]:
    """Batch IRI -> its side table's file, for the chosen batches that have one."""
    if not any(b.parameters.get("rows") == "parquet" for b in chosen):
        return {}
    recs = list_graphs(store, kind=TABLE_KIND)
    out = {}
    for b in chosen:
        if b.parameters.get("rows") != "parquet":
            continue
        t = tables_of(store, b.iri, records=recs)
        if not t:
            from kg.core.errors import IntegrityError

            raise IntegrityError(f"batch {b.kind}/{b.name}/{b.version} keeps its per-image rows in a side table, "
                                 "but the manifest lists none (dropped by hand?); load the batch again")
        out[b.iri] = table_path(store, t[-1])
    return out


def _value(r: dict[str, Any]) -> Any:
    return r["num"] if r["value"] is None else r["value"]


def image_rows(path: Path, image_iri: str) -> list[dict[str, Any]]:
    """An image's rows: dicts with IRIs (taxon, trait, unit) and values as the store answers them."""
    from loaders._image_rows import rows_where

    return [{**r, "value": _value(r)} for r in rows_where(path, "image", image_iri).to_pylist()]


def taxon_rows(path: Path, taxon_iri: str, *, limit: int) -> list[dict[str, Any]]:
    """A taxon's rows (at most ``limit``), in file order (by image)."""
    from loaders._image_rows import rows_where

    cols = ["image", "trait", "value", "num", "confidence", "unit"]
    return [{**r, "value": _value(r)} for r in rows_where(path, "taxon", taxon_iri, columns=cols, limit=limit).to_pylist()]


def frame(path: Path, columns: list[str], *, where: tuple[str, str] | None = None) -> Any:
    """Columns of every row (or of the rows where a column equals a value) as a pandas DataFrame,
    with ``value`` holding the predicted value as the store answers it."""
    from loaders._image_rows import read_all

    want = list(dict.fromkeys([*(c for c in columns if c != "value"), *(["value", "num"] if "value" in columns else [])]))
    df = read_all(path, want, where=where).to_pandas()
    for c in df.columns:
        if hasattr(df[c], "cat"):
            df[c] = df[c].astype(object)
    if "value" in columns:
        df["value"] = df["value"].where(df["value"].notna(), df["num"]).astype(object)
        df = df.drop(columns=["num"])
    return df


__all__ = ["side_tables", "image_rows", "taxon_rows", "frame"]
