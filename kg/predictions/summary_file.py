"""A summary graph's summaries kept beside the store, one file per graph version: what the
prediction load wrote into the graph, as arrays, so that ``traitkg index`` encodes the summary
pages without reading the summary graphs back (2M lines of TSV at 0.1, 7-10 s of the engine).

The load writes the file (:func:`keep`, from :func:`kg.predictions.summary.write_summaries`'s
frames) right after the graph is recorded, under the key of that graph's manifest entry (IRI,
version, checksum, triple count: :func:`kg.indexcache.graphs_key`), as :mod:`kg.taxon_names` keeps
each graph's names. :func:`rows` makes from it the answer rows
:func:`kg.predictions.queries.all_summaries` makes from the graph's nodes, column by column. A
graph without a file (written by hand, by an older version, a file removed or unreadable) and
every graph of a ``sparql:`` store (see :func:`path`) is read from the store, as before.

What a summary graph holds per node (``summary_ntriples``): its taxon, trait and kind; the finite
values of :data:`kg.predictions.summary.NUMERIC` (``n`` as an integer); a non-empty region; the
regions pooled; a continuous summary's unit as an OBO IRI; a categorical one's state counts (JSON)
and most frequent state. The file holds the same, column by column, in the graph's node order.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg import indexcache as ic
from kg.core.graphs import GraphRecord, list_graphs
from kg.core.store import Store

log = logging.getLogger(__name__)
KIND = "summaryframes"
FORMAT = 1
_OBO = "http://purl.obolibrary.org/obo/"
#: a summary's numeric fields, in the order of the file's ``numeric`` columns (kg.predictions.summary's too)
NUMERIC = ("n", "mean", "sd", "se", "min", "q25", "median", "q75", "max", "mean_confidence")
_KINDS = ("continuous", "categorical")
SUMMARY_KIND = "prediction-summary"  # the summary graphs' kind (kg.predictions.summary.KIND)


def kept_for(store: Store) -> bool:
    """Whether summaries are kept beside ``store``: an embedded one with a cache directory only (an
    in-memory store has none unless ``$TRAITKG_CACHE`` names one). A ``sparql:`` endpoint may give
    back other values than those written (Virtuoso's doubles did not equal the written ones in
    tests/kg/test_predictions.py), and its answers are what the rows must equal; its files would
    also sit in the user cache every endpoint shares."""
    return store.selector.startswith("oxigraph:") and ic.cache_dir(store, KIND) is not None


def path(store: Store, record: GraphRecord) -> Path | None:
    """Where the summaries of a summary graph version (its manifest entry) are kept (``None`` where
    :func:`kept_for` says no, or the store has no cache directory)."""
    if not kept_for(store):
        return None
    return ic.path_for(store, KIND, ic.graphs_key([record], FORMAT))


def arrays(cont: pd.DataFrame, cat: pd.DataFrame) -> dict[str, np.ndarray]:
    """The summary frames (:func:`kg.predictions.summary.summarise`) as the file's arrays: one row
    per summary node, continuous ones first, each frame in its order (the graph's node numbers)."""
    st = ic.StringTable()
    st.id("")
    frames = [f for f in (cont, cat)]
    n = sum(len(f) for f in frames)
    out: dict[str, np.ndarray] = {"kind": np.concatenate([np.full(len(f), k, dtype=np.int8)
                                                          for k, f in enumerate(frames)])}

    def col(name: str, conv: Any = str) -> list[Any]:
        vals: list[Any] = []
        for f in frames:
            vals += [conv(v) for v in f[name].tolist()] if name in f else [None] * len(f)
        return vals

    text = lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)  # noqa: E731
    out["taxon"] = st.ids(col("taxon_iri"))
    out["trait"] = st.ids(col("trait_iri"))
    out["region"] = st.ids([text(v) if v is not None else "" for v in col("region", lambda v: v)])
    out["unit"] = st.ids([text(v) if k == 0 and v is not None else "" for k, v in zip(out["kind"].tolist(),
                                                                                      col("unit", lambda v: v))])
    num = np.full((n, len(NUMERIC)), np.nan)
    row = 0
    for f in frames:
        for j, key in enumerate(NUMERIC):
            if key in f:
                num[row:row + len(f), j] = f[key].to_numpy(dtype=float)
        row += len(f)
    out["numeric"] = num
    out["regions_off"], out["regions"] = st.lists([[str(r) for r in v] if isinstance(v, list) else []
                                                   for v in col("regions", lambda v: v)])
    out["states"] = st.ids([json.dumps(v, ensure_ascii=False) if k == 1 else None
                            for k, v in zip(out["kind"].tolist(), col("states", lambda v: v))])
    out["mode"] = st.ids([str(v) if k == 1 else None for k, v in zip(out["kind"].tolist(), col("mode", lambda v: v))])
    out.update(st.arrays())
    return out


