"""``/api/v1/taxa``: search by name (exact, synonym, genus-level and fuzzy matching), batch name
resolution with a report per name, and taxon detail with external ids, synonyms, lineage,
children and the tree tips that represent it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import KGDep, Paged, PageDep, cached_view, paginate, to_curie, to_iri
from api.errors import problem_responses
from kg.core.errors import NotFound
from kg.core.store import NamedNode

router = APIRouter(prefix="/api/v1/taxa", tags=["taxa"])
ERR = problem_responses(400, 404, 422)


class TaxonHit(BaseModel):
    id: str = Field(description="Taxon CURIE (taxon:Genus_species)")
    name: str | None = None
    rank: str | None = None
    status: str = Field(description="matched | approximate | ambiguous | candidate")
    method: str | None = None
    score: float | None = None
    matched: str | None = Field(None, description="The text that was searched for.")


class NameMatchOut(BaseModel):
    name: str
    status: str
    taxon: str | None = None
    matched_name: str | None = None
    method: str | None = None
    score: float | None = None
    rank: str | None = None
    flags: list[str] = Field(default_factory=list)
    candidates: list[dict[str, Any]] = Field(default_factory=list)


class ResolveIn(BaseModel):
    names: list[str] = Field(min_length=1, max_length=10_000)
    tree: str | None = Field(None, description="Resolve against this tree's tips instead of all taxa.")
    fuzzy: bool = True


class TaxonRef(BaseModel):
    id: str
    name: str | None = None
    rank: str | None = None


class TipRef(BaseModel):
    tree: str
    node: str
    label: str


class TaxonOut(BaseModel):
    id: str
    iri: str
    name: str | None = None
    rank: str | None = None
    synonyms: list[str]
    external_ids: list[str]
    lineage: list[TaxonRef] = Field(description="Ancestors, nearest first.")
    children: list[TaxonRef]
    tips: list[TipRef] = Field(description="Tree tips that represent this taxon.")


def _hits(m: Any) -> list[dict[str, Any]]:
    out = []
    if m.taxon:
        out.append({"id": to_curie(m.taxon), "name": m.matched_name, "rank": m.rank, "status": m.status,
                    "method": m.method, "score": m.score, "matched": m.name})
    for c in m.candidates:
        if c.get("taxon"):
            out.append({"id": to_curie(c["taxon"]), "name": c.get("name"),
                        "status": "ambiguous" if m.status == "ambiguous" else "candidate",
                        "method": m.method, "score": c.get("score"), "matched": m.name})
    return out


@router.get("", response_model=Paged[TaxonHit], responses=ERR)
def search(request: Request, kg: KGDep, page: PageDep,
           q: Annotated[str, Query(min_length=1, max_length=300, description="A scientific name, "
                                   "possibly misspelt, with qualifiers (cf., sp.) or an authority; or an "
                                   "external id (NCBITaxon:7955, VTO:...)")]) -> dict[str, Any]:
    """Taxa matching a name: the best match first, then near candidates."""
    (m,) = kg.resolve([q])
    return paginate(_hits(m), page, request)


@router.post("/resolve", response_model=list[NameMatchOut], responses=ERR)
def resolve(kg: KGDep, body: ResolveIn) -> list[dict[str, Any]]:
    """Resolve many names at once: one report per name, in order; never fails the batch."""
    return [m.to_dict() for m in kg.resolve(body.names, tree=body.tree, fuzzy=body.fuzzy)]


_Q_NAME = """PREFIX dwc: <http://rs.tdwg.org/dwc/terms/>
SELECT ?name ?rank WHERE { ?t dwc:scientificName ?name . OPTIONAL { ?t dwc:taxonRank ?rank } } LIMIT 1"""
_Q_EXT = "SELECT DISTINCT ?x WHERE { ?t <http://www.w3.org/2004/02/skos/core#exactMatch> ?x } ORDER BY ?x"
_Q_SYN = "SELECT DISTINCT ?s WHERE { ?t <https://w3id.org/traitkg/schema#synonym> ?s } ORDER BY ?s"
_Q_UP = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
PREFIX dwc: <http://rs.tdwg.org/dwc/terms/>
SELECT DISTINCT ?a ?p ?name ?rank WHERE { ?t tkg:parentTaxon* ?a . ?a tkg:parentTaxon ?p .
  OPTIONAL { ?p dwc:scientificName ?name } OPTIONAL { ?p dwc:taxonRank ?rank } }"""
