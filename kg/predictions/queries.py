"""Reading predictions back: which batches a query uses (pinned or the latest version of every
model), an image's predictions, a taxon's summaries, and per-taxon tables of one trait."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kg.core.errors import NotFound, ValidationError
from kg.core.graphs import TKG, GraphRecord, get_graph, list_graphs
from kg.core.ids import image_id, image_iri
from kg.core.store import Literal, NamedNode, Store, tsv_value
from kg.predictions.rows import image_rows, side_tables, taxon_rows

if TYPE_CHECKING:  # imported where a table is made (a server's start and summaries do not need it)
    import pandas as pd

BATCH_KIND = "predictions"
SUMMARY_KIND = "prediction-summary"
_OBO = "http://purl.obolibrary.org/obo/"


def curie(iri: str | None) -> str | None:
    if iri is None:
        return None
    from ontologies.prefixes import contract

    return contract(iri)


def batches(store: Store, batch: str | None = None, *, latest: bool = True) -> list[GraphRecord]:
    """The batches a query reads: the one named by ``batch`` (``predictions/NAME/VERSION``, an IRI,
    or a model name for its latest version), else the latest version of every model (or every
    version with ``latest=False``)."""
    if batch:
        ref = batch if batch.startswith(("http", BATCH_KIND + "/")) else f"{BATCH_KIND}/{batch}"
        rec = get_graph(store, ref)
        if rec.kind != BATCH_KIND:
            raise ValidationError(f"{batch!r} is a {rec.kind} graph, not a prediction batch")
        return [rec]
    recs = list_graphs(store, kind=BATCH_KIND)
    if not latest:
        return recs
    by_name: dict[str, GraphRecord] = {}
    for r in recs:  # oldest first: the last one wins
        by_name[r.name] = r
    return list(by_name.values())


def summary_graphs(store: Store, chosen: list[GraphRecord]) -> dict[str, GraphRecord]:
    """Summary graph IRI -> the batch it summarises, for the chosen batches."""
    want = {b.iri: b for b in chosen}
    out = {}
    for s in list_graphs(store, kind=SUMMARY_KIND):
        for src in s.derived_from:
            if src in want:
                out[s.iri] = want[src]
    return out


def batch_dict(b: GraphRecord) -> dict[str, Any]:
    meta = b.parameters.get("batch", {})
    return {"batch": f"{b.kind}/{b.name}/{b.version}", "model": meta.get("model", b.name), "model_version": b.version,
            "graph": b.iri, "loaded": b.ended}


_IMAGE_Q = f"""SELECT ?g ?p ?taxon ?trait ?value ?conf ?unit ?truth ?spec ?region WHERE {{ GRAPH ?g {{
  ?p <{TKG}image> ?img ; <{TKG}taxon> ?taxon ; <{TKG}trait> ?trait ; <{TKG}predictedValue> ?value .
  OPTIONAL {{ ?p <{TKG}confidence> ?conf }} OPTIONAL {{ ?p <{TKG}unit> ?unit }}
  OPTIONAL {{ ?p <{TKG}groundTruth> ?truth }} OPTIONAL {{ ?p <{TKG}specimenId> ?spec }}
  OPTIONAL {{ ?p <{TKG}region> ?region }} }} }}"""
_IMAGE_META_Q = "SELECT ?g ?p ?o WHERE { GRAPH ?g { ?img ?p ?o } }"


def term_value(t: Any) -> Any:
    """A literal as a Python value (numbers as numbers), an IRI as its text."""
    if t is None:
        return None
    if isinstance(t, Literal) and t.datatype is not None and t.datatype.value.endswith(("#double", "#decimal", "#float")):
        return float(t.value)
    if isinstance(t, Literal) and t.datatype is not None and t.datatype.value.endswith("#integer"):
        return int(t.value)
    if isinstance(t, Literal) and t.datatype is not None and t.datatype.value.endswith("#boolean"):
        return t.value in ("true", "1")
    return t.value


def image_predictions(store: Store, image: str, *, batch: str | None = None, latest: bool = True) -> dict[str, Any]:
    """An image (ARK id, other id or IRI): its predictions in the chosen batches and its metadata."""
    iri = image if image.startswith("http") else image_iri(image)
    chosen = {b.iri: b for b in batches(store, batch, latest=latest)}
    tables = side_tables(store, list(chosen.values()))
    rows = store.select(_IMAGE_Q, {"img": NamedNode(iri)}).rows if len(tables) < len(chosen) else []
    preds = []
    for g, path in tables.items():
        for r in image_rows(path, iri):
            preds.append({**batch_dict(chosen[g]), "taxon": curie(r["taxon"]), "trait": curie(r["trait"]),
                          "value": r["value"], "confidence": r["confidence"], "unit": curie(r["unit"]),
                          "ground_truth": r["truth"], "specimen": r["specimen"], "region": r["region"],
                          "tier": "predicted"})
    for g, _p, taxon, trait, value, conf, unit, truth, spec, region in rows:
        b = chosen.get(g.value)
        if b is None or g.value in tables:
            continue
        preds.append({**batch_dict(b), "taxon": curie(taxon.value), "trait": curie(trait.value), "value": term_value(value),
                      "confidence": term_value(conf), "unit": curie(unit.value) if unit is not None else None,
                      "ground_truth": term_value(truth), "specimen": term_value(spec), "region": term_value(region), "tier": "predicted"})
    preds.sort(key=lambda d: (d["trait"] or "", str(d["region"] or ""), d["model"], d["model_version"]))
    meta: dict[str, Any] = {}
    image_graphs = {r.iri for r in list_graphs(store, kind="images")}
    for g, p, o in store.select(_IMAGE_META_Q, {"img": NamedNode(iri)}).rows:
        if g.value in image_graphs and not p.value.endswith("#type"):
            key = p.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
            meta[key] = term_value(o)
    if not preds and not meta:
        raise NotFound(f"no predictions or metadata for image {image!r} ({iri})")
    return {"image": image_id(iri), "iri": iri, "metadata": meta, "predictions": preds}


_SUMMARY_Q = f"""SELECT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s <{TKG}taxon> ?taxon ; <{TKG}trait> ?trait . ?s ?p ?o }} }}"""
_FIELDS = {"n": "n", "mean": "mean", "sd": "sd", "se": "se", "min": "min", "q25": "q25", "median": "median",
           "q75": "q75", "max": "max", "meanConfidence": "mean_confidence", "unit": "unit",
           "stateCounts": "states", "mostFrequentState": "mode", "region": "region", "pooledRegion": "regions"}


def summaries_where(store: Store, bindings: dict[str, Any], chosen: list[GraphRecord],
                    graphs: dict[str, GraphRecord] | None = None) -> list[dict[str, Any]]:
    """The summaries matching ``bindings`` (``taxon``, ``trait`` or none) in the summary graphs of
    the chosen batches (``graphs``: :func:`summary_graphs` of them, when the caller keeps it): one
    query per summary graph with the graph bound, so other versions' summaries are never read."""
    if graphs is None:
        graphs = summary_graphs(store, chosen)
    items: list[dict[str, Any]] = []
    for giri, b in graphs.items():
        by_node: dict[str, list[tuple[str, str, Any]]] = {}
        for s, p, o in store.select(_SUMMARY_Q, {**bindings, "g": NamedNode(giri)}).rows:
            by_node.setdefault(s.value, []).append((p.value, o.value, term_value(o)))
        items.extend(d for po in by_node.values() if (d := _summary(po, b)) is not None)
    return sorted(items, key=summary_order)


