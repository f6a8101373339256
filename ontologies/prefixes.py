"""The one prefix map: CURIEs in Python and JSON, IRIs at the store boundary.

>>> expand("UBERON:0000151")
'http://purl.obolibrary.org/obo/UBERON_0000151'
>>> contract("http://purl.obolibrary.org/obo/UBERON_0000151")
'UBERON:0000151'
>>> expand("UBRON:1")
Traceback (most recent call last):
...
kg.core.errors.UnknownPrefix: unknown prefix 'UBRON' in 'UBRON:1'. Did you mean UBERON?
"""

from __future__ import annotations

import difflib
import functools
import re

from kg.core.errors import UnknownPrefix
from kg.core.graphs import BASE, TKG

OBO = "http://purl.obolibrary.org/obo/"
#: OBO Foundry ontologies whose ids expand to ``OBO + PREFIX_LOCAL``.
OBO_PREFIXES = (
    "UBERON", "PATO", "BSPO", "ZFA", "ZFS", "TAO", "RO", "BFO", "IAO", "OBI", "VTO", "NCBITaxon",
    "CL", "GO", "CHEBI", "AISM", "LEPAO", "COLAO", "HAO", "TTO", "CARO", "OBA", "UPHENO", "ENVO", "COB",
    "PHENOSCAPE", "OMO", "NCIT", "PR", "SO", "HP", "MP", "FBbt", "WBbt", "XAO", "AAO", "MA", "EMAPA", "TADS",
    "FMA", "PO", "SPD", "OGMS", "ECO", "OBA", "GAZ", "UO", "CDAO",
)

PREFIXES: dict[str, str] = {p: f"{OBO}{p}_" for p in OBO_PREFIXES}
PREFIXES.update({
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
    "dwc": "http://rs.tdwg.org/dwc/terms/",
    "ps": "http://purl.org/phenoscape/vocab.owl#",
    "obo": OBO,
    "OTT": "https://tree.opentreeoflife.org/opentree/ottol@",
    "GBIF": "https://www.gbif.org/species/",
    "ark": "https://n2t.net/ark:",
    "tkg": TKG,
    "taxon": BASE + "taxon/",
    "tree": BASE + "tree/",
    "image": BASE + "image/",
    "prediction": BASE + "prediction/",
    "key": BASE + "key/",
    "hypothesis": BASE + "hypothesis/",
    "graph": BASE + "graph/",
    "traitkg": BASE,
})
# Common relation labels people type.
RELATIONS = {
    "part_of": OBO + "BFO_0000050",
    "has_part": OBO + "BFO_0000051",
    "develops_from": OBO + "RO_0002202",
    "is_a": PREFIXES["rdfs"] + "subClassOf",
}
_BY_NS = sorted(((ns, p) for p, ns in PREFIXES.items()), key=lambda x: -len(x[0]))
_CURIE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*):(.*)$")
_LOWER = {p.lower(): p for p in PREFIXES}


def is_iri(text: str) -> bool:
    return text.startswith(("http://", "https://", "urn:", "file:"))


def expand(curie: str) -> str:
    """CURIE (or IRI, or ``<IRI>``) -> IRI. Unknown prefixes raise with a suggestion."""
    text = curie.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    if is_iri(text):
        return text
    if text.startswith("ark:/"):
        return "https://n2t.net/" + text
    m = _CURIE.match(text)
    if not m:
        raise UnknownPrefix(f"{curie!r} is neither a CURIE (PREFIX:ID) nor an IRI")
    prefix, local = m.groups()
    ns = PREFIXES.get(prefix) or PREFIXES.get(_LOWER.get(prefix.lower(), ""))
    if ns is None:
        near = difflib.get_close_matches(prefix, list(PREFIXES), n=3, cutoff=0.6) or \
            difflib.get_close_matches(prefix.upper(), list(PREFIXES), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(near)}?" if near else f" Known prefixes: {', '.join(sorted(PREFIXES)[:30])}…"
        raise UnknownPrefix(f"unknown prefix {prefix!r} in {curie!r}.{hint}")
    return ns + local


@functools.lru_cache(maxsize=1 << 16)
def contract(iri: str) -> str:
    """IRI -> CURIE where a prefix matches; the IRI itself otherwise (remembered: answers
    contract the same terms again and again)."""
    if iri.startswith("https://n2t.net/ark:/"):
        return iri[len("https://n2t.net/"):]
    for ns, prefix in _BY_NS:
        if iri.startswith(ns) and len(iri) > len(ns):
            local = iri[len(ns):]
            if prefix == "obo" and "_" in local:  # an OBO id from an ontology not in the map
                p, _, rest = local.partition("_")
                return f"{p}:{rest}"
            return f"{prefix}:{local}"
    return iri


def sparql_prologue(*prefixes: str) -> str:
    """``PREFIX`` lines for the given prefixes (all when none given)."""
    names = prefixes or tuple(PREFIXES)
    return "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in names)


_USED = re.compile(r"(?<![\w<#/.:-])([A-Za-z][A-Za-z0-9_.-]*):")


def prologue_for(text: str) -> str:
    """``PREFIX`` lines for the known prefixes that ``text`` uses (user declarations win, as
    they come later).

    >>> prologue_for("SELECT * WHERE { ?c rdfs:subClassOf UBERON:0008897 }").splitlines()[0]
    'PREFIX UBERON: <http://purl.obolibrary.org/obo/UBERON_>'
    """
    used = sorted({m.group(1) for m in _USED.finditer(text)} & PREFIXES.keys())
    return sparql_prologue(*used) if used else ""
