"""Traits: a taxon's traits (asserted, inferred, predicted, hypothesised; with evidence and
provenance), taxa having a trait or entity (subsumption over parts and subtypes, ``within`` a
clade), OntoTrace presence/absence matrices (CSV, NeXML, JSON) and conflicting calls.

Routes live under ``/api/v1/taxa/{ref}/traits``, ``/api/v1/terms/{ref}/taxa`` and
``/api/v1/traits``; ``ORDER`` puts them before the generic ``{ref}`` routes of those resources.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KGDep, Paged, PageDep, cached_view, paginate, to_curie
from api.errors import problem_responses
from api.fastroute import FastRoute, fast_path
from kg.core.errors import NotFound

ORDER = 10  # before taxa.py / terms.py, whose detail routes match any remaining path
router = APIRouter(tags=["traits"], route_class=FastRoute)
ERR = problem_responses(400, 404, 422)
Tier = Literal["asserted", "inferred", "predicted", "hypothesised"]
Kind = Literal["presence", "absence", "phenotype"]
TIERS, KINDS = frozenset(get_args(Tier)), frozenset(get_args(Kind))


class Evidence(BaseModel):
    model_config = ConfigDict(extra="allow")
    state: str | None = None
    state_label: str | None = None
    character_label: str | None = None
    character_number: int | None = None
    matrix: str | None = None
    matrix_title: str | None = None
    publication: str | None = None


class TraitOut(BaseModel):
    """One trait of a taxon: a presence/absence call or an asserted phenotype (EQ)."""

    model_config = ConfigDict(extra="allow")
    kind: Kind
    tier: Tier
    entity: str | None = Field(None, description="Entity CURIE (none: a quality-only phenotype)")
    entity_label: str | None = None
    value: str | None = Field(None, description="present | absent (presence/absence calls)")
    quality: str | None = None
    quality_label: str | None = None
    related_entity: str | None = None
    polymorphic: bool | None = None
    inferred_from: list[str] | None = None
    evidence: list[Evidence] | None = None


class TaxonWith(BaseModel):
    taxon: str = Field(description="Taxon CURIE")
    name: str
    tier: str
    phenotypes: list[str] = Field(default_factory=list)


class MatrixIn(BaseModel):
    taxa: list[str] = Field(min_length=1, max_length=5000)
    entities: list[str] = Field(min_length=1, max_length=2000)
    format: Literal["json", "csv", "nexml"] = "json"
    variable_only: bool = False
    evidence: bool = True


_MATRIX_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "nexml": "application/xml"}


def traits_body(url: Any, kg: Any, ref: str, limit: int, offset: int, evidence: bool,
                tier: list[str] | None, kind: list[str] | None) -> bytes:
    """A page of a taxon's traits as JSON bytes (``url``: the request's, for the next page's link):
    cut from every taxon's encoded traits once they are ready (:meth:`kg.traits.Traits.pages`),
    else built here for the page's rows only."""
    t = kg.traits
    ref = ref.strip()
    pages = t.pages(wait=False)
    if pages is not None:
        rows = pages.select(t.taxon(ref), tier, kind)
        total = len(rows)
        items = pages.items(rows[offset: offset + limit], evidence=evidence)
    else:
        rows = t.trait_rows(ref)  # in memory: (kind, tier, label) per trait, nothing expanded yet
        if tier or kind:
            rows = [r for r in rows if (not tier or r[1] in tier) and (not kind or r[0] in kind)]
        total = len(rows)
        items = ",".join(t.trait_json(r, evidence=evidence) for r in rows[offset: offset + limit]).encode()
    nxt = None
    if offset + limit < total:
        nxt = str(url.include_query_params(offset=offset + limit, limit=limit))
    return (b'{"items":[' + items + b'],"total":%d,"limit":%d,"offset":%d,"next":%s}'
            % (total, limit, offset, json.dumps(nxt).encode()))


_TRUE, _FALSE = frozenset(("1", "on", "t", "true", "y", "yes")), frozenset(("0", "off", "f", "false", "n", "no"))
_NUMBER = re.compile(r"[0-9]{1,8}")


