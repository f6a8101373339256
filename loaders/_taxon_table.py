"""The taxa of a classification table in compact form, and their triples as N-Triples chunks.

A table of 2.4M species holds ~2.7M taxa: one Python object per taxon with lists for its
synonyms, ids and vernacular names, and then one ``(NamedNode, NamedNode, Literal)`` tuple per
triple, cost ~9 KB a species. Here a taxon is an index: its name (one ``str``, the key of
:attr:`TaxonTable.index`), its rank code, parent index and line in arrays, and the few taxa that
have synonyms, ids, vernacular names or an authorship in small dicts keyed by index. The triples
go to the store as N-Triples chunks through its bulk path (:func:`kg.core.bulk.load_chunks`),
built a chunk at a time.

>>> t = TaxonTable(("family", "genus"))
>>> t.add("Danionidae", 0, -1, 2), t.add("Danio", 1, 0, 2)
(0, 1)
>>> t.record(1)
TaxonRecord(name='Danio', rank='genus', parent='Danionidae', line=2, synonyms=[], external=[], vernacular=[], authorship=None)
>>> print(b"".join(c for c, _ in ntriples_chunks(t)).decode().splitlines()[4])
<https://w3id.org/traitkg/taxon/Danio> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/traitkg/schema#Taxon> .
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from kg.core.names import DWC, SKOS_EXACT, TKG_PARENT_TAXON, TKG_SYNONYM, TKG_TAXON, taxon_iris

_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
#: taxa per N-Triples chunk (~5 triples each, ~250k triples, ~30 MB): one bulk load each, two at once on
#: two cores; the engine's bulk load holds a few hundred bytes a triple while it sorts, so the chunk
#: bounds the write's memory (0.4 GB at 100k taxa, half that at 50k: bench/taxonomy_tree_scale.py)
CHUNK_TAXA = 50_000


@dataclass
class TaxonRecord:
    name: str
    rank: str
    parent: str | None = None
    line: int = 0
    synonyms: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    vernacular: list[str] = field(default_factory=list)
    authorship: str | None = None


class TaxonTable:
    """Taxa by index in the order they were first named: ``index`` (name -> index), ``names``,
    ``rank`` (codes into ``ranks``), ``parent`` (index, -1 for none), ``line`` (first row), and
    ``synonyms``, ``external``, ``vernacular`` (index -> list), ``authorship`` (index -> str) for
    the taxa that have them."""

    def __init__(self, ranks: Sequence[str]) -> None:
        self.ranks = tuple(ranks)
        self.index: dict[str, int] = {}
        self.names: list[str] = []
        self.rank = bytearray()
        self.parent = array("q")
        self.line = array("q")
        self.synonyms: dict[int, list[str]] = {}
        self.external: dict[int, list[str]] = {}
        self.vernacular: dict[int, list[str]] = {}
        self.authorship: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.names)

    def add(self, name: str, rank: int, parent: int, line: int) -> int:
        """A new taxon (``name`` not yet in the table); its index."""
        i = len(self.names)
        self.index[name] = i
        self.names.append(name)
        self.rank.append(rank)
        self.parent.append(parent)
        self.line.append(line)
        return i

    def name_of(self, i: int) -> str | None:
        return self.names[i] if i >= 0 else None

    def record(self, i: int) -> TaxonRecord:
        """Taxon ``i`` as one object (small tables, the Python API; the load never builds these)."""
        return TaxonRecord(self.names[i], self.ranks[self.rank[i]], self.name_of(self.parent[i]), self.line[i],
                           list(self.synonyms.get(i, ())), list(self.external.get(i, ())),
                           list(self.vernacular.get(i, ())), self.authorship.get(i))

    def rank_counts(self) -> dict[str, int]:
        """Taxa per rank, in the order the ranks first appear."""
        counts = [0] * len(self.ranks)
        for r in self.rank:
            counts[r] += 1
        order = dict.fromkeys(self.rank)
        return {self.ranks[r]: counts[r] for r in order}

    def triple_count(self) -> int:
        """The distinct triples :func:`ntriples_chunks` writes (names are distinct, so are IRIs)."""
        n = 4 * len(self.names) + sum(1 for p in self.parent if p >= 0)
        n += sum(map(len, self.synonyms.values())) + sum(map(len, self.vernacular.values()))
        n += len(self.authorship) + sum(len(dict.fromkeys(x)) for x in self.external.values())
        return n


def _lit(text: str) -> str:
    """An N-Triples string literal."""
    if '"' in text or "\\" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{text}"'


def ntriples_chunks(table: TaxonTable, chunk: int = CHUNK_TAXA) -> Iterator[tuple[bytes, int]]:
    """The taxa's triples as ``(N-Triples bytes, triples)`` chunks of ``chunk`` taxa, in table order:
    ``rdf:type tkg:Taxon``, ``dwc:scientificName``, ``rdfs:label``, ``dwc:taxonRank``,
    ``tkg:parentTaxon``, then synonyms, vernacular names, authorship and exact matches."""
    typ = f"<{_RDF_TYPE}> <{TKG_TAXON}> ."
    sci, label, rank_p = f"<{DWC}scientificName>", f"<{_RDFS_LABEL}>", f"<{DWC}taxonRank>"
    parent_p, syn_p, exact = f"<{TKG_PARENT_TAXON}>", f"<{TKG_SYNONYM}>", f"<{SKOS_EXACT}>"
    vern_p, auth_p = f"<{DWC}vernacularName>", f"<{DWC}scientificNameAuthorship>"
    rank_lit = [_lit(r) for r in table.ranks]
    names, ranks, parents = table.names, table.rank, table.parent
    extras = (table.synonyms, table.vernacular, table.authorship, table.external)
    for lo in range(0, len(names), chunk):
        hi = min(len(names), lo + chunk)
        iris = [f"<{x}>" for x in taxon_iris(names[lo:hi])]
        parent_iris: dict[int, str] = {}
        out: list[str] = []
        add = out.append
        for k, i in enumerate(range(lo, hi)):
            t, name = iris[k], names[i]
            q = _lit(name)
            add(f"{t} {typ}\n{t} {sci} {q} .\n{t} {label} {q} .\n{t} {rank_p} {rank_lit[ranks[i]]} .")
            p = parents[i]
            if p >= 0:
                if lo <= p < hi:
                    add(f"{t} {parent_p} {iris[p - lo]} .")
                else:
                    add(f"{t} {parent_p} {parent_iris.get(p) or parent_iris.setdefault(p, _parent_iri(names[p]))} .")
            if (i in extras[0] or i in extras[1] or i in extras[2] or i in extras[3]):
                out += [f"{t} {syn_p} {_lit(s)} ." for s in table.synonyms.get(i, ())]
                out += [f"{t} {vern_p} {_lit(v)} ." for v in table.vernacular.get(i, ())]
                if i in table.authorship:
                    add(f"{t} {auth_p} {_lit(table.authorship[i])} .")
                out += [f"{t} {exact} <{x}> ." for x in dict.fromkeys(table.external.get(i, ()))]
        data = ("\n".join(out) + "\n").encode()
        del out, iris, parent_iris  # only the bytes are held while the store loads them
        yield data, data.count(b"\n")


def _parent_iri(name: str) -> str:
    return f"<{taxon_iris([name])[0]}>"
