"""Taxon-level summaries of a prediction batch, precomputed once per batch into a derived graph
(kind ``prediction-summary``, same name and version as the batch, ``prov:wasDerivedFrom`` it).

Continuous traits: n, mean, sd, se, min, quartiles, max and mean confidence, with values
normalised to one unit per trait (the unit most rows of the trait use; other units of the same
dimension are converted). Categorical traits: n, state counts, the most frequent state. A trait
measured per region (``tkg:region``: left/right wing, a fin ray) is summarised per region and, in
a node of its own, pooled over the regions (``tkg:pooledRegion`` names each region pooled).
A taxon's summaries are then one small bound query, whatever the number of predictions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kg.core.bulk import load_chunks
from kg.core.graphs import TKG, XSD, GraphRecord, derived_sha, load_graph
from kg.core.ids import PREDICTION_NS
from kg.core.store import Store
from kg.predictions.summary_file import NUMERIC, keep, kept_for
from kg.predictions.summary_file import SUMMARY_KIND as KIND
from kg.predictions.summary_file import arrays as summary_arrays
from ontologies.units import UNITS, factor

VERSION = "1"
_OBO = "http://purl.obolibrary.org/obo/"


def unit_targets(cont: pd.DataFrame) -> dict[str, str]:
    """Per continuous trait, the unit its summaries are in: the unit most of its rows use (ties:
    the one met first), when the trait's rows use more than one unit."""
    counts: dict[str, dict[str, int]] = {}
    for (trait, unit), n in cont.groupby(["trait_iri", "unit"], sort=False).size().items():
        counts.setdefault(trait, {})[unit] = counts.get(trait, {}).get(unit, 0) + int(n)
    return targets_from_counts(counts)


def targets_from_counts(counts: dict[str, dict[str, int]]) -> dict[str, str]:
    """:func:`unit_targets` from per-trait unit counts (``''``: rows without a unit)."""
    out = {}
    for trait, units in counts.items():
        if len(units) < 2:
            continue
        ranked = sorted(units.items(), key=lambda x: -x[1])  # stable: ties keep the order met
        target = next((u for u, _ in ranked if u), "")
        if target:
            out[trait] = target
    return out


def normalise_units(df: pd.DataFrame, targets: dict[str, str] | None = None) -> pd.DataFrame:
    """``x`` (the value in the trait's unit) and ``unit_to`` per row of continuous predictions;
    ``targets``: the unit of each trait (:func:`unit_targets` of the whole batch; by default of ``df``)."""
    out = df.copy()
    out["unit_to"] = out["unit"]
    out["x"] = out["num"].astype(float)
    for trait, target in (unit_targets(df) if targets is None else targets).items():
        sel = out["trait_iri"] == trait
        if not sel.any():
            continue
        for u in pd.unique(out.loc[sel, "unit"]):
            if u and u != target and UNITS[u].dimension == UNITS[target].dimension:
                m = sel & (out["unit"] == u)
                out.loc[m, "x"] = out.loc[m, "x"] * factor(u, target)
                out.loc[m, "unit_to"] = target
    return out


