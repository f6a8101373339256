"""The per-image rows of a prediction batch as a Parquet side table (``--rows parquet``): written
by :mod:`loaders.predictions`, read by :mod:`kg.predictions` (image, taxon, diff and accuracy
questions). See ``docs/scale.md`` ("Per-image rows") for why and when.

One file per batch, zstd, sorted by taxon then image (row groups of :data:`ROW_GROUP` rows, so a
taxon's rows are one or two row groups found from the statistics of the ``taxon`` column), with
the values the RDF path writes, as the store would answer them:

=========== ============================= ==================================================
column      type                          RDF it stands for (subject: the prediction node)
=========== ============================= ==================================================
taxon       dictionary string (IRI)       ``tkg:taxon``
image       string (IRI)                  ``tkg:image``
trait       dictionary string (IRI)       ``tkg:trait``
region      dictionary string, null       ``tkg:region``
value       string, null                  ``tkg:predictedValue`` of a categorical trait
num         double, null                  ``tkg:predictedValue`` (xsd:double) of a continuous trait
confidence  double, null                  ``tkg:confidence``
unit        dictionary string (IRI), null ``tkg:unit``
truth       string, null                  ``tkg:groundTruth``
specimen    string, null                  ``tkg:specimenId``
row, k      int64, int32                  the node's IRI: ``<base>prediction/<model>/<version>/<row>/<k>[/<region>]``
=========== ============================= ==================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROW_GROUP = 100_000
COMPRESSION = "zstd"
FORMAT = {"format": "parquet", "compression": COMPRESSION, "sorted_by": ["taxon", "image"], "row_group_rows": ROW_GROUP,
          "layout": "1"}
_DICT = pa.dictionary(pa.int32(), pa.string())
SCHEMA = pa.schema([("taxon", _DICT), ("image", pa.string()), ("trait", _DICT), ("region", _DICT),
                    ("value", pa.string()), ("num", pa.float64()), ("confidence", pa.float64()), ("unit", _DICT),
                    ("truth", pa.string()), ("specimen", pa.string()), ("row", pa.int64()), ("k", pa.int32())])
_OBO = "http://purl.obolibrary.org/obo/"


def _nullable(values: np.ndarray) -> pa.Array:
    """Strings with "" as null."""
    arr = pa.array(values, type=pa.string())
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _dict(codes: np.ndarray, cats: list[str]) -> pa.Array:
    """A dictionary column from category codes (-1 or an empty category: null)."""
    cats_arr = pa.array(cats, type=pa.string())
    mask = codes < 0
    if "" in cats:
        mask = mask | (codes == cats.index(""))
    return pa.DictionaryArray.from_arrays(pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask), cats_arr)


def row_batches(df: pd.DataFrame, kinds: dict[str, str], images: np.ndarray,
                order: np.ndarray) -> Iterator[pa.RecordBatch]:
    """Record batches of :data:`SCHEMA` for the frame's rows in ``order`` (linked: ``taxon_iri``,
    ``trait_iri``), :data:`ROW_GROUP` rows each; ``images``: each frame row's image IRI."""
    taxon = pd.Categorical(df["taxon_iri"])
    trait = pd.Categorical(df["trait_iri"])
    region = pd.Categorical(df["region"])
    unit = pd.Categorical(df["unit"].map(lambda u: f"{_OBO}{u.replace(':', '_')}" if u else ""))
    cont = df["trait"].map(kinds).eq("continuous").to_numpy()
    t_cats, r_cats, u_cats, tr_cats = (list(taxon.categories), list(region.categories), list(unit.categories),
                                       list(trait.categories))
    for start in range(0, len(order), ROW_GROUP):
        idx = order[start:start + ROW_GROUP]
        part = df.iloc[idx]
        c = cont[idx]
        value = part["value"].to_numpy(dtype=object).copy()
        value[c] = ""
        num = part["num"].to_numpy(dtype=float).copy()
        num[~c] = np.nan
        yield pa.RecordBatch.from_arrays([
            _dict(taxon.codes[idx], t_cats), pa.array(images[idx], type=pa.string()),
            _dict(trait.codes[idx], tr_cats), _dict(region.codes[idx], r_cats), _nullable(value),
            pa.array(num, type=pa.float64(), from_pandas=True),
            pa.array(part["conf"].to_numpy(dtype=float), type=pa.float64(), from_pandas=True),
            _dict(unit.codes[idx], u_cats), _nullable(part["truth"].to_numpy(dtype=object)),
            _nullable(part["specimen"].to_numpy(dtype=object)), pa.array(part["row"].to_numpy(dtype=np.int64)),
            pa.array(part["k"].to_numpy(dtype=np.int32))], schema=SCHEMA)


def sort_order(df: pd.DataFrame, images: pd.Series | None = None) -> np.ndarray:
    """Row order of the file: by taxon IRI, then image id, then the node (row, k)."""
    taxon = pd.Categorical(df["taxon_iri"])
    image = pd.Categorical(df["image"] if images is None else images)
    return np.lexsort((df["k"].to_numpy(), df["row"].to_numpy(), image.codes, taxon.codes))


def write(path: Path, batches: Iterator[pa.RecordBatch], progress: Callable[[int], None] | None = None) -> int:
    """Write the record batches as one row group each; returns the rows written."""
    n = 0
    with pq.ParquetWriter(path, SCHEMA, compression=COMPRESSION, write_statistics=True) as w:
        for b in batches:
            w.write_batch(b, row_group_size=ROW_GROUP)
            n += b.num_rows
            if progress:
                progress(n)
    return n


# ----------------------------------------------------------------------------------- reading

def _groups_for(pf: pq.ParquetFile, column: str, value: str) -> list[int]:
    """Row groups whose min/max statistics of a column may hold ``value``."""
    i = pf.schema_arrow.get_field_index(column)
    out = []
    for g in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(g).column(i).statistics
        if st is None or not st.has_min_max or (st.min <= value <= st.max):
            out.append(g)
    return out


def rows_where(path: Path, column: str, value: str, *, columns: list[str] | None = None,
               limit: int | None = None) -> pa.Table:
    """Rows whose ``column`` equals ``value``: row groups chosen by statistics (``taxon``: the
    sorted column, one or two groups), the column read first and the other columns only of the
    groups that match."""
    pf = pq.ParquetFile(path)
    cols = columns or SCHEMA.names
    parts = []
    got = 0
    for g in _groups_for(pf, column, value):
        key = pf.read_row_group(g, columns=[column]).column(0)
        mask = pc.equal(key.cast(pa.string()) if pa.types.is_dictionary(key.type) else key, value)
        if not pc.any(mask).as_py():
            continue
        part = pf.read_row_group(g, columns=cols).filter(mask)
        parts.append(part)
        got += part.num_rows
        if limit is not None and got >= limit:
            break
    out = pa.concat_tables(parts) if parts else SCHEMA.empty_table().select(cols)
    return out.slice(0, limit) if limit is not None else out


def read_all(path: Path, columns: list[str], *, where: tuple[str, str] | None = None) -> pa.Table:
    """Every row (some columns), optionally those where a column equals a value."""
    if where is not None:
        return rows_where(path, where[0], where[1], columns=columns)
    return pq.read_table(path, columns=columns)


def dicts(table: pa.Table) -> list[dict[str, Any]]:
    """The rows as dicts (dictionary columns decoded)."""
    return table.to_pylist()


__all__ = ["ROW_GROUP", "FORMAT", "SCHEMA", "row_batches", "sort_order", "write", "rows_where", "read_all", "dicts"]
