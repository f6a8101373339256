"""The RDF a prediction batch writes (see :mod:`loaders.predictions`): per-image predictions as
N-Triples chunks (``--rows rdf``) and the batch's provenance with its rejected rows."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from kg.core.graphs import PROV, TKG, XSD
from kg.core.ids import ARK_RESOLVER, IMAGE_NS, image_iri, model_iri
from kg.core.sources import Source
from kg.core.store import Literal, NamedNode
from loaders._base import Progress
from loaders._prediction_rows import RowProblem
from loaders._table_io import shown

CHUNK_ROWS = 100_000  # predictions per N-Triples chunk
STORED_CELL = 1000  # characters of a rejected row's cell kept with the batch
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_OBO = "http://purl.obolibrary.org/obo/"


def _p(local: str) -> str:
    return f"<{TKG}{local}>"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def image_iris(images: pd.Series) -> pd.Series:
    """:func:`kg.core.ids.image_iri` of a column: plain ids and plain ARK ids at once, the rest one by one."""
    ark = images.str.startswith("ark:/")
    plain = images.str.fullmatch(r"[A-Za-z0-9._~-]+") | (ark & images.str.fullmatch(r"ark:/[A-Za-z0-9._~/-]+"))
    out = (IMAGE_NS + images).where(~ark, ARK_RESOLVER + images)
    if not plain.all():
        odd = images[~plain]
        out[~plain] = odd.map({x: image_iri(x) for x in pd.unique(odd)})
    return out


def prediction_ntriples(df: pd.DataFrame, prefix: str, kinds: dict[str, str], *,
                        chunk: int = CHUNK_ROWS) -> Iterator[tuple[bytes, int]]:
    """N-Triples chunks for the frame's predictions (already linked), ``(bytes, triples)`` each."""
    p_img, p_tax, p_tr, p_val = _p("image"), _p("taxon"), _p("trait"), _p("predictedValue")
    p_conf, p_unit, p_truth, p_spec, p_reg = _p("confidence"), _p("unit"), _p("groundTruth"), _p("specimenId"), _p("region")
    dbl = f"^^<{XSD}double>"
    for start in range(0, len(df), chunk):
        part = df.iloc[start:start + chunk]
        reg = part["region"]
        tail = reg.map(lambda r: "/" + urllib.parse.quote(r, safe="") if r else "") if (reg != "").any() else ""
        subj = ("<" + prefix + part["row"].astype(str) + "/" + part["k"].astype(str) + tail + ">").to_numpy()
        img = image_iris(part["image"]).to_numpy()
        cont = part["trait"].map(kinds).eq("continuous").to_numpy()
        vals = np.empty(len(part), dtype=object)
        if cont.any():
            vals[cont] = [f'"{x!r}"{dbl}' for x in part["num"].to_numpy()[cont].tolist()]
        if not cont.all():
            cat = part["value"].to_numpy()[~cont]
            lits = {v: _literal(v) for v in pd.unique(cat)}
            vals[~cont] = [lits[v] for v in cat]
        # no rdf:type per prediction (a million triples): tkg:predictedValue's domain types it
        lines = [f"{s} {p_img} <{i}> .\n{s} {p_tax} <{t}> .\n{s} {p_tr} <{r}> .\n{s} {p_val} {v} .\n"
                 for s, i, t, r, v in zip(subj, img, part["taxon_iri"].to_numpy(), part["trait_iri"].to_numpy(), vals)]
        n = 4 * len(part)
        conf_arr = part["conf"].to_numpy(dtype=float)
        has = ~np.isnan(conf_arr)
        if has.any():
            conf = conf_arr.tolist()  # Python floats: repr is the shortest round-tripping decimal
            for j in np.flatnonzero(has).tolist():
                lines[j] += f'{subj[j]} {p_conf} "{conf[j]!r}"{dbl} .\n'
            n += int(has.sum())
        for col, p, is_iri in (("unit", p_unit, True), ("truth", p_truth, False), ("specimen", p_spec, False),
                               ("region", p_reg, False)):
            arr = part[col].to_numpy()
            idx = np.flatnonzero(arr != "")
            for j in idx.tolist():
                lines[j] += f"{subj[j]} {p} <{_OBO}{arr[j].replace(':', '_')}> .\n" if is_iri else \
                    f"{subj[j]} {p} {_literal(arr[j])} .\n"
            n += len(idx)
        yield "".join(lines).encode(), n


