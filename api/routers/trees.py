"""``/api/v1/trees``: loaded phylogenies and Open-Tree-style queries over their array index —
``mrca``, ``induced_subtree`` (Newick or flat JSON), ``distances`` and ``node_info``. Unknown ids
never fail a request that has known ones: each id gets a diagnostic."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from pydantic_core import to_json

from api.deps import KGDep, Paged, PageDep, cached_view, paginate
from api.errors import problem_responses
from api.fastroute import FastRoute, fast_path
from api.routers._trees_support import Diagnostic, IdsIn, flat_tree, locate
from kg.core.errors import ValidationError
from kg.trees import Node

router = APIRouter(prefix="/api/v1/trees", tags=["trees"], route_class=FastRoute)
TreeName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200,
                               description="Tree name (as loaded), e.g. actinopt_12k_treePL")]
IdsQuery = Annotated[list[str], Query(min_length=1, max_length=2000, description="Repeat for each id.")]
ERR = problem_responses(400, 404, 422)


class TreeOut(BaseModel):
    name: str
    version: str
    graph: str
    source: str
    nodes: int
    tips: int
    max_depth: int
    has_lengths: bool
    height: float | None = None
    ultrametric: bool
    max_children: int


class NodeOut(BaseModel):
    id: int
    iri: str
    name: str | None = None
    is_tip: bool
    parent: int | None = None
    depth: int
    length: float | None = None
    support: float | None = None
    n_tips: int
    root_distance: float | None = None
    age: float | None = None
    children: list[int] | None = None
    tips: list[str] | None = None


class MrcaOut(BaseModel):
    tree: str
    mrca: NodeOut | None = None
    diagnostics: list[Diagnostic]


class FlatNode(BaseModel):
    index: int
    node: int
    parent: int | None = None
    name: str | None = None
    length: float | None = None
    is_tip: bool


class InducedOut(BaseModel):
    tree: str
    newick: str | None = None
    nodes: list[FlatNode] | None = None
    diagnostics: list[Diagnostic]


class DistancesOut(BaseModel):
    tree: str
    ids: list[str] = Field(description="Row/column labels (tip labels of the found ids, request order).")
    nodes: list[int]
    matrix: list[list[float]]
    topological: bool
    diagnostics: list[Diagnostic]


class DistancesIn(IdsIn):
    topological: bool = False


def _tree(request: Request, kg: Any, name: str) -> Any:
    """The cached tree object (its array index) for a name."""
    return cached_view(request, ("tree", name), lambda: kg.tree(name))


def _tree_out(t: Any) -> dict[str, Any]:
    s = t.summary()
    return {"name": s["name"], "version": s.get("version", ""), "graph": s.get("graph", ""),
            "source": s.get("source", ""), **{k: s[k] for k in ("nodes", "tips", "max_depth", "has_lengths",
                                                                "height", "ultrametric", "max_children")}}


def ages_of(t: Any) -> Any:
    """Node ages of an ultrametric tree (None otherwise)."""
    return t.ages() if t.index.has_lengths and t.index.is_ultrametric() else None


def _ages(request: Request, t: Any) -> Any:
    """:func:`ages_of`, computed once per tree (``serve --warm`` does it at start-up)."""
    return cached_view(request, ("ages", t.name), lambda: ages_of(t))


def _node_out(t: Any, v: int, *, tips: int = 0, ages: Any = None) -> dict[str, Any]:
    """A node by its id (no label lookups), its first 1,000 children and, with ``tips``, tips."""
    d = Node(t, int(v)).to_dict()
    d["age"] = None if ages is None else float(ages[v])
    size = t.index.size
    children, c, end = [], int(v) + 1, int(v) + int(size[v])
    while c < end and len(children) < 1000:  # sibling ranges; a wide polytomy stops at the first 1,000
        children.append(c)
        c += int(size[c])
    d["children"] = children
    if tips:
        names = t.index.names
        d["tips"] = [names[i] for i in t.index.tips_below(v)[:tips].tolist()]
    return d


@router.get("", response_model=Paged[TreeOut], responses=ERR)
def list_trees(request: Request, kg: KGDep, page: PageDep) -> dict[str, Any]:
    """Loaded trees (latest version of each name) with their size and shape."""
    names = sorted({g.name for g in kg.graphs(kind="tree")})
    return paginate(names, page, request, lambda n: _tree_out(_tree(request, kg, n)))


@router.get("/{tree}", response_model=TreeOut, responses=ERR)
def tree_info(request: Request, kg: KGDep, tree: TreeName) -> dict[str, Any]:
    """One tree's summary."""
    return _tree_out(_tree(request, kg, tree))