def summarise(df: pd.DataFrame, kinds: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(continuous, categorical) summary frames of linked predictions, one row per taxon, trait and
    region (``region`` '' where none was given), plus, for a taxon's trait measured per region, one
    pooled over its regions (``regions``: the regions pooled; ``region`` '')."""
    cont_mask = df["trait"].map(kinds).eq("continuous").to_numpy()
    targets = unit_targets(df[cont_mask])
    return combine([summary_parts(df, cont_mask, targets)])


def summary_parts(df: pd.DataFrame, cont_mask: np.ndarray, targets: dict[str, str]) -> list[pd.DataFrame]:
    """The summaries of some taxa's rows (every row of each taxon: a taxon's rows are not split
    between two calls): [continuous per region, continuous pooled, categorical per region,
    categorical pooled]; ``targets``: the batch's :func:`unit_targets`. :func:`combine` puts the
    parts of several calls (in taxon order) together as :func:`summarise` of all the rows."""
    df = df.assign(region=df["region"] if "region" in df else "")
    cont = normalise_units(df[cont_mask], targets) if cont_mask.any() else df.iloc[:0].assign(x=[], unit_to=[])
    cat = df[~cont_mask]
    out = []
    for part, fn in ((cont, _continuous), (cat, _categorical)):
        per = fn(part)
        per["regions"] = None
        key = ["taxon_iri", "trait_iri"]
        has = (part["region"] != "").groupby([part[k] for k in key]).transform("any") if len(part) else part["region"]
        pool = part[has.astype(bool)] if len(part) else part
        pooled = None
        if len(pool):
            regions = _regions(pool)
            pooled = fn(pool.assign(region="")).drop(columns=["regions"], errors="ignore")
            pooled["regions"] = [regions[k] for k in zip(pooled["taxon_iri"].tolist(), pooled["trait_iri"].tolist())]
        out += [per, pooled]
    return out


def _regions(pool: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(taxon, trait) -> the regions its rows name, sorted (one pass over the rows, not a Python
    call per group)."""
    seen: dict[tuple[str, str], set[str]] = {}
    named = pool[(pool["region"] != "").to_numpy()]
    for t, tr, r in zip(named["taxon_iri"].tolist(), named["trait_iri"].tolist(), named["region"].tolist()):
        seen.setdefault((t, tr), set()).add(r)
    return {k: sorted(v) for k, v in seen.items()}