def summary_order(d: dict[str, Any]) -> tuple:
    """The order of summary rows in every answer: trait, model, taxon, region, then what tells apart
    the summaries those share (a per-region summary before the one pooled over the regions, the
    unit where a trait's units could not be converted to one, the batch), so that the order never
    depends on the order the engine gives the nodes in."""
    return (d["trait"], d["model"], d["taxon"], d.get("region") or "", bool(d.get("regions")), d.get("unit") or "",
            d["graph"])


def summary_tsv(store: Store, graph: str) -> str:
    """One summary graph's triples as SPARQL TSV, written by the engine (which lets go of the GIL
    meanwhile: another thread can read it while this one works)."""
    return store.select_tsv(_WHOLE_Q, {"g": NamedNode(graph)})


def all_summaries(store: Store, graphs: dict[str, GraphRecord],
                  texts: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every summary in the summary graphs ``graphs`` (:func:`summary_graphs`), as
    :func:`summaries_where` gives them and in its order: from the file the load kept beside the store
    (:mod:`kg.predictions.summary_file`) where there is one, else each graph read whole as SPARQL TSV written
    by the engine (:func:`summary_tsv`, or its text in ``texts`` when the caller read it before; no
    Python object per term; a query with the taxon unbound costs many times more), each distinct
    term's value and CURIE made once."""
    items: list[dict[str, Any]] = []
    made: dict[str, tuple[str, Any]] = {}
    curies: dict[str, str | None] = {}
    preds: dict[str, str] = {}  # predicate as TSV writes it -> its IRI

    def cur(iri: str) -> str | None:
        c = curies.get(iri)
        if c is None:
            c = curies[iri] = curie(iri)
        return c

    from kg.predictions import summary_file

    records = {r.iri: r for r in list_graphs(store, kind=SUMMARY_KIND) if r.iri in graphs}
    for giri, b in graphs.items():
        kept = summary_file.rows(store, records[giri], batch_dict(b), cur) \
            if giri in records and (texts is None or giri not in texts) else None
        if kept is not None:  # the summaries the load kept beside the store: the graph is not read
            items.extend(kept)
            continue
        by_node: dict[str, list[tuple[str, str, Any]]] = {}
        text = texts[giri] if texts is not None and giri in texts else summary_tsv(store, giri)
        for line in text.split("\n")[1:]:
            if not line:
                continue
            s, p, o = line.split("\t")
            got = made.get(o)
            if got is None:
                got = made[o] = (tsv_value(o), _tsv_term_value(o))
            pi = preds.get(p)
            if pi is None:
                pi = preds[p] = tsv_value(p)
            node = by_node.get(s)
            if node is None:
                node = by_node[s] = []
            node.append((pi, got[0], got[1]))
        for po in by_node.values():
            d = _summary(po, b, cur)
            if d is not None:
                items.append(d)
    return sorted(items, key=summary_order)


_WHOLE_Q = f"""SELECT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
  FILTER(?p != <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> && ?p != <{TKG}summaryOf>) }}"""
_XSD = "http://www.w3.org/2001/XMLSchema#"


def _tsv_term_value(term: str) -> Any:
    """:func:`term_value` of a term as SPARQL TSV writes it (N-Triples syntax; numbers and booleans
    may be written bare, as Turtle abbreviates them)."""
    if term.startswith("<") or term.startswith("_:"):
        return tsv_value(term)
    if not term.startswith('"'):  # bare: true/false, an integer, a decimal, a double (with an exponent)
        if term in ("true", "false"):
            return term == "true"
        return float(term) if any(c in term for c in ".eE") else int(term)
    lex = tsv_value(term)
    dt = term[term.rindex('"') + 1:]
    if dt.startswith("^^<") and dt.endswith(("#double>", "#decimal>", "#float>")):
        return float(lex)
    if dt.startswith("^^<") and dt.endswith("#integer>"):
        return int(lex)
    if dt.startswith("^^<") and dt.endswith("#boolean>"):
        return lex in ("true", "1")
    return lex


def _summary(po: list[tuple[str, str, Any]], b: GraphRecord,
             cur: Callable[[str], str | None] = curie) -> dict[str, Any] | None:
    """One summary node's (predicate, object's value, object as :func:`term_value` makes it) triples
    as an answer row (its fields in one order, whatever order the engine gave them in); ``None``
    for a node without a taxon, a trait and a trait kind."""
    head = {p: v for p, v, _ in po if p in _HEAD}
    if len(head) < len(_HEAD):
        return None
    d = {**batch_dict(b), "taxon": cur(head[_TAXON]), "taxon_iri": head[_TAXON],
         "trait": cur(head[_TRAIT]), "kind": head[_KIND], "tier": "predicted"}
    for p, v, x in sorted(po, key=lambda t: t[0]):
        key = _FIELDS.get(p[len(TKG):]) if p.startswith(TKG) else None
        if key == "unit":
            d[key] = cur(v)
        elif key == "states":
            d[key] = json.loads(v)
        elif key == "regions":
            d.setdefault(key, []).append(v)
            d[key].sort()
        elif key:
            d[key] = x
    return d


_TAXON, _TRAIT, _KIND = TKG + "taxon", TKG + "trait", TKG + "traitKind"
_HEAD = {_TAXON, _TRAIT, _KIND}


def scoped(items: list[dict[str, Any]], *, pooled: bool = False, region: str | None = None) -> list[dict[str, Any]]:
    """The summaries a question asks for: per region (the default; a trait without regions has one
    summary either way), pooled over the regions (``pooled``), or one region's (``region``)."""
    if region is not None:
        return [d for d in items if d.get("region") == region]
    if pooled:
        return [d for d in items if not d.get("region")]
    return [d for d in items if not d.get("regions")]


def taxon_summaries(store: Store, taxon_iri: str, *, batch: str | None = None, pooled: bool = False,
                    region: str | None = None, graphs: dict[str, GraphRecord] | None = None) -> list[dict[str, Any]]:
    """The precomputed summaries of a taxon in the chosen batches (one bound query per summary
    graph; ``graphs``: the summary graphs of the chosen batches, when the caller keeps them), per
    region unless ``pooled`` (see :func:`scoped`)."""
    if graphs is None:
        graphs = summary_graphs(store, batches(store, batch))
    items = summaries_where(store, {"taxon": NamedNode(taxon_iri)}, [], graphs)
    return scoped(items, pooled=pooled, region=region)


def trait_summaries(store: Store, trait_iri: str, *, batch: str | None = None, pooled: bool = False,
                    region: str | None = None) -> pd.DataFrame:
    """Per-taxon summaries of one trait: ``taxon, n, mean, sd, se, unit, region`` (+ model, batch,
    quartiles); per region unless ``pooled`` (see :func:`scoped`)."""
    import pandas as pd

    rows = scoped(summaries_where(store, {"trait": NamedNode(trait_iri)}, batches(store, batch)), pooled=pooled,
                  region=region)
    cols = ["taxon", "n", "mean", "sd", "se", "unit", "region", "min", "q25", "median", "q75", "max",
            "mean_confidence", "model", "batch"]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=cols)
    for c in cols:
        if c not in df:
            df[c] = None
    return df[cols + [c for c in ("states", "mode", "regions") if c in df]].reset_index(drop=True)