def taxon_traits_fast(scope: Any) -> bytes | None:
    """``GET /api/v1/taxa/{ref}/traits`` without FastAPI's machinery once every taxon's traits are
    encoded and the request is well-formed (``limit``, ``offset``, ``evidence``, ``tier``, ``kind``
    within their bounds and choices; no other parameter) and names a taxon with phenotypes: the
    handler's bytes, else ``None`` (the handler answers, with its checks and errors)."""
    kg = scope["app"].state.kg
    if kg is None or kg.traits.pages(wait=False) is None:
        return None
    limit, offset, evidence, tier, kind = 100, 0, True, [], []
    for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if key in ("limit", "offset"):
            if not _NUMBER.fullmatch(value):
                return None
            if key == "limit":
                limit = int(value)
            else:
                offset = int(value)
        elif key == "evidence" and value.lower() in _TRUE | _FALSE:
            evidence = value.lower() in _TRUE
        elif key == "tier" and value in TIERS:
            tier.append(value)
        elif key == "kind" and value in KINDS:
            kind.append(value)
        else:
            return None
    if not 1 <= limit <= 1000 or offset > 10_000_000:
        return None
    try:
        return traits_body(Request(scope).url, kg, scope["path_params"]["ref"], limit, offset, evidence,
                           tier or None, kind or None)
    except NotFound:
        return None


@router.get("/api/v1/taxa/{ref:path}/traits", responses={200: {"model": Paged[TraitOut]}, **ERR},
            response_class=Response)
@fast_path(taxon_traits_fast)
def taxon_traits(request: Request, kg: KGDep, ref: str, page: PageDep, evidence: bool = True,
                 tier: Annotated[list[Tier] | None, Query(description="Only these tiers.")] = None,
                 kind: Annotated[list[Kind] | None, Query(description="Only these kinds.")] = None) -> Response:
    """A taxon's traits (name, ``taxon:`` CURIE or IRI): presence/absence calls (asserted and
    inferred through the ontology closure) and asserted phenotypes, each with its evidence
    (state, character, matrix, publication)."""
    return Response(traits_body(request.url, kg, ref, page.limit, page.offset, evidence, tier, kind),
                    media_type="application/json")


@router.get("/api/v1/terms/{ref:path}/taxa", response_model=Paged[TaxonWith], responses=ERR)
def taxa_with(request: Request, kg: KGDep, ref: str, page: PageDep, parts: bool = True,
              value: Annotated[Literal["present", "absent"] | None,
                               Query(description="Ask presence/absence calls instead of phenotypes.")] = None,
              within: Annotated[str | None, Query(max_length=300, description="A clade: a taxon of a loaded "
                                                  "taxonomy at any rank (order, family, genus...), a clade label of "
                                                  "a loaded tree, or a genus name; with `tree`, a node of that tree "
                                                  "(its tips).")] = None,
              tree: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    """Taxa with a phenotype of this entity or quality, or of anything it subsumes (subtypes and,
    with ``parts``, parts), optionally within a clade."""
    clade: Any = within
    if within and tree:
        t = cached_view(request, ("tree", tree), lambda: kg.tree(tree))
        clade = t.node(int(within) if within.isdigit() else within).tips()
    rows = kg.traits.taxa_with(ref.strip(), parts=parts, within=clade, value=value)
    return paginate(rows, page, request, lambda d: {"taxon": to_curie(d["taxon_iri"]), "name": d["taxon"],
                                                    "tier": d["tier"], "phenotypes": d["phenotypes"]})


def _matrix(kg: Any, body: MatrixIn) -> Response:
    m = kg.traits.matrix(body.taxa, body.entities, variable_only=body.variable_only, evidence=body.evidence)
    return Response(m.render(body.format), media_type=_MATRIX_TYPES[body.format])


_MATRIX_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The matrix", "content": {"application/json": {}, "text/csv": {}, "application/xml": {}}},
    **ERR}


@router.post("/api/v1/traits/matrix", responses=_MATRIX_RESPONSES, response_class=Response)
def matrix(kg: KGDep, body: MatrixIn) -> Response:
    """An OntoTrace presence/absence matrix, taxa x anatomical entities, with evidence."""
    return _matrix(kg, body)


@router.get("/api/v1/traits/matrix", responses=_MATRIX_RESPONSES, response_class=Response)
def matrix_get(kg: KGDep, taxa: Annotated[list[str], Query(min_length=1, max_length=500)],
               entities: Annotated[list[str], Query(min_length=1, max_length=200)],
               format: Literal["json", "csv", "nexml"] = "json", variable_only: bool = False,
               evidence: bool = True) -> Response:
    """The matrix with taxa and entities in the query string."""
    return _matrix(kg, MatrixIn(taxa=taxa, entities=entities, format=format, variable_only=variable_only,
                                evidence=evidence))


@router.get("/api/v1/traits/conflicts", response_model=Paged[dict[str, Any]], responses=ERR)
def conflicts(request: Request, kg: KGDep, page: PageDep) -> dict[str, Any]:
    """Taxa inferred both present and absent for an entity, with both sides' evidence."""
    rows = cached_view(request, ("conflicts",), kg.traits.conflicts)
    return paginate(rows, page, request)


__all__ = ["router", "ORDER", "NotFound"]
