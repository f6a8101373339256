"""``/api/v1/terms``: ontology terms — search by label and synonym (exact, prefix, fuzzy), detail
(definition, synonyms, xrefs, obsolete -> replacement), ancestors and descendants with distances
over chosen relations, and xref mappings. Backed by the facade's cached term index."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import KGDep, Paged, PageDep, paginate, to_iri
from api.errors import problem_responses
from kg.core.errors import NotFound, UnknownPrefix

router = APIRouter(prefix="/api/v1/terms", tags=["terms"])
ERR = problem_responses(400, 404, 422)
Predicates = Annotated[list[str] | None, Query(max_length=20, description="Relations to follow: is_a, part_of, "
                                                "has_part, develops_from, or CURIEs (default: is_a + part_of).")]


class TermHit(BaseModel):
    id: str
    label: str | None = None
    matched: str
    match: str = Field(description="exact | prefix | fuzzy")
    field: str = Field(description="label or the synonym scope that matched")
    score: float


class Synonym(BaseModel):
    text: str
    scope: str


class TermOut(BaseModel):
    id: str
    iri: str
    label: str | None = None
    definition: str | None = None
    synonyms: list[dict[str, str]] = Field(default_factory=list)
    xrefs: list[str] = Field(default_factory=list)
    obsolete: bool = False
    replaced_by: list[str] = Field(default_factory=list)
    consider: list[str] = Field(default_factory=list)
    ontology: str | None = None
    namespace: str | None = None


class Related(BaseModel):
    id: str
    label: str | None = None
    distance: int


def term_ref(kg: Any, ref: str) -> str:
    """CURIE or IRI -> the IRI of a known term. An unknown prefix is a 400 with a suggestion unless
    the term index knows the id as an OBO PURL (ontologies not in the prefix map)."""
    try:
        iri = to_iri(ref)
    except UnknownPrefix:
        if ref.strip() in kg.terms:
            return kg.terms.iri(ref.strip())
        raise
    return kg.terms.iri(iri)


def _term(t: Any) -> dict[str, Any]:
    d = t.to_dict()
    d["id"] = d.pop("curie")
    return d


@router.get("", response_model=Paged[TermHit], responses=ERR)
def search(request: Request, kg: KGDep, page: PageDep,
           q: Annotated[str, Query(min_length=1, max_length=300, description="Label or synonym text.")],
           fuzzy: bool = True, obsolete: bool = False,
           prefix: Annotated[str | None, Query(max_length=40, description="Only this ontology, e.g. UBERON.")] = None
           ) -> dict[str, Any]:
    """Terms by label and synonym, ranked: exact, then prefix, then fuzzy matches."""
    hits = kg.terms.search(q, limit=min(page.offset + page.limit, 1000), fuzzy=fuzzy, obsolete=obsolete,
                           prefix=prefix)
    items = [{"id": h.curie, **{k: v for k, v in h.to_dict().items() if k != "curie"}} for h in hits]
    out = paginate(items, page, request)
    if len(hits) == min(page.offset + page.limit, 1000) and out["next"] is None and len(hits) < 1000:
        out["next"] = str(request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit))
    return out


def _related(kg: Any, d: dict[str, int], page: Any, request: Request) -> dict[str, Any]:
    rows = sorted(d.items(), key=lambda kv: (kv[1], kv[0]))
    return paginate(rows, page, request, lambda kv: {"id": kv[0], "label": _label(kg, kv[0]), "distance": kv[1]})


def _label(kg: Any, curie: str) -> str | None:
    try:
        return kg.terms.label(curie)
    except NotFound:
        return None


@router.get("/{ref:path}/ancestors", response_model=Paged[Related], responses=ERR)
def ancestors(request: Request, kg: KGDep, ref: str, page: PageDep, predicates: Predicates = None) -> dict[str, Any]:
    """Entailed ancestors with their distance (nearest first)."""
    return _related(kg, kg.terms.ancestors(term_ref(kg, ref), predicates), page, request)


@router.get("/{ref:path}/descendants", response_model=Paged[Related], responses=ERR)
def descendants(request: Request, kg: KGDep, ref: str, page: PageDep, predicates: Predicates = None) -> dict[str, Any]:
    """Entailed descendants with their distance (nearest first)."""
    return _related(kg, kg.terms.descendants(term_ref(kg, ref), predicates), page, request)


@router.get("/{ref:path}/mappings", response_model=list[str], responses=ERR)
def mappings(kg: KGDep, ref: str,
             target: Annotated[str | None, Query(max_length=40, description="Target ontology prefix.")] = None
             ) -> list[str]:
    """Terms in other ontologies this term is mapped to by xrefs (e.g. ZFA <-> UBERON)."""
    return kg.terms.mappings(term_ref(kg, ref), target)


@router.get("/{ref:path}", response_model=TermOut, responses=ERR)
def term(kg: KGDep, ref: str) -> dict[str, Any]:
    """One term by CURIE (``UBERON:0000151``) or IRI; obsolete terms carry their replacement."""
    return _term(kg.terms.term(term_ref(kg, ref)))
