"""A summary graph's summaries kept beside the store, one file per graph version: what the
prediction load wrote into the graph, as arrays, so that ``traitkg index`` encodes the summary
pages without reading the summary graphs back (2M lines of TSV at 0.1, 7-10 s of the engine).

The load writes the file (:func:`keep`, from :func:`kg.predictions.summary.write_summaries`'s
frames) right after the graph is recorded, under the key of that graph's manifest entry (IRI,
version, checksum, triple count: :func:`kg.indexcache.graphs_key`), as :mod:`kg.taxon_names` keeps
each graph's names. :func:`nodes` gives each summary node's (predicate, value, typed value) triples
as the graph's TSV read gives them (:func:`kg.predictions.queries.all_summaries` makes the same
answer rows from either). A graph without a file (written by hand, by an older version, a file
removed, a ``sparql:`` store's user cache without it) is read from the store, as before.

What a summary graph holds per node (``summary_ntriples``): its taxon, trait and kind; the finite
values of :data:`kg.predictions.summary.NUMERIC` (``n`` as an integer); a non-empty region; the
regions pooled; a continuous summary's unit as an OBO IRI; a categorical one's state counts (JSON)
and most frequent state. The file holds the same, column by column, in the graph's node order.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg import indexcache as ic
from kg.core.graphs import TKG, GraphRecord, list_graphs
from kg.core.store import Store

log = logging.getLogger(__name__)
KIND = "summaryframes"
FORMAT = 1
_OBO = "http://purl.obolibrary.org/obo/"
NUMERIC = ("n", "mean", "sd", "se", "min", "q25", "median", "q75", "max", "mean_confidence")  # as summary.NUMERIC
_PRED = {"n": "n", "mean": "mean", "sd": "sd", "se": "se", "min": "min", "q25": "q25", "median": "median", "q75": "q75",
         "max": "max", "mean_confidence": "meanConfidence"}
_KINDS = ("continuous", "categorical")
SUMMARY_KIND = "prediction-summary"  # the summary graphs' kind (kg.predictions.summary.KIND, which imports this module)


def path(store: Store, record: GraphRecord) -> Path | None:
    """Where the summaries of a summary graph version (its manifest entry) are kept."""
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


def keep(store: Store, record: GraphRecord, cont: pd.DataFrame, cat: pd.DataFrame) -> None:
    """Write the summaries of the summary graph ``record`` just loaded (from the frames it was
    written from), so that no index step reads that graph back. A failure to write is logged: the
    graph is then read from the store."""
    p = path(store, record)
    if p is None:
        return
    t0 = time.perf_counter()
    ic.try_save(p, arrays(cont, cat), kind=KIND, fmt=FORMAT, meta={"graph": record.iri, "version": record.version})
    log.info("summaries of %s: %d kept in %.1f s", record.iri, len(cont) + len(cat), time.perf_counter() - t0)


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


def nodes(store: Store, record: GraphRecord) -> list[list[tuple[str, str, Any]]] | None:
    """Each summary node of the graph ``record`` as the (predicate IRI, value, typed value) triples
    the graph's read gives (without ``rdf:type`` and ``tkg:summaryOf``), in node order; ``None``
    where no readable file is kept (the caller reads the graph)."""
    p = path(store, record)
    got = ic.load(p, kind=KIND, fmt=FORMAT) if p is not None else None
    if got is None:
        return None
    try:
        return _nodes(got)
    except (KeyError, IndexError, ValueError) as exc:  # a member missing or of another shape: never trusted
        log.warning("summaries file %s unreadable (%s: %s); the graph is read", p, type(exc).__name__, exc)
        return None


def _nodes(a: dict[str, Any]) -> list[list[tuple[str, str, Any]]]:
    t = ic.strings(a)
    kinds = a["kind"].tolist()
    n = len(kinds)
    cols = {k: t[a[k]].tolist() for k in ("taxon", "trait", "region", "unit", "states", "mode")}
    num = np.asarray(a["numeric"], dtype=float)
    if num.shape != (n, len(NUMERIC)) or any(len(v) != n for v in cols.values()):
        raise ValueError("members of different lengths")
    ok = np.isfinite(num)
    regions = ic.split(t, a["regions_off"], a["regions"])
    if len(regions) != n:
        raise ValueError("members of different lengths")
    P = {k: TKG + v for k, v in _PRED.items()}
    taxon_p, trait_p, kind_p = TKG + "taxon", TKG + "trait", TKG + "traitKind"
    region_p, pooled_p, unit_p = TKG + "region", TKG + "pooledRegion", TKG + "unit"
    states_p, mode_p = TKG + "stateCounts", TKG + "mostFrequentState"
    units: dict[str, str] = {}
    out: list[list[tuple[str, str, Any]]] = []
    num_list, ok_list = num.tolist(), ok.tolist()
    for i in range(n):
        kind = _KINDS[kinds[i]]
        taxon, trait = cols["taxon"][i], cols["trait"][i]
        po: list[tuple[str, str, Any]] = [(taxon_p, taxon, taxon), (trait_p, trait, trait), (kind_p, kind, kind)]
        vals, fin = num_list[i], ok_list[i]
        for j, key in enumerate(NUMERIC):
            if fin[j]:
                v = vals[j]
                if key == "n":
                    x: Any = int(v)
                    po.append((P[key], str(x), x))
                else:
                    po.append((P[key], repr(v), v))
        reg = cols["region"][i]
        if reg:
            po.append((region_p, reg, reg))
        for r in regions[i]:
            po.append((pooled_p, r, r))
        unit = cols["unit"][i]
        if kind == "continuous" and unit:
            iri = units.get(unit)
            if iri is None:
                iri = units[unit] = f"{_OBO}{unit.replace(':', '_')}"
            po.append((unit_p, iri, iri))
        if kind == "categorical":
            s, m = cols["states"][i], cols["mode"][i]
            po.append((states_p, s, s))
            po.append((mode_p, m, m))
        out.append(po)
    return out


__all__ = ["KIND", "FORMAT", "path", "arrays", "keep", "files_in_use", "has", "nodes"]
