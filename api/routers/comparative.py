"""``/api/v1/comparative``: phylogenetic comparative methods on KG traits and loaded trees --
ancestral states (Fitch, Mk ER/SYM/ARD, Brownian motion), phylogenetic signal (Pagel's lambda,
Blomberg's K), imputation -- and the stored results (derived ``comparative`` graphs, tier
"hypothesised"). Running a method that writes its result needs the bearer token."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api.deps import KGDep, Paged, PageDep, SettingsDep, cached_view, check_token, paginate, writing
from api.errors import problem_responses

router = APIRouter(prefix="/api/v1/comparative", tags=["comparative"])
Slug = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200)]
ERR = problem_responses(400, 401, 403, 404, 422)
Method = Literal["fitch", "mk-er", "mk-sym", "mk-ard", "bm", "lambda", "k", "impute"]


class AnalysisOut(BaseModel):
    graph: str
    analysis: str
    method: str
    trait: str
    tree: str
    ll: float | None = Field(None, description="Log-likelihood.")
    lam: float | None = Field(None, description="Pagel's lambda.")
    k: float | None = Field(None, description="Blomberg's K.")
    p: float | None = Field(None, description="p-value (lambda: LRT against 0; K: permutations).")
    score: float | None = Field(None, description="Parsimony score.")


class TraitValue(BaseModel):
    taxon: str = Field(min_length=1, max_length=500)
    value: float | str | None = Field(None, description="A number (continuous) or a state label (discrete).")
    se: float | None = Field(None, ge=0, description="Standard error of a continuous value (measurement error).")


class RunIn(BaseModel):
    tree: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    method: Method
    entity: str | None = Field(None, max_length=500, description="Presence/absence calls of this entity (CURIE) "
                               "as the trait; or give 'values'.")
    values: list[TraitValue] | None = Field(None, max_length=200_000)
    trait_name: str = Field("trait", min_length=1, max_length=200)
    name: str | None = Field(None, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                             description="Result graph name (default: method-trait-tree).")
    minimum: int = Field(3, ge=2, le=100_000, description="Refuse when fewer taxa than this match tips.")
    nsim: int = Field(0, ge=0, le=10_000, description="Permutations for Blomberg's K p-value.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    write: bool = Field(True, description="Write the result graph (needs the bearer token).")
    svg: bool = Field(False, description="Include a picture of the tree with the reconstructed states (SVG text).")


class RunOut(BaseModel):
    method: str
    parameters: dict[str, Any]
    tree: str
    tree_graph: str
    trait: str
    trait_sources: list[str]
    match: dict[str, Any]
    result: dict[str, Any]
    nodes: list[dict[str, Any]]
    imputed: list[dict[str, Any]]
    graph: str | None = None
    svg: str | None = None


@router.get("", response_model=Paged[AnalysisOut], responses=ERR)
def analyses(request: Request, kg: KGDep, page: PageDep) -> dict[str, Any]:
    """Stored comparative analyses with their headline numbers."""
    rows = cached_view(request, ("comparative",), kg.comparative.analyses)
    return paginate(rows, page, request)


@router.get("/methods", response_model=list[str])
def methods(kg: KGDep) -> list[str]:
    """The methods a run accepts (multivariate imputation takes a table: Python API and CLI)."""
    return [m for m in kg.comparative.methods() if m in get_args(Method)]


@router.post("/runs", response_model=RunOut, responses=ERR)
def run(request: Request, kg: KGDep, settings: SettingsDep, body: RunIn) -> dict[str, Any]:
    """Run a method on a trait (an entity's presence/absence calls, or taxon/value[/se] rows) over
    the tips of a loaded tree; with ``write`` the result becomes a derived graph."""
    from kg.comparative.data import Trait
    from kg.core.errors import ValidationError

    if (body.entity is None) == (body.values is None):
        raise ValidationError("give exactly one of 'entity' (a CURIE) or 'values' (taxon/value rows)")
    if body.values is not None:
        trait: Trait | str = Trait.from_rows([(v.taxon, v.value, v.se) for v in body.values], name=body.trait_name,
                                             source="request")
    else:
        trait = body.entity or ""
    kw = {"name": body.name, "minimum": body.minimum, "nsim": body.nsim, "seed": body.seed}
    if body.write:
        check_token(settings, request.headers.get("authorization"))
        with writing(request) as wkg:
            a = wkg.comparative.run(body.tree, trait, body.method, write=True, **kw)
    else:
        a = kg.comparative.run(body.tree, trait, body.method, write=False, **kw)
    out = a.to_dict()
    if body.svg and a.nodes:
        from kg.comparative.plot import analysis_svg

        out["svg"] = analysis_svg(a)
    return out


_NODES = """SELECT ?e ?node ?ml ?joint ?est ?var ?lo ?hi WHERE { GRAPH ?g {
  ?e <%(t)sanalysis> ?a . { ?e <%(t)satNode> ?node } UNION { ?e <%(t)staxon> ?node }
  OPTIONAL { ?e <%(t)smostLikelyState> ?ml } OPTIONAL { ?e <%(t)sjointState> ?joint }
  OPTIONAL { ?e <%(t)sestimate> ?est } OPTIONAL { ?e <%(t)svariance> ?var }
  OPTIONAL { ?e <%(t)sciLower> ?lo } OPTIONAL { ?e <%(t)sciUpper> ?hi } } } ORDER BY ?e"""


@router.get("/{name}/{version}/estimates", response_model=Paged[dict[str, Any]], responses=ERR)
def estimates(request: Request, kg: KGDep, page: PageDep, name: Slug, version: Slug) -> dict[str, Any]:
    """The per-node (ancestral states) or per-taxon (imputed values) estimates of one stored analysis."""
    from kg.core.graphs import TKG
    from kg.core.store import NamedNode

    rec = kg.graph(f"comparative/{name}/{version}")

    def build() -> list[dict[str, Any]]:
        res = kg.store.select(_NODES % {"t": TKG}, {"g": NamedNode(rec.iri)})
        out = []
        for row in res.rows:
            d = {k: v.value for k, v in zip(res.variables, row) if v is not None}
            for k in ("est", "var", "lo", "hi"):
                if k in d:
                    d[k] = float(d[k])
            out.append(d)
        return out

    return paginate(cached_view(request, ("comparative-estimates", rec.iri), build), page, request)