@router.get("/{tree}/nodes/{node:path}", response_model=NodeOut, responses=ERR)
def node_info(request: Request, kg: KGDep, tree: TreeName, node: str,
              tips: Annotated[int, Query(ge=0, le=10_000, description="Also list up to this many tips below.")] = 0
              ) -> dict[str, Any]:
    """A node by tip label, ``node:N``, preorder number, node IRI, taxon CURIE or genus."""
    t = _tree(request, kg, tree)
    ref: str | int = int(node) if node.isdigit() else node
    return _node_out(t, t.node(ref).id, tips=tips, ages=_ages(request, t))


def _mrca(request: Request, kg: Any, tree: str, body: IdsIn) -> dict[str, Any]:
    t = _tree(request, kg, tree)
    ids, diags = locate(kg, t, body.ids, fuzzy=body.fuzzy)
    mrca = _node_out(t, t.index.mrca(ids), ages=_ages(request, t)) if ids else None
    return {"tree": t.name, "mrca": mrca, "diagnostics": diags}


#: At most this many ids, all tip labels as written, are answered on the event loop (microseconds).
INLINE_IDS = 64


async def _mrca_answer(request: Request, kg: Any, tree: str, body: IdsIn) -> dict[str, Any]:
    """A small request whose ids are all tip labels of a loaded tree costs tens of microseconds:
    it is answered right here, and FastAPI checks the answer here too; two trips through the
    thread pool (the handler's and the answer check's) would cost more than the answer. Anything
    else (a tree not loaded yet, names to resolve, thousands of ids) runs in the thread pool."""
    from fastapi.concurrency import run_in_threadpool

    views = request.app.state.views
    t = views.get(("tree", tree))
    if (t is not None and ("ages", t.name) in views and len(body.ids) <= INLINE_IDS
            and t.index.exact_ids([r.strip() for r in body.ids]) is not None):
        return _mrca(request, kg, tree, body)
    return await run_in_threadpool(_mrca, request, kg, tree, body)


_TREE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_BOOLS = frozenset(("0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"))


def _opt(x: Any) -> float | None:
    """A float field as the answer model writes it (``None`` for a missing or non-finite value)."""
    return None if x is None or not math.isfinite(x) else float(x)


def mrca_fast(scope: Any) -> bytes | None:
    """``GET /{tree}/mrca`` without FastAPI's machinery when it is one of the cheap requests of
    :func:`_mrca_answer` (a held tree, at most ``INLINE_IDS`` ids, all tip labels as written, no
    other parameters than ``ids`` and a well-formed ``fuzzy``): the bytes :class:`MrcaOut` would
    give, else ``None`` (the route's handler answers, with its checks and errors)."""
    name = scope["path_params"].get("tree")
    views = scope["app"].state.views
    t = views.get(("tree", name))
    if t is None or ("ages", t.name) not in views or len(name) > 200 or not _TREE_NAME.match(name):
        return None
    ids: list[str] = []
    for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if key == "ids":
            ids.append(value)
        elif key != "fuzzy" or value.lower() not in _BOOLS:
            return None
    if not 0 < len(ids) <= INLINE_IDS:
        return None
    found = t.index.exact_ids([r.strip() for r in ids])
    if found is None:
        return None
    nodes = found.tolist()
    d = _node_out(t, t.index.mrca(list(dict.fromkeys(nodes))), ages=views[("ages", t.name)])
    parent = d["parent"]
    node = {"id": int(d["id"]), "iri": str(d["iri"]), "name": None if d["name"] is None else str(d["name"]),
            "is_tip": bool(d["is_tip"]), "parent": None if parent is None else int(parent), "depth": int(d["depth"]),
            "length": _opt(d["length"]), "support": _opt(d["support"]), "n_tips": int(d["n_tips"]),
            "root_distance": _opt(d["root_distance"]), "age": _opt(d["age"]), "children": d["children"],
            "tips": None}
    diags = [{"id": ref, "status": "found", "node": v, "matched": None, "message": None} for ref, v in zip(ids, nodes)]
    return to_json({"tree": t.name, "mrca": node, "diagnostics": diags}, inf_nan_mode="null")


