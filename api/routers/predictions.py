"""Predictions: an image's ML predictions (with the image's metadata), a taxon's predicted traits
(taxon-level summaries, the ``predicted`` tier, beside the curated and inferred calls on the same
entities with their evidence), predicted presence/absence that disagrees with curated knowledge
(expectation vs observation), per-taxon summary tables of one trait, and the batches.

Queries read the latest version of every model unless ``batch`` pins one
(``predictions/MODEL/VERSION`` or ``MODEL``). ``ORDER`` puts the routes before the generic
``{ref}`` routes of taxa.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_core import to_json

from api.deps import KGDep, Paged, PageDep, cached_view, paginate
from api.errors import problem_responses
from api.fastroute import FastRoute, fast_path
from api.routers._prediction_pages import Encoder, summary_pages
from kg.core.errors import NotFound, TraitKGError

ORDER = 10
router = APIRouter(tags=["predictions"], route_class=FastRoute)
ERR = problem_responses(400, 404, 422)
BatchQ = Annotated[str | None, Query(max_length=300, description="Pin a batch (predictions/MODEL/VERSION or "
                                                                 "MODEL); default: the latest version of every model.")]
PooledQ = Annotated[bool, Query(description="Traits measured per region (left/right wing, each fin ray): one "
                                            "summary pooled over the regions instead of one per region")]
RegionQ = Annotated[str | None, Query(max_length=300, description="Only this region's summaries (e.g. left)")]


class PredictionOut(BaseModel):
    """One image-level prediction (tier ``predicted``) with its batch."""

    model_config = ConfigDict(extra="allow")
    tier: Literal["predicted"] = "predicted"
    trait: str = Field(description="CURIE of the predicted term")
    value: Any = Field(description="A number (continuous traits) or a state")
    confidence: float | None = None
    unit: str | None = Field(None, description="UO CURIE")
    taxon: str
    model: str
    model_version: str
    batch: str


class ImagePredictions(Paged[PredictionOut]):
    image: str = Field(description="The image id (ARK ids as given: ark:/...)")
    iri: str
    metadata: dict[str, Any] = Field(default_factory=dict, description="From loaded image metadata tables")


class CuratedCall(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: str
    tier: Literal["asserted", "inferred"]
    inferred_from: list[str] | None = None
    evidence: list[dict[str, Any]] | None = None


class PredictedTrait(BaseModel):
    """A taxon-level summary of one trait in one batch, and the curated/inferred calls on that entity."""

    model_config = ConfigDict(extra="allow")
    tier: Literal["predicted"] = "predicted"
    trait: str
    trait_label: str | None = None
    kind: Literal["continuous", "categorical"]
    n: int
    mean: float | None = None
    sd: float | None = None
    se: float | None = None
    median: float | None = None
    unit: str | None = None
    states: dict[str, int] | None = None
    mode: str | None = None
    region: str | None = Field(None, description="The region summarised (per-region summaries)")
    regions: list[str] | None = Field(None, description="The regions pooled (pooled summaries)")
    model: str
    model_version: str
    batch: str
    curated: list[CuratedCall] = Field(default_factory=list, description="Asserted and inferred presence/absence "
                                       "calls of this entity in the taxon, with evidence")


class TaxonPredictions(Paged[PredictedTrait]):
    taxon: str


def _curated(kg: Any, taxon_iri: str, trait: str, evidence: bool) -> list[dict[str, Any]]:
    from ontologies.prefixes import contract, expand

    calls = kg.traits.calls()
    out = []
    for value in ("present", "absent"):
        c = calls.get((taxon_iri, expand(trait), value))
        if c is not None:
            out.append({"value": c.value, "tier": c.tier, "inferred_from": sorted(contract(s) for s in c.sources) or None,
                        "evidence": kg.traits.evidence(c) if evidence else None})
    return out


def _label(kg: Any, curie: str) -> str | None:
    from ontologies.prefixes import expand

    try:
        return kg.terms.label(expand(curie))
    except Exception:  # a trait that is not an ontology term (dwc:scientificName) has no label here
        return None


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


@router.get("/api/v1/images/{ref:path}/predictions", response_model=ImagePredictions, responses=ERR)
def image_predictions(request: Request, kg: KGDep, ref: str, page: PageDep, batch: BatchQ = None,
                      all_versions: Annotated[bool, Query(description="Every version, not only the latest")] = False
                      ) -> dict[str, Any]:
    """An image's predictions (ARK id such as ``ark:/89609/...``, another id, or its IRI) and the
    image's metadata from loaded image tables."""
    out = cached_view(request, ("image-predictions", ref, batch, all_versions),
                      lambda: kg.predictions.image(ref.strip(), batch=batch, latest=not all_versions))
    body = paginate(out["predictions"], page, request, _clean)
    return {**body, "image": out["image"], "iri": out["iri"], "metadata": out["metadata"]}


