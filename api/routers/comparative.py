"""``/api/v1/comparative``: phylogenetic comparative methods on KG traits and loaded trees --
ancestral states (Fitch, Mk ER/SYM/ARD, Brownian motion), phylogenetic signal (Pagel's lambda,
Blomberg's K), imputation, PGLS -- and the stored results (derived ``comparative`` graphs, tier
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
Method = Literal["fitch", "mk-er", "mk-sym", "mk-ard", "bm", "lambda", "k", "impute", "pgls"]


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
    predictors: dict[str, list[TraitValue]] | None = Field(
        None, max_length=50, description="pgls: predictor name -> taxon/value rows ('values' is the response).")
    model: Literal["BM", "lambda"] = Field("BM", description="pgls: Brownian motion or Pagel's lambda.")
    lam: float | None = Field(None, ge=0, le=1, description="pgls: fix lambda instead of estimating it (ML).")
    estimation: Literal["ML", "REML"] = Field("ML", description="pgls: maximum likelihood or REML.")
    vcv: Literal["covariance", "correlation"] = Field(
        "covariance", description="pgls: the tree's covariance, or nlme's tip-correlation matrix (corBrownian/"
        "corPagel); the same model on an ultrametric tree.")
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
    kw: dict[str, Any] = {"name": body.name, "minimum": body.minimum, "nsim": body.nsim, "seed": body.seed}
    if body.method == "pgls":
        if body.values is None or not body.predictors:
            raise ValidationError("pgls takes the response as 'values' and at least one of 'predictors'")
        kw.update(model=body.model, lam=body.lam, estimation=body.estimation, vcv=body.vcv,
                  predictors={k: Trait.from_rows([(v.taxon, v.value) for v in rows], name=k, kind="continuous",
                                                 source="request") for k, rows in body.predictors.items()})
    elif body.predictors:
        raise ValidationError(f"'predictors' are for pgls, not {body.method}")
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


@router.get("/{name}/{version}/estimates", response_model=Paged[dict[str, Any]], responses=ERR)
def estimates(request: Request, kg: KGDep, page: PageDep, name: Slug, version: Slug) -> dict[str, Any]:
    """Every stored value of one analysis: per node (ancestral states: state probabilities, joint
    and most likely states, parsimony states; BM estimates with variances and 95% intervals), per
    taxon (imputed values and variances) or per coefficient (PGLS: estimate, se, t)."""
    rec = kg.graph(f"comparative/{name}/{version}")
    return paginate(cached_view(request, ("comparative-estimates", rec.iri), lambda: kg.comparative.estimates(rec.iri)),
                    page, request)


@router.get("/{name}/{version}", response_model=RunOut, responses=ERR)
def analysis(request: Request, kg: KGDep, name: Slug, version: Slug) -> dict[str, Any]:
    """One stored analysis read back: its method, parameters, tip match and every number of the
    result (the same fields a run returns), with the nodes and imputed values from the graph."""
    rec = kg.graph(f"comparative/{name}/{version}")
    return cached_view(request, ("comparative-analysis", rec.iri), lambda: kg.comparative.read(rec.iri))
