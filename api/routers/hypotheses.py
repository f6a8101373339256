"""``/api/v1/hypotheses``: knowledge-guided hypotheses written back by ``traitkg hypothesize``
(one ``hypotheses`` graph per run), read through SPARQL (:mod:`kg.hypotheses`): list and filter
them, and list the runs with their provenance, gate decision and split metrics. ``POST /runs``
starts a run (imputation, link prediction or placement; bearer token) as a job of the server's one
worker thread (:mod:`api.jobs`): 202 with the job's status URL, ``GET /jobs/{id}`` until it is done.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KGDep, Paged, PageDep, WriteAccess, paginate, to_iri
from api.errors import problem_responses
from api.jobs import Job, JobQueue, ModelsUnavailable
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


# --------------------------------------------------------------------------- starting a run

class RunIn(BaseModel):
    """The parameters of ``traitkg hypothesize`` (and of ``gnn.pipeline.hypothesize``), by their
    Python names; not offered here: ``checkpoint`` (a directory on the server)."""

    model_config = ConfigDict(extra="forbid")
    task: Literal["imputation", "placement", "linkpred"] = Field(
        "imputation", description="imputation: presence/absence of an entity in a taxon; linkpred: the same triples "
        "ranked as links (filtered MRR, Hits@k against the marginal baseline); placement: where the taxa with calls "
        "but no tip belong on the tree.")
    tree: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                             description="The loaded tree (default: the only one).")
    split: Literal["random", "clade"] = Field("random", description="Random held-out cells or whole held-out clades.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$", description="cpu, cuda, cuda:N or auto.")
    epochs: int = Field(150, ge=1, le=100_000)
    limit: int | None = Field(None, ge=0, le=10_000_000, description="Most confident hypotheses to keep, whole tie "
                              "sets only (default: 1000; placement: all).")
    write: bool = Field(True, description="Write the run's hypotheses graph (false: report only).")
    min_taxa: int = Field(5, ge=1, le=1_000_000, description="Labelled taxa an entity needs.")
    max_entities: int | None = Field(None, ge=1, le=10_000_000, description="Keep the most labelled entities only.")
    ontology_weight: float = Field(1.0, ge=0, le=1000, description="Weight of the ontology (subtype, part/whole) loss.")
    smooth_weight: float = Field(1.0, ge=0, le=1000, description="Weight of the phylogenetic smoothness loss.")
    ablation: bool = Field(False, description="Also train without each kind of knowledge guidance (imputation).")
    threads: int = Field(1, ge=1, le=64, description="torch CPU threads (fixed: a CPU run is bit-reproducible).")
    conv: Literal["sage", "gat", "graph"] = Field("sage", description="PyG layer of each HeteroConv.")
    batch_size: int | None = Field(None, ge=1, le=10_000_000, description="Mini-batches of this many cells.")
    priors: list[Literal["label-propagation"]] = Field(["label-propagation"], max_length=1,
                                                       description="Baselines whose predictions the model is given.")


class JobOut(BaseModel):
    """A hypotheses run started over REST, and where it stands."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    status_url: str
    task: str
    parameters: dict[str, Any]
    submitted: str
    started: str | None = None
    finished: str | None = None
    ahead: int | None = Field(None, description="Queued: jobs running or waiting before this one.")
    progress: dict[str, Any] | None = Field(None, description="Running: the stage and how far it is (epochs).")
    run: str | None = Field(None, description="Done (and written): the run id.")
    graph: str | None = Field(None, description="Done (and written): the run's hypotheses graph.")
    run_url: str | None = None
    report: dict[str, Any] | None = Field(None, description="Done: what `traitkg hypothesize --format json` prints.")
    error: str | None = Field(None, description="Failed: the one-line error.")


def _jobs(request: Request) -> JobQueue:
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is None:
        raise ModelsUnavailable("this server runs no models: start it with `traitkg serve` (or `uvicorn --factory "
                       "kg.cli.serve:app_factory`) to run hypotheses over REST; reading runs works here")
    return jobs


def _job_out(request: Request, jobs: JobQueue, job: Job) -> dict[str, Any]:
    out = job.to_dict()
    report = out.pop("result")
    out["task"] = out.pop("kind")
    out["report"] = report
    out["ahead"] = jobs.position(job.id) if job.status == "queued" else None
    out["status_url"] = str(request.url_for("get_job", job_id=job.id))
    if report and report.get("run"):
        out.update(run=report["run"], graph=report.get("graph"),
                   run_url=str(request.url_for("get_run", run=report["run"])))
    return out


@router.post("/runs", status_code=202, response_model=JobOut, dependencies=[WriteAccess],
             responses=problem_responses(400, 401, 403, 404, 422, 429, 503))
def start_run(request: Request, response: Response, kg: KGDep, body: RunIn) -> dict[str, Any]:
    """Start a hypotheses run (the same parameters as ``traitkg hypothesize``): answered at once
    with 202 and the job's status URL (also in ``Location``). Jobs run one at a time in the
    server's worker thread, first come first served; while one runs, up to
    ``TRAITKG_MAX_QUEUED_JOBS`` (default 4) wait (``queued``), and a further request is answered
    429. Reads go on meanwhile; the run's graph appears to readers when it is written, whole."""
    jobs = _jobs(request)
    if body.tree is not None:
        trees = sorted({g.name for g in kg.graphs(kind="tree")})
        if body.tree not in trees:
            raise NotFound(f"no tree {body.tree!r} is loaded; loaded trees: {', '.join(trees) or '(none)'}")
    job = jobs.submit(body.task, body.model_dump())
    out = _job_out(request, jobs, job)
    response.headers["Location"] = out["status_url"]
    return out


@router.get("/jobs/{job_id}", response_model=JobOut, responses=problem_responses(404, 422))
def get_job(request: Request, job_id: Annotated[str, Path(max_length=32, pattern=r"^[0-9a-f]+$")]) -> dict[str, Any]:
    """A job started by ``POST /runs``: queued, running (with its progress), done (the run id, its
    graph and the report ``traitkg hypothesize --format json`` prints) or failed (the one-line error).
    Jobs live in the server's memory (the last 100 finished are kept); the runs they wrote stay."""
    jobs = getattr(request.app.state, "jobs", None)
    job = jobs.get(job_id) if jobs is not None else None
    if job is None:
        raise NotFound(f"no job {job_id!r} on this server (jobs are kept in memory until it restarts)")
    return _job_out(request, jobs, job)