def combine(parts: list[list[pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(continuous, categorical) from :func:`summary_parts` of taxa in order: every per-region
    summary, then every pooled one."""
    res = []
    for j in (0, 2):
        frames = [p[j] for p in parts if len(p[j])] + [p[j + 1] for p in parts if p[j + 1] is not None]
        res.append(pd.concat(frames, ignore_index=True) if len(frames) > 1 else
                   frames[0].reset_index(drop=True) if frames else parts[0][j] if parts else pd.DataFrame())
    return res[0], res[1]


def _continuous(cont: pd.DataFrame) -> pd.DataFrame:
    if not len(cont):
        return pd.DataFrame(columns=["taxon_iri", "trait_iri", "region", "unit", *NUMERIC])
    g = cont.groupby(["taxon_iri", "trait_iri", "region", "unit_to"], sort=True)
    c = g["x"].agg(n="size", mean="mean", sd="std", min="min", max="max").reset_index()
    q = g["x"].quantile([0.25, 0.5, 0.75]).unstack()
    c["q25"], c["median"], c["q75"] = q[0.25].to_numpy(), q[0.5].to_numpy(), q[0.75].to_numpy()
    c["mean_confidence"] = g["conf"].mean().to_numpy()
    c["se"] = c["sd"] / np.sqrt(c["n"])
    return c.rename(columns={"unit_to": "unit"})


def _categorical(cat: pd.DataFrame) -> pd.DataFrame:
    if not len(cat):
        return pd.DataFrame(columns=["taxon_iri", "trait_iri", "region", "n", "states", "mode", "mean_confidence"])
    key = ["taxon_iri", "trait_iri", "region"]
    counts = cat.groupby([*key, "value"], sort=True).size().rename("k").reset_index()  # by key, then state
    conf = cat.groupby(key, sort=False)["conf"].mean().to_dict()
    gid = counts.groupby(key, sort=False).ngroup().to_numpy()  # counts is sorted: ids rise along it
    k = counts["k"].to_numpy()
    order = np.lexsort((-k, gid))  # stable: within a key, the most frequent state first, ties by state
    gid, k = gid[order], k[order].tolist()
    vals = counts["value"].to_numpy(dtype=object)[order].tolist()
    lo = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    bounds = list(zip(lo.tolist(), [*lo[1:].tolist(), len(gid)]))
    keys = counts[key].iloc[order[lo]]
    states = [dict(zip(vals[a:b], k[a:b])) for a, b in bounds]
    kt = list(zip(*(keys[c].tolist() for c in key)))
    return pd.DataFrame({"taxon_iri": [x[0] for x in kt], "trait_iri": [x[1] for x in kt], "region": [x[2] for x in kt],
                         "states": states, "mean_confidence": [conf.get(x, np.nan) for x in kt],
                         "n": [sum(k[a:b]) for a, b in bounds], "mode": [vals[a] for a, _ in bounds]})


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


SUMMARY_CHUNK = 25_000  # summary nodes per N-Triples chunk (about 350k triples: a bulk load's memory grows with its chunk)


def _iris(values: list[str], *, wrap: Callable[[str], str] = lambda v: f"<{v}>") -> pa.Array:
    """A column of terms, each distinct value written once (a batch names a few thousand taxa)."""
    uniq = {v: wrap(v) for v in set(values)}
    return pa.array([uniq[v] for v in values], pa.string())


def _lines(subj: pa.Array, pred: str, objects: pa.Array | str, mask: Any = None) -> pa.Array:
    """One predicate's N-Triples lines (each ending in ``" .\\n"``) for the subjects where ``mask`` holds."""
    if mask is not None:
        mask = pa.array(np.asarray(mask, dtype=bool))
        subj = subj.filter(mask)
        objects = objects.filter(mask) if isinstance(objects, pa.Array) else objects
    return pc.binary_join_element_wise(subj, pred, objects, " .\n", "")


def _doubles(vals: np.ndarray, ok: np.ndarray, *, integer: bool) -> pa.Array:
    """Typed literals of the values, null where not ``ok`` (Arrow's shortest round-trip form of a
    double: the same value as Python's ``repr``, and the engine keeps doubles as values)."""
    arr = pa.array(np.where(ok, vals, 0.0))
    text = arr.cast(pa.int64()).cast(pa.string()) if integer else arr.cast(pa.string())
    lit = pc.binary_join_element_wise('"', text, f'"^^<{XSD}{"integer" if integer else "double"}>', "")
    return pc.if_else(pa.array(ok), lit, pa.scalar(None, pa.string()))


def summary_ntriples(cont: pd.DataFrame, cat: pd.DataFrame, prefix: str, batch_graph: str, *,
                     chunk: int = SUMMARY_CHUNK) -> Iterator[tuple[bytes, int]]:
    """N-Triples chunks of the summary nodes (``(bytes, triples)``, :data:`SUMMARY_CHUNK` nodes
    each), built a column at a time with Arrow's string kernels (a summary's lines in any order:
    N-Triples lines stand alone); terms are written once per distinct value."""
    P = lambda x: f" <{TKG}{x}> "  # noqa: E731
    typ = " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    i = 0
    for kind, frame in (("continuous", cont), ("categorical", cat)):
        kind_lit = _lit(kind)
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start:start + chunk]
            m = len(part)
            nums = pa.array(np.arange(i + 1, i + m + 1, dtype=np.int64)).cast(pa.string())
            subj = pc.binary_join_element_wise(f"<{prefix}", nums, ">", "")
            i += m
            cols: list[pa.Array] = [
                _lines(subj, typ, f"<{TKG}PredictionSummary>"),
                _lines(subj, P("summaryOf"), f"<{batch_graph}>"),
                _lines(subj, P("taxon"), _iris(part["taxon_iri"].tolist())),
                _lines(subj, P("trait"), _iris(part["trait_iri"].tolist())),
                _lines(subj, P("traitKind"), kind_lit)]
            for key in NUMERIC:
                if key not in part:
                    continue
                vals = part[key].to_numpy(dtype=float)
                ok = np.isfinite(vals)
                cols.append(_lines(subj, P(_camel(key)), _doubles(vals, ok, integer=key == "n"), ok))
            if "region" in part:
                reg = part["region"].fillna("").astype(str).tolist()
                cols.append(_lines(subj, P("region"), _iris(reg, wrap=_lit), [bool(r) for r in reg]))
            if "regions" in part:
                pooled = [(s_, r) for s_, regs in zip(range(m), part["regions"].tolist()) if isinstance(regs, list)
                          for r in regs]
                if pooled:
                    idx = pa.array([s_ for s_, _ in pooled], pa.int64())
                    cols.append(_lines(subj.take(idx), P("pooledRegion"), _iris([str(r) for _, r in pooled], wrap=_lit)))
            if kind == "continuous" and "unit" in part:
                units = part["unit"].fillna("").astype(str).tolist()
                cols.append(_lines(subj, P("unit"), _iris(units, wrap=lambda u: f"<{_OBO}{u.replace(':', '_')}>"),
                                   [bool(u) for u in units]))
            if kind == "categorical":
                cols.append(_lines(subj, P("stateCounts"), _state_counts(part["states"].tolist())))
                cols.append(_lines(subj, P("mostFrequentState"), _iris([str(v) for v in part["mode"].tolist()], wrap=_lit)))
            yield b"".join([_text(c) for c in cols]), sum(len(c) for c in cols)


def _state_counts(states: list[dict[str, int]]) -> pa.Array:
    """The ``tkg:stateCounts`` literals (JSON), each distinct set of counts written once (most
    taxa of a batch share a few small ones)."""
    done: dict[tuple, str] = {}
    out = []
    for st in states:
        key = tuple(st.items())
        lit = done.get(key)
        if lit is None:
            lit = done[key] = _lit(json.dumps(st, ensure_ascii=False))
        out.append(lit)
    return pa.array(out, pa.string())


def _text(lines: pa.Array) -> memoryview | bytes:
    """The concatenated text of a string array (its data buffer between its first and last offsets),
    as a view of the array's buffer (the caller joins the views: one copy)."""
    if not len(lines):
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1 + lines.offset)[lines.offset:]
    return memoryview(lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])))