def counted(chunks: Iterator[tuple[bytes, int]], rows: int, progress: Progress | None) -> Iterator[tuple[bytes, int]]:
    """``chunks`` as they are, telling ``progress`` how many of ``rows`` predictions each brings
    (a prediction's first line is its ``tkg:image``)."""
    done = 0
    if progress:
        progress(0, rows)
    for c in chunks:
        yield c
        done = min(rows, done + c[0].count(b"> <" + (TKG + "image").encode()))
        if progress:
            progress(done, rows)


def provenance_triples(graph: str, meta: dict[str, Any], src: Source, *, rows: int, loaded: int,
                       problems: list[RowProblem], lenient: bool,
                       raw: dict[int, dict[str, str]] | None = None, table: str | None = None) -> list[tuple]:
    """The batch, its run, the model version and the input table, with PROV-O; rejected rows;
    ``table``: the manifest entry of the side table holding the per-image rows (``tkg:rowTable``)."""
    N, L = NamedNode, Literal
    t, tk, pv = N(RDF_TYPE), (lambda x: N(TKG + x)), (lambda x: N(PROV + x))
    batch, run, inp = N(graph + "#batch"), N(graph + "#run"), N(graph + "#input")
    name, version = str(meta["model"]), str(meta.get("model_version") or "")
    model = N(model_iri(name, version or None))
    out: list[tuple] = [
        (batch, t, tk("PredictionBatch")), (batch, t, pv("Entity")), (batch, pv("wasGeneratedBy"), run),
        (batch, tk("rowCount"), L(str(rows), datatype=N(XSD + "integer"))),
        (batch, tk("predictionCount"), L(str(loaded), datatype=N(XSD + "integer"))),
        (batch, tk("lenient"), L("true" if lenient else "false", datatype=N(XSD + "boolean"))),
        (run, t, pv("Activity")), (run, t, tk("PredictionRun")), (run, pv("wasAssociatedWith"), model),
        (run, pv("used"), inp), (run, pv("used"), model),
        (inp, t, pv("Entity")), (inp, tk("source"), L(src.origin)), (inp, tk("sha256"), L(src.sha256)),
        (inp, tk("byteSize"), L(str(src.size), datatype=N(XSD + "integer"))),
        (model, t, tk("Model")), (model, t, pv("SoftwareAgent")), (model, t, pv("Entity")),
        (model, N(RDFS_LABEL), L(f"{name} {version}".strip())), (model, tk("modelName"), L(name)),
        (model, pv("specializationOf"), N(model_iri(name))),
    ]
    if version:
        out.append((model, tk("modelVersion"), L(version)))
    if table:
        out.append((batch, tk("rowTable"), N(table)))
    for key, prop in (("weights_sha256", "weightsChecksum"), ("hf_repo", "huggingFaceRepo"),
                      ("code_commit", "codeCommit")):
        if meta.get(key):
            out.append((model if key != "code_commit" else run, tk(prop), L(str(meta[key]))))
    if meta.get("run_id"):
        out.append((run, tk("runId"), L(str(meta["run_id"]))))
    if meta.get("date"):
        out.append((run, tk("runDate"), L(str(meta["date"]))))
    if meta.get("parameters"):
        out.append((run, tk("parameters"), L(json.dumps(meta["parameters"], sort_keys=True, default=str))))
    for i, p in enumerate(problems):
        node = N(f"{graph}#rejected-{i + 1}")
        out += [(batch, tk("rejectedRow"), node), (node, tk("row"), L(str(p.row), datatype=N(XSD + "integer"))),
                (node, tk("reason"), L(p.reason))]
        if p.line is not None:
            out.append((node, tk("line"), L(str(p.line), datatype=N(XSD + "integer"))))
        if p.column:
            out.append((node, tk("column"), L(p.column)))
        if p.value is not None:
            out.append((node, tk("value"), L(shown(p.value, STORED_CELL))))
        if raw and p.pos in raw:
            out.append((node, tk("rawRow"), L(json.dumps(raw[p.pos], sort_keys=True))))
    return out


__all__ = ["prediction_ntriples", "provenance_triples", "image_iris", "counted", "CHUNK_ROWS", "STORED_CELL"]