def summary_encoder(kg: Any) -> Encoder:
    """A summary row -> its item as :func:`taxon_predictions` writes it, with the curated calls'
    evidence and without (the same bytes when the entity has no curated call)."""
    item = TypeAdapter(PredictedTrait)
    labels: dict[str, str | None] = {}  # each trait's label looked up once
    called: set[str] = set()  # the taxa with a curated call: every other taxon's summaries have none

    def encode(r: dict[str, Any]) -> tuple[bytes, bytes]:
        trait = r["trait"]
        if trait not in labels:
            labels[trait] = _label(kg, trait)
        if not called:
            called.update(kg.traits.calls_by_taxon())
            called.add("")  # looked for once, even where no taxon has a call
        base = {**_clean(r), "trait_label": labels[trait]}
        curated = _curated(kg, r["taxon_iri"], trait, True) if r["taxon_iri"] in called else []
        with_ev = item.dump_json(item.validate_python({**base, "curated": curated}))
        if not curated:
            return with_ev, with_ev
        plain = _curated(kg, r["taxon_iri"], trait, False)
        return with_ev, item.dump_json(item.validate_python({**base, "curated": plain}))

    return encode


_TRUE, _FALSE = frozenset(("1", "on", "t", "true", "y", "yes")), frozenset(("0", "off", "f", "false", "n", "no"))
_NUMBER = re.compile(r"[0-9]{1,8}")


def taxon_predictions_fast(scope: Any) -> bytes | None:
    """``GET /api/v1/taxa/{ref}/predictions`` of the latest batches without FastAPI's machinery
    or the store, once every summary is encoded (:mod:`api.routers._prediction_pages`), for a
    well-formed request (``limit``, ``offset``, ``evidence``, ``pooled``, ``region`` within their
    bounds; no ``batch``) about a summarised taxon: the handler's bytes, else ``None`` (the handler
    answers, with its checks and errors)."""
    app = scope["app"]
    pages = summary_pages(app, summary_encoder)
    if pages is None:
        return None
    limit, offset, evidence, pooled, region = 100, 0, True, False, None
    for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        low = value.lower()
        if key in ("limit", "offset") and _NUMBER.fullmatch(value):
            limit, offset = (int(value), offset) if key == "limit" else (limit, int(value))
        elif key in ("evidence", "pooled") and low in _TRUE | _FALSE:
            evidence, pooled = (low in _TRUE, pooled) if key == "evidence" else (evidence, low in _TRUE)
        elif key == "region" and len(value) <= 300:
            region = value
        else:
            return None
    if not 1 <= limit <= 1000 or offset > 10_000_000:
        return None
    from ontologies.prefixes import contract

    try:
        iri = app.state.kg.predictions.taxon(scope["path_params"]["ref"])
    except TraitKGError:
        return None
    rows = pages.select(iri, pooled=pooled, region=region)
    if not rows:
        return None
    nxt = None
    if offset + limit < len(rows):
        nxt = str(Request(scope).url.include_query_params(offset=offset + limit, limit=limit))
    return (b'{"items":[' + pages.items(rows[offset: offset + limit], evidence=evidence)
            + b'],"total":%d,"limit":%d,"offset":%d,"next":%s,"taxon":%s}'
            % (len(rows), limit, offset, to_json(nxt), to_json(contract(iri))))