def _camel(key: str) -> str:
    return {"mean": "mean", "n": "n", "sd": "sd", "se": "se", "min": "min", "max": "max", "q25": "q25", "median": "median",
            "q75": "q75", "mean_confidence": "meanConfidence"}[key]


def write_summaries(store: Store, batch: GraphRecord, df: pd.DataFrame | None, kinds: dict[str, str] | None, *,
                    frames: Callable[[], tuple[pd.DataFrame, pd.DataFrame]] | None = None) -> GraphRecord:
    """Summarise a batch's linked predictions into ``graph/prediction-summary/<name>/<version>``:
    from ``df`` (every kept row) and ``kinds``, or ``frames()`` (the :func:`summarise` frames,
    computed only when the graph is written)."""
    params = {"summary": VERSION}
    prefix = f"{PREDICTION_NS}{batch.name}/{batch.version}/summary/"

    # the summaries are kept beside the store too (the index step encodes them without reading the
    # graph back): their arrays are made in a thread while the engine loads the graph
    pool = ThreadPoolExecutor(1) if kept_for(store) else None
    kept: list[Future] = []

    def writer(graph: str) -> int:
        cont, cat = frames() if frames is not None else summarise(df, kinds or {})
        if pool is not None:
            kept.append(pool.submit(summary_arrays, cont, cat))
        return load_chunks(store, summary_ntriples(cont, cat, prefix, batch.iri), graph)

    try:
        rec = load_graph(store, kind=KIND, name=batch.name, version=batch.version, writer=writer, source="derived",
                         sha256=derived_sha([batch], params), byte_size=0, loader="prediction-summary",
                         loader_version=VERSION, parameters=params, derived_from=[batch.iri], counted=True)
        if kept:
            keep(store, rec, kept[0].result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return rec


__all__ = ["KIND", "summarise", "summary_parts", "combine", "unit_targets", "targets_from_counts", "write_summaries",
           "normalise_units", "NUMERIC"]
