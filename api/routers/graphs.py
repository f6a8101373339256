"""``/api/v1/graphs``: the manifest (every loaded or derived graph with its provenance), versions,
diff, and — behind the bearer token — uploading a source to load and dropping a graph."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.deps import KGDep, Paged, PageDep, WriteAccess, paginate, writing
from api.errors import problem_responses

router = APIRouter(prefix="/api/v1/graphs", tags=["graphs"])
Slug = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200)]


class GraphOut(BaseModel):
    """One manifest entry (PROV-O in the store)."""

    iri: str
    kind: str
    name: str
    version: str
    source: str
    sha256: str
    byte_size: int
    loader: str
    loader_version: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    started: str
    ended: str
    triples: int
    derived_from: list[str] = Field(default_factory=list)


class DiffOut(BaseModel):
    a: str
    b: str
    added: int
    removed: int
    common: int
    sample_added: list[str]
    sample_removed: list[str]


class ProblemOut(BaseModel):
    message: str
    line: int | None = None
    value: str | None = None
    severity: str = "warning"


class LoadOut(BaseModel):
    """What loading an upload did."""

    source: str
    kind: str
    graph: str
    name: str
    version: str
    status: str
    triples: int
    counts: dict[str, Any] = Field(default_factory=dict, description="What was loaded, per loader (numbers; "
                                   "an ontology's 'imports' is the list of graphs its owl:imports became).")
    problems: list[ProblemOut] = Field(default_factory=list)
    seconds: float


def _out(rec: Any) -> dict[str, Any]:
    d = rec.to_dict()
    d.pop("status", None)
    return d


@router.get("", response_model=Paged[GraphOut], responses=problem_responses(400))
def list_graphs(request: Request, kg: KGDep, page: PageDep,
                kind: Annotated[str | None, Query(max_length=200)] = None,
                name: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    """The manifest, oldest first within each kind/name; filter by ``kind`` and ``name``."""
    return paginate(kg.graphs(kind=kind, name=name), page, request, _out)


@router.get("/diff", response_model=DiffOut, responses=problem_responses(400, 404))
def diff(kg: KGDep, a: Annotated[str, Query(min_length=1, max_length=500, description="Graph IRI or kind/name/version")],
         b: Annotated[str, Query(min_length=1, max_length=500)],
         sample: Annotated[int, Query(ge=0, le=1000)] = 10) -> dict[str, Any]:
    """Triples added and removed from graph ``a`` to graph ``b`` (e.g. two releases of a source)."""
    return kg.diff(a, b, sample=sample).to_dict()


class StaleOut(BaseModel):
    """A derived graph that does not match its inputs, why, and the command that rebuilds it."""

    graph: str
    reason: str
    command: str


class RefreshedOut(BaseModel):
    graph: str
    nonredundant_graph: str
    triples: int
    nonredundant_triples: int
    status: str
    seconds: float


@router.get("/stale", response_model=list[StaleOut])
def stale(kg: KGDep) -> list[dict[str, Any]]:
    """Derived graphs that no longer match their inputs (closures missing a loaded ontology or left
    unfinished by a stopped load, inference over changed graphs...), as ``traitkg graphs --stale``."""
    return kg.stale()


@router.post("/closures/refresh", response_model=list[RefreshedOut], dependencies=[WriteAccess],
             responses=problem_responses(401, 403))
def refresh_closures(request: Request) -> list[dict[str, Any]]:
    """Bring every ontology's closure up to date with the loaded ontologies (``traitkg closure
    --refresh`` through the server that owns the store; needs the bearer token). Reads meanwhile see
    the closures before or after, never half-updated."""
    with writing(request) as kg:
        return [r.to_dict() for r in kg.refresh_closures()]


@router.get("/{kind}/{name}", response_model=Paged[GraphOut], responses=problem_responses(404))
def versions(request: Request, kg: KGDep, kind: Slug, name: Slug, page: PageDep) -> dict[str, Any]:
    """Every version of one source, oldest first."""
    recs = kg.graphs(kind=kind, name=name)
    if not recs:
        from kg.core.errors import GraphNotFound

        raise GraphNotFound(f"no graph {kind}/{name} in the manifest")
    return paginate(recs, page, request, _out)


@router.get("/{kind}/{name}/{version}", response_model=GraphOut, responses=problem_responses(404))
def graph(kg: KGDep, kind: Slug, name: Slug, version: Slug) -> dict[str, Any]:
    """One graph's manifest entry."""
    return _out(kg.graph(f"{kind}/{name}/{version}"))


@router.delete("/{kind}/{name}/{version}", response_model=GraphOut, dependencies=[WriteAccess],
               responses=problem_responses(401, 403, 404))
def drop(request: Request, kind: Slug, name: Slug, version: Slug) -> dict[str, Any]:
    """Drop a graph and its manifest entry (needs the bearer token)."""
    with writing(request) as kg:
        return _out(kg.drop(f"{kind}/{name}/{version}"))


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The source file (its extension picks "
                 "the loader unless 'format' is given; .gz accepted)."},
        "name": {"type": "string", "description": "Graph name (default: the file name)."},
        "kind": {"type": "string", "description": "Graph kind, to choose among loaders for one extension."},
        "format": {"type": "string", "description": "Loader format name (see the loader registry)."},
        "version": {"type": "string", "description": "Release version (default: a content hash)."},
    }}}}}}


@router.post("", status_code=201, response_model=LoadOut, openapi_extra=_UPLOAD_BODY, dependencies=[WriteAccess],
             responses=problem_responses(400, 401, 403, 413, 415))
async def upload(request: Request) -> dict[str, Any]:
    """Load an uploaded source into its own named graph (needs the bearer token). A failed load
    leaves the store unchanged; uploads over ``TRAITKG_MAX_UPLOAD`` bytes answer 413."""
    from fastapi.concurrency import run_in_threadpool

    from api.uploads import load_upload, receive_upload

    up = await receive_upload(request)
    return await run_in_threadpool(load_upload, request, up)