_Q_DOWN = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
PREFIX dwc: <http://rs.tdwg.org/dwc/terms/>
SELECT DISTINCT ?c ?name ?rank WHERE { ?c tkg:parentTaxon ?t .
  OPTIONAL { ?c dwc:scientificName ?name } OPTIONAL { ?c dwc:taxonRank ?rank } } ORDER BY ?name LIMIT 1000"""
_Q_TIPS = """SELECT DISTINCT ?g ?n ?l WHERE { GRAPH ?g { ?n <http://purl.obolibrary.org/obo/CDAO_0000187> ?t ;
  <http://www.w3.org/2000/01/rdf-schema#label> ?l } } ORDER BY ?g ?n"""


def taxon_iri_for(kg: Any, ref: str) -> str:
    """A taxon IRI from a CURIE, an IRI or a scientific name (exact or synonym match)."""
    ref = ref.strip()
    if ":" in ref and " " not in ref:
        return to_iri(ref)
    (m,) = kg.resolve([ref], fuzzy=False)
    if m.status == "matched" and m.taxon:
        return m.taxon
    hint = f"; candidates: {', '.join(str(c.get('name')) for c in m.candidates[:5])}" if m.candidates else ""
    raise NotFound(f"no taxon named {ref!r} ({m.status}){hint}; search with GET /api/v1/taxa?q=")


def _v(t: Any) -> str | None:
    return None if t is None else t.value


class RollupRow(BaseModel):
    entity: str
    entity_label: str
    value: str = Field(description="present | absent")
    taxa: list[str] = Field(description="Every species of the clade with this call.")
    n_taxa: int
    asserted: int = Field(description="How many of them have the call asserted (curated).")
    inferred: int = Field(description="How many have it inferred through the ontology.")
    polymorphic: list[str]


class RollupTree(BaseModel):
    name: str
    tips: list[str] = Field(description="The clade's tips on the tree (members, or of a member's genus).")


class RollupOut(BaseModel):
    clade: str
    kind: str = Field(description="How the clade was found: taxonomy | tree | genus")
    node: str
    rank: str | None = None
    species: list[str]
    species_with_traits: list[str]
    species_without_traits: list[str]
    traits: list[RollupRow]
    tree: RollupTree | None = None


@router.get("/{ref:path}/rollup", response_model=RollupOut, responses=ERR)
def rollup(request: Request, kg: KGDep, ref: str,
           tree: Annotated[str | None, Query(max_length=200, description="Tree for the clade's tips "
                                             "(default: the only one loaded).")] = None) -> dict[str, Any]:
    """A genus, family or any clade (a taxonomy taxon at any rank, ``TREE:NODE``, a tree's clade
    label or a genus): its species' traits, each with every species behind it, and its tips on a
    tree to paint a trait on."""
    return cached_view(request, ("rollup", ref.strip(), tree), lambda: kg.rollup(ref.strip(), tree=tree))


@router.get("/{ref:path}", response_model=TaxonOut, responses=ERR)
def detail(kg: KGDep, ref: str) -> dict[str, Any]:
    """A taxon by CURIE (``taxon:Danio_rerio``, ``NCBITaxon:7955``), IRI or scientific name."""
    iri = taxon_iri_for(kg, ref)
    if not iri.startswith(to_iri("taxon:")):
        (m,) = kg.resolve([to_curie(iri)], fuzzy=False)  # an external id -> our taxon node
        if m.status != "matched" or not m.taxon:
            raise NotFound(f"no taxon has the external id {ref!r}")
        iri = m.taxon
    b = {"t": NamedNode(iri)}
    rows = kg.query(_Q_NAME, b).rows
    tips = [{"tree": g.value.rstrip("/").split("/")[-2], "node": to_curie(n.value), "label": lab.value}
            for g, n, lab in kg.query(_Q_TIPS, b).rows]
    if not rows and not tips:
        raise NotFound(f"taxon {to_curie(iri)} is not in the store")
    name, rank = (rows[0][0].value, _v(rows[0][1])) if rows else (tips[0]["label"].replace("_", " "), None)
    parent_of: dict[str, tuple[str, str | None, str | None]] = {}
    for a, p, pname, prank in kg.query(_Q_UP, b).rows:
        parent_of.setdefault(a.value, (p.value, _v(pname), _v(prank)))
    lineage, cur, seen = [], iri, {iri}
    while cur in parent_of:  # walk up; a loop, and cycles are cut
        p, pname, prank = parent_of[cur]
        if p in seen:
            break
        seen.add(p)
        lineage.append({"id": to_curie(p), "name": pname, "rank": prank})
        cur = p
    children = [{"id": to_curie(c.value), "name": _v(n), "rank": _v(r)} for c, n, r in kg.query(_Q_DOWN, b).rows]
    return {"id": to_curie(iri), "iri": iri, "name": name, "rank": rank,
            "synonyms": [s.value for (s,) in kg.query(_Q_SYN, b).rows],
            "external_ids": [to_curie(x.value) for (x,) in kg.query(_Q_EXT, b).rows],
            "lineage": lineage, "children": children, "tips": tips}
