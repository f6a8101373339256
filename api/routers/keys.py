"""``/api/v1/keys``: identification keys (each named ``/{project}/{key}``, e.g. ``flora-of-victoria/1903``) — list them, show a couplet, validate, and identify
(answers so far -> next couplet or result, going on into the sub-keys leads hand over to; observed
traits -> candidate taxa)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.deps import KGDep, Paged, PageDep, paginate
from api.errors import problem_responses

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])
ERR = problem_responses(400, 404, 422)
_SEG = r"^[A-Za-z0-9][A-Za-z0-9._()-]*$"
Project = Annotated[str, Path(pattern=_SEG, max_length=200, description="The key's project (graph name), "
                                                                        "e.g. flora-of-victoria")]
KeyId = Annotated[str, Path(pattern=_SEG, max_length=200, description="The key's id in its project, e.g. 1903")]


class KeyOut(BaseModel):
    ref: str = Field(description="project/key id, e.g. flora-of-victoria/1903")
    title: str
    scope: str | None = Field(None, description="The taxon the key is to.")
    leads: int
    graph: str


class MediaOut(BaseModel):
    id: str
    href: str = Field(description="The media object's address, as the key file gives it.")
    label: str = ""
    type: str = Field("", description="Image, Sound, Video ... (SDD's media type).")


class LeadOut(BaseModel):
    id: str = Field(description="Couplet number and letter: 1a, 1b ...")
    statement: str
    to_couplet: str | None = Field(None, description="The couplet of this key the lead goes to.")
    item: str | None = Field(None, description="The taxon this lead keys out.")
    shortcut: list[str] = Field(default_factory=list)
    subkeys: list[str] = Field(default_factory=list, description="Keys the lead hands over to, or keys to "
                                                                 "the item keyed out.")
    subkey: str | None = Field(None, description="The key this lead hands over to (SDD Subkey), when it "
                                                 "keys out no item.")
    subkey_couplet: str | None = Field(None, description="Where in that key it goes on (null: its first couplet).")
    reticulation: bool = Field(False, description="The lead's destination is a reticulation its author declared.")
    media: list[MediaOut] = Field(default_factory=list)


class CoupletOut(KeyOut):
    first: str | None
    couplets: int
    description: str | None = None
    media: list[MediaOut] = Field(default_factory=list, description="The key's own media.")
    couplet: str
    question: str | None = Field(None, description="The question this couplet's leads answer, if any.")
    leads_of_couplet: list[LeadOut]


class StepOut(BaseModel):
    key: str = Field(description="The key this step was taken in (changes after a hand-over to a sub-key).")
    couplet: str
    lead: str
    statement: str
    item: str | None = Field(None, description="The taxon this lead keyed out (the walk may go on in its own key).")
    subkey: str | None = Field(None, description="The sub-key this lead handed over to.")


class WalkOut(BaseModel):
    key: str
    path: list[StepOut]
    couplet: str | None = Field(None, description="The next couplet to answer (null when done).")
    in_key: str | None = Field(None, description="The key that couplet belongs to (a sub-key after a hand-over).")
    question: str | None = None
    leads: list[LeadOut]
    result: str | None = None
    shortcut: list[str] = Field(default_factory=list)
    subkeys: list[str] = Field(default_factory=list)
    remaining: list[str] = Field(description="Taxa still possible.")
    dead_end: str | None = None
    done: bool


class WalkIn(BaseModel):
    answers: list[Annotated[str, Field(max_length=401)]] = Field(
        default_factory=list, max_length=500, description="Lead ids so far, e.g. [\"1a\", \"3b\"]; after a result "
        "with several sub-keys, the reference of the one to go on in.")


class BatchIn(BaseModel):
    observations: list[Annotated[str, Field(max_length=500)]] = Field(min_length=1, max_length=200,
                                                                      description="Observed traits (text) or lead ids.")


class BatchOut(BaseModel):
    key: str
    candidates: list[str]
    decisions: list[dict[str, Any]]
    remaining: list[dict[str, Any]]
    unused: list[str]


class ProblemOut(BaseModel):
    kind: str = Field(description="loop, dead_end, orphan, reticulation, polytomy, singleton, double_shortcut, "
                                  "unreachable_subkey")
    severity: str
    couplet: str
    leads: list[str]
    lines: list[int]
    message: str


def _key(info: Any) -> dict[str, Any]:
    return {"ref": info.ref, "title": info.title, "scope": info.scope, "leads": info.leads, "graph": info.graph}


@router.get("", response_model=Paged[KeyOut], responses=ERR)
def list_keys(request: Request, kg: KGDep, page: PageDep,
              q: Annotated[str | None, Query(max_length=200, description="Filter: text in the title, "
                                             "scope or reference (case-insensitive).")] = None) -> dict[str, Any]:
    """Every loaded key (latest version of each key graph)."""
    keys = kg.keys.list()
    if q:
        t = q.lower()
        keys = [k for k in keys if t in k.title.lower() or t in k.ref.lower() or t in (k.scope or "").lower()]
    return paginate(keys, page, request, convert=_key)


@router.get("/{project}/{key}/couplets/{couplet}", response_model=CoupletOut, responses=ERR)
def couplet(kg: KGDep, project: Project, key: KeyId,
            couplet: Annotated[str, Path(max_length=50)]) -> dict[str, Any]:
    """One couplet of a key with its leads (where each goes: a couplet or a taxon)."""
    return kg.keys.show(f"{project}/{key}", couplet)


@router.get("/{project}/{key}/problems", response_model=list[ProblemOut], responses=ERR)
def problems(kg: KGDep, project: Project, key: KeyId) -> list[dict[str, Any]]:
    """KeyBase's checks on the key: each problem's class, severity, couplet and leads."""
    return [p.to_dict() for p in kg.keys.validate(f"{project}/{key}")]


@router.get("/{project}/{key}/identify", response_model=WalkOut, responses=ERR)
def identify_get(kg: KGDep, project: Project, key: KeyId,
                 answer: Annotated[list[str], Query(max_length=500, description="A lead id; repeat in order.")] = [],  # noqa: B006
                 ) -> dict[str, Any]:
    """Walk the key: the answers so far (``?answer=1a&answer=3b``) -> the next couplet or the result."""
    return kg.keys.identify(f"{project}/{key}", list(answer)).to_dict()


@router.post("/{project}/{key}/identify", response_model=WalkOut, responses=ERR)
def identify_post(kg: KGDep, project: Project, key: KeyId, body: WalkIn) -> dict[str, Any]:
    """Walk the key with the answers in the body; an answer that is not a lead of the couplet
    reached is a 400 naming the choices."""
    return kg.keys.identify(f"{project}/{key}", body.answers).to_dict()


@router.post("/{project}/{key}/batch", response_model=BatchOut, responses=ERR)
def batch(kg: KGDep, project: Project, key: KeyId, body: BatchIn) -> dict[str, Any]:
    """Batch identification: observed traits -> candidate taxa, and the couplets left open."""
    return kg.keys.batch(f"{project}/{key}", body.observations).to_dict()


@router.get("/{project}/{key}", response_model=CoupletOut, responses=ERR)
def detail(kg: KGDep, project: Project, key: KeyId) -> dict[str, Any]:
    """A key and its first couplet."""
    return kg.keys.show(f"{project}/{key}")