_TAXON_PRED_Q = f"""SELECT ?g ?img ?trait ?value ?conf ?unit WHERE {{ GRAPH ?g {{
  ?p <{TKG}taxon> ?taxon ; <{TKG}image> ?img ; <{TKG}trait> ?trait ; <{TKG}predictedValue> ?value .
  OPTIONAL {{ ?p <{TKG}confidence> ?conf }} OPTIONAL {{ ?p <{TKG}unit> ?unit }} }} }} LIMIT %d"""


def taxon_predictions(store: Store, taxon_iri: str, *, batch: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Image-level predictions about a taxon in the chosen batches (at most ``limit`` per call)."""
    chosen = {b.iri: b for b in batches(store, batch)}
    tables = side_tables(store, list(chosen.values()))
    out = []
    for g, path in tables.items():
        for r in taxon_rows(path, taxon_iri, limit=limit - len(out)):
            out.append({**batch_dict(chosen[g]), "image": image_id(r["image"]), "trait": curie(r["trait"]),
                        "value": r["value"], "confidence": r["confidence"], "unit": curie(r["unit"])})
        if len(out) >= limit:
            return out
    if len(tables) == len(chosen):
        return out
    for g, img, trait, value, conf, unit in store.select(_TAXON_PRED_Q % (int(limit) * 4 + 100),
                                                         {"taxon": NamedNode(taxon_iri)}).rows:
        b = chosen.get(g.value)
        if b is None or g.value in tables:
            continue
        out.append({**batch_dict(b), "image": image_id(img.value), "trait": curie(trait.value), "value": term_value(value),
                    "confidence": term_value(conf), "unit": curie(unit.value) if unit is not None else None})
        if len(out) >= limit:
            break
    return out


__all__ = ["term_value", "batches", "scoped", "summary_graphs", "batch_dict", "image_predictions", "taxon_summaries", "trait_summaries",
           "taxon_predictions", "curie", "BATCH_KIND", "SUMMARY_KIND"]