def keep(store: Store, record: GraphRecord, got: dict[str, np.ndarray]) -> None:
    """Write the summaries of the summary graph ``record`` just loaded (``got``: the :func:`arrays` of
    the frames it was written from, made while the engine loaded it), so that no index step reads
    that graph back. A failure to write is logged: the graph is then read from the store."""
    p = path(store, record)
    if p is None:
        return
    t0 = time.perf_counter()
    ic.try_save(p, got, kind=KIND, fmt=FORMAT, meta={"graph": record.iri, "version": record.version})
    log.info("summaries of %s: %d kept in %.1f s", record.iri, len(got["kind"]), time.perf_counter() - t0)


def files_in_use(store: Store) -> set[Path]:
    """The files of the summary graphs the manifest lists now (``traitkg index --prune`` keeps them:
    the next index step after a new batch reads the older batches' files)."""
    out = set()
    for r in list_graphs(store, kind=SUMMARY_KIND):
        p = path(store, r)
        if p is not None and p.is_file():
            out.add(p)
    return out


def has(store: Store, record: GraphRecord) -> bool:
    p = path(store, record)
    return p is not None and p.is_file()


def rows(store: Store, record: GraphRecord, head: dict[str, Any], cur: Callable[[str], str | None]
         ) -> list[dict[str, Any]] | None:
    """The answer rows of the summary graph ``record`` as :func:`kg.predictions.queries.all_summaries`
    makes them from the graph's nodes (``head``: the batch's fields, first in each row; ``cur``: IRI
    -> CURIE), made from the kept file column by column; ``None`` where no readable file is kept."""
    p = path(store, record)
    got = ic.load(p, kind=KIND, fmt=FORMAT) if p is not None else None
    if got is None:
        return None
    try:
        return _rows(got, head, cur)
    except (KeyError, IndexError, ValueError) as exc:  # a member missing or of another shape: never trusted
        log.warning("summaries file %s unreadable (%s: %s); the graph is read", p, type(exc).__name__, exc)
        return None


#: the fields a row gets after its head, in the order of their predicates' IRIs (as the graph's rows
#: get them): (field, column of ``numeric`` or the member it comes from)
_ORDER = (("max", 8), ("mean", 1), ("mean_confidence", 9), ("median", 6), ("min", 4), ("mode", "mode"), ("n", 0),
          ("regions", "regions"), ("q25", 5), ("q75", 7), ("region", "region"), ("sd", 2), ("se", 3),
          ("states", "states"), ("unit", "unit"))


def _rows(a: dict[str, Any], head: dict[str, Any], cur: Callable[[str], str | None]) -> list[dict[str, Any]]:
    t = ic.strings(a)
    kinds = a["kind"].tolist()
    n = len(kinds)
    cols = {k: t[a[k]].tolist() for k in ("taxon", "trait", "region", "unit", "states", "mode")}
    num = np.asarray(a["numeric"], dtype=float)
    regions = ic.split(t, a["regions_off"], a["regions"])
    if num.shape != (n, len(NUMERIC)) or len(regions) != n or any(len(v) != n for v in cols.values()):
        raise ValueError("members of different lengths")
    fin = np.isfinite(num).tolist()
    vals = num.tolist()
    curies: dict[str, str | None] = {}
    units: dict[str, str | None] = {}

    def c(iri: str) -> str | None:
        got = curies.get(iri, curies)
        if got is curies:
            got = curies[iri] = cur(iri)
        return got  # type: ignore[return-value]

    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = _KINDS[kinds[i]]
        taxon, trait = cols["taxon"][i], cols["trait"][i]
        d = {**head, "taxon": c(taxon), "taxon_iri": taxon, "trait": c(trait), "kind": kind, "tier": "predicted"}
        v, ok = vals[i], fin[i]
        for key, src in _ORDER:
            if type(src) is int:
                if ok[src]:
                    d[key] = int(v[src]) if src == 0 else v[src]
            elif src == "region":
                if cols["region"][i]:
                    d[key] = cols["region"][i]
            elif src == "regions":
                if regions[i]:
                    d[key] = sorted(regions[i])
            elif src == "unit":
                u = cols["unit"][i]
                if kind == "continuous" and u:
                    if u not in units:
                        units[u] = cur(f"{_OBO}{u.replace(':', '_')}")
                    d[key] = units[u]
            elif kind == "categorical":  # states, mode
                if src == "states":
                    d[key] = json.loads(cols["states"][i])
                else:
                    d[key] = cols["mode"][i]
        out.append(d)
    return out


__all__ = ["KIND", "FORMAT", "kept_for", "path", "arrays", "keep", "files_in_use", "has", "rows"]
