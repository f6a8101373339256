"""``/api/v1/hypotheses``: knowledge-guided hypotheses written back by ``traitkg hypothesize``
(one ``hypotheses`` graph per run), read through SPARQL (:mod:`kg.hypotheses`): list and filter
them, and list the runs with their provenance, gate decision and split metrics.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KGDep, Paged, PageDep, paginate, to_iri
from api.errors import problem_responses
from kg.core.errors import NotFound

router = APIRouter(prefix="/api/v1/hypotheses", tags=["hypotheses"])


class HypothesisOut(BaseModel):
    """One hypothesis: a reified statement with the score of the method the gate chose."""

    id: str
    run: str
    subject: str = Field(description="Taxon CURIE")
    predicate: str = Field(description="tkg:hasPresenceOf or tkg:hasAbsenceOf")
    object: str = Field(description="Entity CURIE")
    score: float | None = Field(None, description="Probability of the statement under the chosen method")
    method: str = Field(description="'model' or the name of the baseline the gate chose")
    model_score: float | None = None
    baseline: str
    baseline_score: float | None = None
    model_validation: float | None = Field(None, description="The model's validation AUC")
    baseline_validation: float | None = Field(None, description="The best baseline's validation AUC")
    chosen: str


class RunOut(BaseModel):
    """One hypotheses run: provenance, gate decision, split metrics."""

    model_config = ConfigDict(extra="allow")
    run: str
    graph: str
    task: str
    split: str
    model: str
    code_version: str
    seed: int
    device: str
    hypotheses: int
    gate: dict[str, Any]
    metrics: dict[str, Any]
    generated: str
    used: list[str] = Field(default_factory=list, description="The data graphs the run read")


@router.get("", response_model=Paged[HypothesisOut], responses=problem_responses(400))
def list_hypotheses(request: Request, kg: KGDep, page: PageDep,
                    run: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-f]+$",
                                                     description="A run id")] = None,
                    subject: Annotated[str | None, Query(max_length=500, description="Taxon CURIE or IRI")] = None,
                    predicate: Annotated[str | None, Query(max_length=500, description="tkg:hasPresenceOf or tkg:hasAbsenceOf")] = None,
                    object: Annotated[str | None, Query(max_length=500, description="Entity CURIE or IRI")] = None,
                    method: Annotated[str | None, Query(max_length=100, description="'model' or a baseline name")] = None,
                    min_score: Annotated[float | None, Query(ge=0, le=1, description="Lowest score")] = None,
                    ) -> dict[str, Any]:
    """Hypotheses, most confident first, filtered by run, subject, predicate, object, method, score."""
    items = kg.hypotheses(run=run, subject=to_iri(subject) if subject else None,
                          predicate=to_iri(predicate) if predicate else None,
                          object=to_iri(object) if object else None, method=method, min_score=min_score)
    return paginate(items, page, request)


@router.get("/runs", response_model=Paged[RunOut], responses=problem_responses(400))
def list_runs(request: Request, kg: KGDep, page: PageDep) -> dict[str, Any]:
    """Hypotheses runs, newest first, with provenance (model, code version, data graphs, seed, device)."""
    return paginate(kg.hypothesis_runs(), page, request)


@router.get("/runs/{run}", response_model=RunOut, responses=problem_responses(404))
def get_run(kg: KGDep, run: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+$")]) -> dict[str, Any]:
    """One run by id."""
    for r in kg.hypothesis_runs():
        if r["run"] == run:
            return r
    raise NotFound(f"no hypotheses run {run!r}")
