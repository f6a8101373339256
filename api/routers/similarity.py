"""``/api/v1/similarity``: semantic similarity over the phenotype corpus, as Phenoscape does it —
taxa most similar to a taxon or to a profile of terms (simGIC, Jaccard, Resnik best-match), and
the similarity of two terms with their most informative common subsumer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import KGDep, to_curie, to_iri
from api.errors import problem_responses

router = APIRouter(prefix="/api/v1/similarity", tags=["similarity"])
ERR = problem_responses(400, 404, 422)
Metric = Literal["simgic", "jaccard", "resnik-bma"]


class SimilarTaxon(BaseModel):
    taxon: str
    name: str
    score: float
    metric: str


class ProfileIn(BaseModel):
    terms: list[str] = Field(min_length=1, max_length=1000, description="Entity, quality or phenotype CURIEs/IRIs.")
    k: int = Field(10, ge=1, le=500)
    metric: Metric = "simgic"


class TermPair(BaseModel):
    a: str
    b: str
    resnik: float
    mica: str | None = None
    jaccard: float
    simgic: float


def _out(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"taxon": to_curie(r["taxon_iri"]), "name": r["taxon"], "score": r["score"], "metric": r["metric"]}
            for r in rows]


@router.get("/taxa/{ref:path}", response_model=list[SimilarTaxon], responses=ERR)
def similar_taxa(kg: KGDep, ref: str, k: Annotated[int, Query(ge=1, le=500)] = 10, metric: Metric = "simgic"
                 ) -> list[dict[str, Any]]:
    """The ``k`` taxa whose phenotype profiles are most similar to this taxon's."""
    return _out(kg.similarity.similar(ref.strip(), k=k, metric=metric))


@router.post("/profile", response_model=list[SimilarTaxon], responses=ERR)
def similar_to_profile(kg: KGDep, body: ProfileIn) -> list[dict[str, Any]]:
    """The ``k`` taxa most similar to a profile of terms (e.g. traits extracted from an image)."""
    return _out(kg.similarity.similar([to_iri(t) for t in body.terms], k=body.k, metric=body.metric))


@router.get("/terms", response_model=TermPair, responses=ERR)
def term_pair(kg: KGDep, a: Annotated[str, Query(min_length=1, max_length=500)],
              b: Annotated[str, Query(min_length=1, max_length=500)]) -> dict[str, Any]:
    """Resnik (IC of the MICA), Jaccard and simGIC of two terms over the corpus."""
    s = kg.similarity
    ia, ib = to_iri(a), to_iri(b)
    mica = s.mica(ia, ib)
    return {"a": to_curie(ia), "b": to_curie(ib), "resnik": s.resnik(ia, ib), "mica": to_curie(mica) if mica else None,
            "jaccard": s.jaccard(ia, ib), "simgic": s.simgic(ia, ib)}