@router.get("/api/v1/taxa/{ref:path}/predictions", response_model=TaxonPredictions, responses=ERR)
@fast_path(taxon_predictions_fast)
async def taxon_predictions(request: Request, kg: KGDep, ref: str, page: PageDep, batch: BatchQ = None,
                            evidence: bool = True, pooled: PooledQ = False, region: RegionQ = None) -> dict[str, Any]:
    """A taxon's predicted traits (name, ``taxon:`` CURIE or IRI): one summary per trait and model
    (n, mean, sd, se, quartiles with units normalised; state counts for categorical traits), and per
    region where a trait was measured per region unless ``pooled``, each beside the curated and
    inferred calls on the same entity with their evidence."""
    from fastapi.concurrency import run_in_threadpool

    # the store is read in the thread pool; the answer (a page of small summaries) is checked here,
    # not in a second trip through the pool as a sync route's would be
    return await run_in_threadpool(taxon_predictions_answer, request, kg, ref, page, batch, evidence, pooled, region)


def taxon_predictions_answer(request: Request, kg: Any, ref: str, page: Any, batch: str | None, evidence: bool,
                       pooled: bool, region: str | None) -> dict[str, Any]:
    """:func:`taxon_predictions`' answer (it reads the store: run it in the thread pool)."""
    from ontologies.prefixes import contract

    p = kg.predictions
    iri = p.taxon(ref)
    rows = p.summary(ref, batch=batch, pooled=pooled, region=region)  # one bound query per summary graph
    if not rows:
        raise NotFound(f"no predictions for taxon {ref!r}")

    def item(r: dict[str, Any]) -> dict[str, Any]:  # only the page's rows get labels and curated calls
        return {**_clean(r), "trait_label": _label(kg, r["trait"]), "curated": _curated(kg, iri, r["trait"], evidence)}

    return {**paginate(rows, page, request, item), "taxon": contract(iri)}


@router.get("/api/v1/predictions/disagreements", response_model=Paged[dict[str, Any]], responses=ERR)
def disagreements(request: Request, kg: KGDep, page: PageDep, batch: BatchQ = None,
                  taxon: Annotated[str | None, Query(max_length=300, description="Only this taxon")] = None,
                  all: Annotated[bool, Query(description="Agreements and taxa without expectations too")] = False
                  ) -> dict[str, Any]:
    """Predicted presence/absence against curated and inferred calls: items whose majority
    prediction contradicts every call are ``expectation-vs-observation`` items with both sides."""
    rows = cached_view(request, ("disagreements", batch, taxon, all),
                       lambda: kg.predictions.agreement(taxon=taxon, batch=batch, only_disagreements=not all))
    return paginate(rows, page, request)


@router.get("/api/v1/predictions/summaries", response_model=Paged[dict[str, Any]], responses=ERR)
def summaries(request: Request, kg: KGDep, page: PageDep,
              trait: Annotated[str, Query(max_length=300, description="CURIE or IRI of the trait")],
              batch: BatchQ = None, pooled: PooledQ = False, region: RegionQ = None) -> dict[str, Any]:
    """One trait across taxa: taxon, n, mean, sd, se, unit (the per-taxon table comparative methods
    take); per region where the trait was measured per region, unless ``pooled``."""
    df = cached_view(request, ("trait-summaries", trait, batch, pooled, region),
                     lambda: kg.predictions.summaries(trait, batch=batch, pooled=pooled, region=region))
    rows = [_clean(r) for r in df.drop(columns=[c for c in ("states",) if c in df]).to_dict("records")]
    return paginate(rows, page, request)


@router.get("/api/v1/predictions/batches", response_model=Paged[dict[str, Any]], responses=ERR)
def batches(request: Request, kg: KGDep, page: PageDep) -> dict[str, Any]:
    """Every prediction batch (model version) with its provenance."""
    recs = kg.predictions.batches()
    return paginate([{"batch": f"{r.kind}/{r.name}/{r.version}", "graph": r.iri, "triples": r.triples,
                      "input_sha256": r.sha256, "source": r.source, "loaded": r.ended,
                      **{k: v for k, v in r.parameters.get("batch", {}).items()}} for r in recs], page, request)


__all__ = ["router", "ORDER"]