@router.post("/{tree}/mrca", response_model=MrcaOut, responses=ERR)
async def mrca(request: Request, kg: KGDep, tree: TreeName, body: IdsIn) -> dict[str, Any]:
    """Most recent common ancestor of the ids that resolve; ``mrca`` is null when none does."""
    return await _mrca_answer(request, kg, tree, body)


@router.get("/{tree}/mrca", response_model=MrcaOut, responses=ERR)
@fast_path(mrca_fast)
async def mrca_get(request: Request, kg: KGDep, tree: TreeName, ids: IdsQuery, fuzzy: bool = True) -> dict[str, Any]:
    """``mrca`` with the ids in the query string (``?ids=A&ids=B``)."""
    return await _mrca_answer(request, kg, tree, IdsIn(ids=ids, fuzzy=fuzzy))


def _induced(request: Request, kg: Any, tree: str, body: IdsIn, fmt: str) -> dict[str, Any]:
    t = _tree(request, kg, tree)
    ids, diags = locate(kg, t, body.ids, fuzzy=body.fuzzy)
    out: dict[str, Any] = {"tree": t.name, "diagnostics": diags}
    if not ids:
        return out
    if fmt in ("newick", "both"):
        out["newick"] = t.index.induced_newick(ids)
    if fmt in ("json", "both"):
        nodes, par, blen = t.index.induced(ids)
        out["nodes"] = flat_tree(t, nodes.tolist(), par.tolist(), blen.tolist())
    return out


Fmt = Annotated[Literal["newick", "json", "both"], Query(description="Newick text, a flat JSON node list, or both.")]


@router.post("/{tree}/induced_subtree", response_model=InducedOut, responses=ERR)
def induced_subtree(request: Request, kg: KGDep, tree: TreeName, body: IdsIn, format: Fmt = "newick"
                    ) -> dict[str, Any]:
    """The subtree induced by the ids that resolve (unary nodes collapsed, lengths summed)."""
    return _induced(request, kg, tree, body, format)


@router.get("/{tree}/induced_subtree", response_model=InducedOut, responses=ERR)
def induced_subtree_get(request: Request, kg: KGDep, tree: TreeName, ids: IdsQuery, format: Fmt = "newick",
                        fuzzy: bool = True) -> dict[str, Any]:
    """``induced_subtree`` with the ids in the query string."""
    return _induced(request, kg, tree, IdsIn(ids=ids, fuzzy=fuzzy), format)


@router.post("/{tree}/distances", response_model=DistancesOut, responses=ERR)
def distances(request: Request, kg: KGDep, tree: TreeName, body: DistancesIn) -> dict[str, Any]:
    """Pairwise patristic (or, with ``topological``, edge-count) distances between the found ids."""
    t = _tree(request, kg, tree)
    if not body.topological and not t.index.has_lengths:
        raise ValidationError(f"tree {t.name!r} has no branch lengths; ask for topological distances")
    if len(body.ids) > 2000:
        raise ValidationError(f"{len(body.ids)} ids: a distance matrix is limited to 2000 rows")
    ids, diags = locate(kg, t, body.ids, fuzzy=body.fuzzy)
    m = t.index.distance_matrix(ids, topological=body.topological) if ids else []
    names = t.index.names
    return {"tree": t.name, "ids": [names[i] or f"node:{i}" for i in ids], "nodes": ids,
            "matrix": [list(map(float, row)) for row in m], "topological": body.topological,
            "diagnostics": diags}


@router.get("/{tree}/subtree", responses={200: {"content": {"text/x-newick": {}}}, **ERR},
            response_class=__import__("fastapi").responses.PlainTextResponse)
def subtree(request: Request, kg: KGDep, tree: TreeName,
            node: Annotated[str | None, Query(max_length=500, description="Clade root (default: the root).")] = None,
            max_tips: Annotated[int, Query(ge=1, le=200_000)] = 5000,
            height_limit: Annotated[int | None, Query(ge=0, le=1_000_000)] = None) -> Any:
    """Newick of the clade below a node, refused past ``max_tips`` tips (cut it with ``height_limit``)."""
    from fastapi.responses import PlainTextResponse

    t = _tree(request, kg, tree)
    ref: str | int | None = int(node) if node and node.isdigit() else node
    return PlainTextResponse(t.subtree(ref, max_tips=max_tips, height_limit=height_limit),
                             media_type="text/x-newick")


