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
def list_runs(request: Request, kg: KGDep, page: PageDep,
              task: Annotated[str | None, Query(pattern=r"^(imputation|placement|linkpred)$",
                                                description="Only runs of this task")] = None) -> dict[str, Any]:
    """Hypotheses runs, newest first, with provenance (model, code version, library versions, data graphs,
    seed, device), every method's validation and test metrics with bootstrap intervals, violations,
    ablation rows and what ``limit`` left out."""
    return paginate([r for r in kg.hypothesis_runs() if task is None or r["task"] == task], page, request)


class CellOut(BaseModel):
    """One labelled cell of a run's split."""

    index: int = Field(description="Position in the run: a side's bootstrap resamples index its cells in this order")
    taxon: str
    entity: str
    present: bool = Field(description="The observed value")
    side: str = Field(description="train, val or test")
    scores: dict[str, float | None] | None = Field(None, description="Held-out cells: method -> probability of presence")


class ConflictOut(BaseModel):
    """A cell with contradicting calls, reported by a run and never hypothesised."""

    taxon: str
    entity: str
    tiers: str


@router.get("/runs/{run}/cells", response_model=Paged[CellOut], responses=problem_responses(404))
def run_cells(request: Request, kg: KGDep, page: PageDep,
              run: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+$")],
              side: Annotated[str | None, Query(pattern=r"^(train|val|test)$")] = None) -> dict[str, Any]:
    """A run's split, cell by cell, with every method's scores on the held-out cells: what its metrics
    are recomputed from."""
    from kg.hypotheses import run_cells as cells_of

    get_run(kg, run)
    return paginate([c for c in cells_of(kg.store, run) if side is None or c["side"] == side], page, request)


@router.get("/runs/{run}/conflicts", response_model=Paged[ConflictOut], responses=problem_responses(404))
def run_conflicts(request: Request, kg: KGDep, page: PageDep,
                  run: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+$")]) -> dict[str, Any]:
    """The cells whose calls contradict each other, which the run reported and left alone."""
    from kg.hypotheses import run_conflicts as conflicts_of

    get_run(kg, run)
    return paginate(conflicts_of(kg.store, run), page, request)


@router.get("/runs/{run}", response_model=RunOut, responses=problem_responses(404))
def get_run(kg: KGDep, run: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+$")]) -> dict[str, Any]:
    """One run by id."""
    for r in kg.hypothesis_runs():
        if r["run"] == run:
            return r
    raise NotFound(f"no hypotheses run {run!r}")
