"""Taxa: one node per scientific name, minted under ``<base>taxon/``.

>>> normalise_name("  Danio   rerio ")
'Danio rerio'
>>> taxon_iri("Danio rerio").endswith("taxon/Danio_rerio")
True
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.bulk import gc_paused
from kg.core.graphs import BASE, TKG
from kg.core.name_table import (
    Lookup,
    NameTable,
    TaxonName,
    normalise_name,
)
from kg.core.name_table import name_key as _key

TAXON_NS = BASE + "taxon/"
#: Names that normalising and percent-encoding leave as they are (ASCII ``Genus_species``): the
#: characters below, with single ``_`` between runs of them. :func:`taxon_iris` checks the same rule
#: on a whole batch at once.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9.\-()']+(?:_[A-Za-z0-9.\-()']+)*").fullmatch
_PLAIN_CHARS = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-()'_\0")


def taxon_iri(name: str) -> str:
    """The IRI of the taxon node for a scientific name (deterministic, so every loader agrees)."""
    if _PLAIN_NAME(name):  # the common tree tip: no normalising or quoting to do (1M tips: seconds)
        return TAXON_NS + name
    return TAXON_NS + urllib.parse.quote(normalise_name(name).replace(" ", "_"), safe="_-.()'")


def taxon_iris(names: list[str]) -> list[str]:
    """:func:`taxon_iri` of many names (tree tips): a batch of plain names is checked at once.

    >>> taxon_iris(["Danio_rerio", "Danio rerio"]) == [taxon_iri("Danio_rerio"), taxon_iri("Danio rerio")]
    True
    """
    blob = "\0".join(names)
    if (names and all(names) and not blob.translate(_PLAIN_CHARS) and "__" not in blob
            and "\0_" not in blob and "_\0" not in blob and blob[0] != "_" and blob[-1] != "_"):
        return [TAXON_NS + x for x in names]
    return [taxon_iri(x) for x in names]


# --------------------------------------------------------------------------- name resolution

TKG_TAXON = TKG + "Taxon"
TKG_PARENT_TAXON = TKG + "parentTaxon"
TKG_SYNONYM = TKG + "synonym"
DWC = "http://rs.tdwg.org/dwc/terms/"
SKOS_EXACT = "http://www.w3.org/2004/02/skos/core#exactMatch"
#: Prefixes of external taxon ids kept as skos:exactMatch.
EXTERNAL_ID_PREFIXES = ("VTO", "NCBITaxon", "OTT", "GBIF")

#: The cutoff of the near names listed beside an unmatched name.
UNMATCHED_CUTOFF = 70.0
#: bytes of scores a fuzzy prefetch holds at once (64 names against all 2.78M names of the 2.4M-tip
#: store would be 0.7 GB; slices of the universe are as fast, measured)
_SCORES_BUDGET = 128 << 20

_QUALIFIER = re.compile(r"\b(cf|aff|nr|sp|spp|ssp|var|subsp|n\. ?sp)\.?(?=\s|$)", re.IGNORECASE)
_AUTHORITY = re.compile(r"\s*\(?[A-Z][A-Za-z'.-]*(?:,? (?:&|and|et) [A-Z][A-Za-z'.-]*)*,? \d{4}\)?\s*$")


@dataclass
class NameMatch:
    """What happened to one name: ``status`` is ``matched``, ``approximate`` (genus-level,
    fuzzy, qualifier removed: see ``method`` and ``flags``), ``ambiguous`` or ``unmatched``."""

    name: str
    status: str
    taxon: str | None = None
    matched_name: str | None = None
    method: str | None = None
    score: float | None = None
    rank: str | None = None
    flags: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["taxon"] = _curie(self.taxon)
        for c in d["candidates"]:
            c["taxon"] = _curie(c.get("taxon"))
        return d


def _curie(iri: str | None) -> str | None:
    if iri is None:
        return None
    from ontologies.prefixes import contract

    return contract(iri)


def clean_name(name: str) -> tuple[str, list[str]]:
    """Strip qualifiers (``cf.``, ``aff.``, ``sp.``) and a trailing authority; returns the
    cleaned name and what was removed.

    >>> clean_name("Astyanax cf. fasciatus (Cuvier, 1819)")
    ('Astyanax fasciatus', ['qualifier removed', 'authority removed'])
    """
    flags = []
    n = normalise_name(name)
    m = _AUTHORITY.search(n)
    stripped_auth = None
    if m and len(n[: m.start()].split()) >= 2:
        stripped_auth = n[: m.start()]
    q = _QUALIFIER.sub(" ", n if stripped_auth is None else stripped_auth)
    q = normalise_name(q)
    if q != normalise_name(n if stripped_auth is None else stripped_auth):
        flags.append("qualifier removed")
    if stripped_auth is not None:
        flags.append("authority removed")
    return q, flags


class Resolver:
    """Name -> taxon resolution over a fixed universe of taxa, synonyms and external ids.

    >>> r = Resolver([TaxonName(taxon_iri("Danio rerio"), "Danio rerio", "species"),
    ...               TaxonName(taxon_iri("Danio"), "Danio", "genus")], synonyms={"Brachydanio rerio": [taxon_iri("Danio rerio")]})
    >>> [(m.status, m.method) for m in r.resolve(["danio  rerio", "Brachydanio rerio", "Danio sp.", "Danio reriio", "Homo"])]
    [('matched', 'exact'), ('matched', 'synonym'), ('approximate', 'genus'), ('approximate', 'genus'), ('unmatched', None)]
    """

    def __init__(self, taxa: list[TaxonName] | NameTable, *, synonyms: dict[str, list[str]] | None = None,
                 external: dict[str, list[str]] | None = None, fuzzy_cutoff: float = 88.0) -> None:
        with gc_paused():
            self.table = taxa if isinstance(taxa, NameTable) else NameTable.from_taxa(taxa)
            t = self.table
            self.taxa = Lookup(t.taxon, size=t.__len__)  # iri -> its TaxonName
            self.exact = Lookup(t.by_key, keys=t.keys)  # name key -> taxa, first seen first
            self.genera = Lookup(t.genus)  # genus key -> its first taxon
            self.synonyms: dict[str, list[str]] = {}
            for syn, iris in (synonyms or {}).items():
                lst = self.synonyms.setdefault(_key(syn), [])
                lst.extend(i for i in iris if i not in lst)
            self.external = {k: list(dict.fromkeys(v)) for k, v in (external or {}).items()}
        self.fuzzy_cutoff = fuzzy_cutoff
        self._near: dict[str, tuple[float, list[int]]] = {}  # key -> (cutoff, names that may reach it)
        self._slices: list[tuple[int, list[str]]] | None = None  # the universe's keys in slices: (start, keys)

    @property
    def _choices(self) -> list[str]:
        """Every distinct name key, first seen first (made on the first fuzzy search)."""
        return self.table.keys()

    def __len__(self) -> int:
        return len(self.taxa)

    def _hit(self, name: str, status: str, iri: str, method: str, **kw: Any) -> NameMatch:
        t = self.taxa.get(iri)
        return NameMatch(name, status, iri, t.name if t else None, method, rank=t.rank if t else None, **kw)

    def _ambiguous(self, name: str, iris: list[str], method: str) -> NameMatch:
        return NameMatch(name, "ambiguous", method=method, candidates=[
            {"taxon": i, "name": self.taxa[i].name if i in self.taxa else None} for i in iris])

    def _fuzzy(self, key: str, limit: int = 5, cutoff: float | None = None) -> list[tuple[str, float]]:
        from rapidfuzz import fuzz, process

        cutoff = self.fuzzy_cutoff if cutoff is None else cutoff
        choices = self._choices
        near = self._near.get(key)
        if near is not None and cutoff >= near[0]:  # the names that can score as much, in their order
            choices = [choices[i] for i in near[1]]
        got = process.extract(key, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff)
        return [(c, float(s)) for c, s, _ in got]

    def prefetch(self, names: Iterable[str]) -> None:
        """Narrow the fuzzy searches that resolving ``names`` may need, all at once: for each name
        not matched exactly, the universe's names that score at least the lowest cutoff used
        (rapidfuzz's ``cdist`` compares many names at a time in SIMD lanes; one ``extract`` per
        name over a universe of 278,000 taxa took ~50 ms), with at most :data:`_SCORES_BUDGET` bytes
        of scores at a time. The searches then run over those names only, with the same
        scorer, cutoff and order, so every answer is the same as without."""
        keys: dict[str, None] = {}
        for n in names:
            text = (n if isinstance(n, str) else str(n)).strip()
            if not text or (":" in text and " " not in text):
                continue  # empty, or an external id: never fuzzy
            key = _key(text)
            if key in self.exact or key in self.synonyms:
                continue
            ckey = clean_name(text)[0].casefold()
            if ckey and ckey not in self._near:
                keys[ckey] = None
        if not keys or not self._choices:
            return
        import numpy as np
        from rapidfuzz import fuzz, process

        floor = min(self.fuzzy_cutoff, UNMATCHED_CUTOFF)
        block = list(keys)
        if self._slices is None:  # the universe a slice at a time: bounded scores
            choices, cols = self._choices, max(1, _SCORES_BUDGET // (4 * 64))
            self._slices = [(j, choices[j:j + cols]) for j in range(0, len(choices), cols)]
        for i in range(0, len(block), 64):  # 64 names at a time: cdist packs them into SIMD lanes
            part = block[i:i + 64]
            near: list[list[np.ndarray]] = [[] for _ in part]
            for j, names in self._slices:
                scores = process.cdist(part, names, scorer=fuzz.ratio, dtype=np.float32, score_cutoff=floor - 0.01)
                for got, row in zip(near, scores):  # float32 scores: the margin keeps every name at the cutoff
                    got.append(np.flatnonzero(row >= floor - 0.01) + j)
            for k, got in zip(part, near):
                self._near[k] = (floor, np.concatenate(got).tolist())

    def _candidates(self, hits: list[tuple[str, float]]) -> list[dict[str, Any]]:
        return [{"taxon": i, "name": self.taxa[i].name, "score": round(s, 1)}
                for k, s in hits for i in self.exact[k]]

    def resolve_one(self, name: str, *, fuzzy: bool = True) -> NameMatch:
        """Resolve one name (never raises for a bad name: it comes back ``unmatched``)."""
        raw = name if isinstance(name, str) else str(name)
        if not raw.strip():
            return NameMatch(raw, "unmatched", flags=["empty name"])
        text = raw.strip()
        if ":" in text and " " not in text:  # an external id (CURIE or IRI)
            try:
                from ontologies.prefixes import expand

                iri = expand(text)
            except Exception:
                iri = text
            iris = self.external.get(iri) or ([iri] if iri in self.taxa else [])
            if len(iris) == 1:
                return self._hit(raw, "matched", iris[0], "external_id")
            if iris:
                return self._ambiguous(raw, iris, "external_id")
            return NameMatch(raw, "unmatched", flags=["unknown external id"])
        key = _key(text)
        for method, table in (("exact", self.exact), ("synonym", self.synonyms)):
            iris = table.get(key)
            if iris:
                return self._hit(raw, "matched", iris[0], method) if len(iris) == 1 else self._ambiguous(raw, iris, method)
        cleaned, flags = clean_name(text)
        ckey = cleaned.casefold()
        if ckey != key and cleaned:
            for method, table in (("exact", self.exact), ("synonym", self.synonyms)):
                iris = table.get(ckey)
                if iris and len(iris) == 1:
                    t = self.taxa.get(iris[0])
                    if t is not None and t.rank == "genus" and len(key.split()) > 1:  # "Danio sp."
                        return self._hit(raw, "approximate", iris[0], "genus", flags=flags + ["genus-level"])
                    return self._hit(raw, "approximate", iris[0], method, flags=flags)
        words = cleaned.split()
        if words:
            g = self.genera.get(words[0].casefold())
            if g is not None and (len(words) > 1 or ckey != key):
                near = self._fuzzy(ckey, limit=3) if fuzzy and len(words) > 1 else []
                return self._hit(raw, "approximate", g, "genus", flags=flags + ["genus-level"],
                                 candidates=self._candidates(near))
        if not fuzzy:
            return NameMatch(raw, "unmatched", flags=flags)
        hits = self._fuzzy(ckey)
        if hits:
            top = [h for h in hits if h[1] == hits[0][1]]
            iris = [i for k, _ in top for i in self.exact[k]]
            if len(iris) == 1:
                return self._hit(raw, "approximate", iris[0], "fuzzy", score=round(hits[0][1], 1),
                                 flags=flags + ["fuzzy"], candidates=self._candidates(hits[1:]))
            m = self._ambiguous(raw, iris, "fuzzy")
            m.score = round(hits[0][1], 1)
            return m
        return NameMatch(raw, "unmatched", flags=flags, candidates=self._candidates(self._fuzzy(ckey, 3, UNMATCHED_CUTOFF)))

    def resolve(self, names: Iterable[str], *, fuzzy: bool = True) -> list[NameMatch]:
        """One :class:`NameMatch` per name, in order; a failure on one name never stops the batch."""
        names = list(names)
        if fuzzy:
            self.prefetch(names)
        out = []
        for n in names:
            try:
                out.append(self.resolve_one(n, fuzzy=fuzzy))
            except Exception as exc:  # report it on that name, keep going
                out.append(NameMatch(str(n), "unmatched", flags=[f"error: {exc}"]))
        return out


_TAXA_QUERY = f"""
PREFIX tkg: <{TKG}>
PREFIX dwc: <{DWC}>
SELECT ?t ?name ?rank WHERE {{ ?t a tkg:Taxon ; dwc:scientificName ?name . OPTIONAL {{ ?t dwc:taxonRank ?rank }} }}"""
_SYN_QUERY = f"SELECT ?t ?s WHERE {{ ?t <{TKG_SYNONYM}> ?s }}"
#: external ids first, the taxon type checked per id (the engine otherwise walks every taxon first:
#: 3-6 s at 278,000 taxa with no external id at all; the same rows, up to duplicates, which the
#: resolver drops)
_EXT_QUERY = f"SELECT ?t ?x WHERE {{ ?t <{SKOS_EXACT}> ?x FILTER EXISTS {{ ?t a <{TKG_TAXON}> }} }}"
_TIPS_QUERY = """SELECT DISTINCT ?t ?l WHERE { ?n <http://purl.obolibrary.org/obo/CDAO_0000187> ?t ;
  <http://www.w3.org/2000/01/rdf-schema#label> ?l }"""


@dataclass
class NameUniverse:
    """What a store's resolver reads: its named taxa, then the tree tips not among them (``taxa``),
    the synonyms (name -> taxa) and the external ids (IRI -> taxa)."""

    taxa: list[TaxonName] | NameTable
    synonyms: dict[str, list[str]]
    external: dict[str, list[str]]


def _read_links(store: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    syn: dict[str, list[str]] = {}
    for t, s in store.select(_SYN_QUERY, union_default_graph=True).rows:
        syn.setdefault(s.value, []).append(t.value)
    ext: dict[str, list[str]] = {}
    for t, x in store.select(_EXT_QUERY, union_default_graph=True).rows:
        ext.setdefault(x.value, []).append(t.value)
    return syn, ext


def read_universe(store: Any) -> NameUniverse:
    """A store's :class:`NameUniverse`, read through SPARQL over the union of its graphs (every
    taxon and tip each time: :func:`kg.taxon_names.universe` keeps it per graph version instead)."""
    syn, ext = _read_links(store)
    taxa: list[TaxonName] = []
    for t, name, rank in store.select(_TAXA_QUERY, union_default_graph=True).rows:
        taxa.append(TaxonName(t.value, name.value, rank.value if rank is not None else None))
    known = {t.iri for t in taxa}
    for t, label in store.select(_TIPS_QUERY, union_default_graph=True).rows:
        if t.value not in known:
            known.add(t.value)
            taxa.append(TaxonName(t.value, normalise_name(label.value), None))
    return NameUniverse(taxa, syn, ext)


def resolver(store: Any, *, tree: Any = None, fuzzy_cutoff: float = 88.0,
             universe: NameUniverse | None = None) -> Resolver:
    """A :class:`Resolver` over the taxa in the store (taxonomy graphs and tree tips), or, with
    ``tree`` (a :class:`kg.trees.Tree`), over that tree's tips and their genera. ``universe``: the
    store's names when the caller has them (:func:`kg.taxon_names.universe`), else they are read
    here (:func:`read_universe`)."""
    if universe is None and tree is not None:
        syn, ext = _read_links(store)  # the tree gives the taxa
    else:
        universe = universe if universe is not None else read_universe(store)
        syn, ext, taxa = universe.synonyms, universe.external, universe.taxa
    if tree is not None:
        ix = tree.index
        genera: set[str] = set()
        taxa = []
        for i in ix.tips.tolist():
            nm = normalise_name(ix.names[i])
            if not nm:
                continue
            words = nm.split(" ")
            taxa.append(TaxonName(taxon_iri(nm), nm, "species" if len(words) >= 2 else None))
            if len(words) >= 2:
                genera.add(words[0])
        taxa.extend(TaxonName(taxon_iri(g), g, "genus") for g in sorted(genera))
        keep = {t.iri for t in taxa}
        syn = {s: [i for i in iris if i in keep] for s, iris in syn.items()}
        ext = {x: [i for i in iris if i in keep] for x, iris in ext.items()}
    return Resolver(taxa, synonyms={k: v for k, v in syn.items() if v},
                    external={k: v for k, v in ext.items() if v}, fuzzy_cutoff=fuzzy_cutoff)