SplitMethod = Literal["clade", "rank", "age", "depth", "relative", "species", "random"]


class SplitIn(BaseModel):
    taxa: list[str] | None = Field(None, max_length=200_000, description="Taxa to split (default: every tip).")
    method: SplitMethod = Field("clade", description="Hold out whole clades by size (clade), whole groups of a "
                                "taxonomic rank, or whole clades below a cut by age, depth or relative height "
                                "(validation drawn by the same rule); or leave species out / random.")
    rank: str = Field("genus", max_length=100, description="rank: genus, family, order...")
    cut: float | None = Field(None, description="age / depth / relative: where the tree is cut into clades.")
    test: float = Field(0.2, gt=0, lt=1, description="Hold-out splits: share of taxa held out for test.")
    val: float = Field(0.1, ge=0, lt=1, description="Hold-out splits: share for validation.")
    fractions: list[float] = Field([0.8, 0.1, 0.1], min_length=3, max_length=3,
                                   description="species / random: train, val, test shares.")
    min_size: int = Field(2, ge=1, description="clade: smallest clade held out (taxa).")
    max_size: int = Field(20, ge=1, description="clade: largest clade held out (taxa).")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    strict: bool = Field(False, description="Refuse a split that leaves a set empty (else a warning in the report).")
    min_fraction: float = Field(0.5, ge=0, le=1, description="Refuse when fewer of the taxa are tips.")


class SplitOut(BaseModel):
    tree: str
    method: str
    assignment: dict[str, str] = Field(description="taxon -> train | val | test")
    counts: dict[str, int]
    report: dict[str, Any] = Field(description="How it was made: groups held out per set, warnings.")


@router.post("/{tree}/split", response_model=SplitOut, responses=ERR)
def split(kg: KGDep, tree: TreeName, body: SplitIn) -> dict[str, Any]:
    """A seeded train/val/test split of the tree's taxa for image models (``g.training.split``;
    ``traitkg tree split``): whole clades, genera/families/orders or clades below a cut held out."""
    s = kg.training.split(body.taxa, tree=tree, method=body.method, rank=body.rank, cut=body.cut, test=body.test,
                          val=body.val, fractions=body.fractions, min_size=body.min_size, max_size=body.max_size,
                          seed=body.seed, strict=body.strict, min_fraction=body.min_fraction)
    return {"tree": tree, "method": s.method, "assignment": {str(k): str(v) for k, v in s.assignment.items()},
            "counts": s.counts(), "report": s.report}


class LevelsIn(BaseModel):
    taxa: list[str] | None = Field(None, max_length=200_000, description="Taxa (default: every tip).")
    cuts: list[float] | None = Field(None, max_length=50, description="Fixed cuts; default: chosen from the data.")
    by: Literal["auto", "age", "relative", "depth"] = Field("auto", description="What the cuts measure.")
    n_levels: int = Field(3, ge=1, le=50, description="Levels to choose without cuts.")
    choose: Literal["balanced"] = Field("balanced", description="Cuts for balanced groups (signal: Python, CLI).")
    strict: bool = Field(False, description="Refuse fewer levels than asked or a one-group level.")
    min_fraction: float = Field(0.5, ge=0, le=1)


class LevelsOut(BaseModel):
    tree: str
    by: str
    cuts: list[float]
    groups: dict[str, list[int]] = Field(description="taxon -> group number per level, coarsest first")
    names: dict[str, list[str]] = Field(description="taxon -> the crossing node's label per level")
    report: list[dict[str, Any]]


@router.post("/{tree}/levels", response_model=LevelsOut, responses=ERR)
def levels(kg: KGDep, tree: TreeName, body: LevelsIn) -> dict[str, Any]:
    """Hierarchical labels from cuts through the tree (``g.training.levels``; ``traitkg tree levels``)."""
    lv = kg.training.levels(body.taxa, body.cuts, by=body.by, choose=body.choose, n_levels=body.n_levels, tree=tree,
                            strict=body.strict, min_fraction=body.min_fraction)
    return {"tree": tree, "by": lv.by, "cuts": lv.cuts,
            "groups": {str(t): [int(x) for x in row] for t, row in zip(lv.groups.index, lv.groups.to_numpy())},
            "names": {str(t): list(map(str, row)) for t, row in zip(lv.names.index, lv.names.to_numpy())},
            "report": lv.report}
