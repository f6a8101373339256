"""Keys as stored: list them, and read one back into a :class:`loaders.keymodel.Key`.

A key is named ``<project>/<key id>`` (``flora-of-victoria/1903``, ``key-fish-orders/key-fish-orders``);
a bare key id, a project holding a single key, or a key's title also work when unambiguous.
Only the latest version of each ``key`` graph is read.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.errors import NotFound
from kg.core.graphs import TKG, list_graphs
from kg.core.store import NamedNode, Store
from loaders.keymodel import KEY_NS, Key, Lead

_PREFIX = f"PREFIX tkg: <{TKG}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "

_LIST = _PREFIX + """SELECT ?g ?k ?id ?title ?scope (COUNT(?l) AS ?leads) WHERE { GRAPH ?g {
  ?k a tkg:IdentificationKey ; tkg:keyId ?id ; rdfs:label ?title .
  OPTIONAL { ?k tkg:keyScope/rdfs:label ?scope }
  OPTIONAL { ?c tkg:inKey ?k . ?l tkg:inCouplet ?c } } } GROUP BY ?g ?k ?id ?title ?scope"""

_LEADS = _PREFIX + """SELECT ?g ?cn ?lid ?ord ?st ?to ?tc ?item ?line WHERE { GRAPH ?g {
  ?c tkg:inKey ?k ; tkg:coupletNumber ?cn . ?l tkg:inCouplet ?c ; tkg:leadId ?lid ; tkg:leadOrder ?ord ;
  tkg:statement ?st ; tkg:toText ?to .
  OPTIONAL { ?l tkg:leadsTo/tkg:coupletNumber ?tc }
  OPTIONAL { ?l tkg:keysOut/rdfs:label ?item }
  OPTIONAL { ?l tkg:sourceLine ?line } } }"""

_EXTRA = _PREFIX + """SELECT ?g ?lid ?what ?v WHERE { GRAPH ?g { ?c tkg:inKey ?k . ?l tkg:inCouplet ?c ; tkg:leadId ?lid .
  { ?l tkg:shortcut/rdfs:label ?v BIND("shortcut" AS ?what) }
  UNION { ?l tkg:subKey ?v BIND("subkey" AS ?what) } } }"""

_FIRST = _PREFIX + "SELECT ?g ?fc WHERE { GRAPH ?g { ?k tkg:firstCouplet/tkg:coupletNumber ?fc } }"


@dataclass
class KeyInfo:
    """One stored key: its reference, title, scope, size and graph."""

    ref: str
    title: str
    scope: str | None
    leads: int
    graph: str
    iri: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StoredKey:
    """A key read from the store: the key, where it lives, and each lead's sub-keys (refs)."""

    info: KeyInfo
    key: Key
    subkeys: dict[str, list[str]] = field(default_factory=dict)


def ref_of(iri: str) -> str:
    """``<BASE>key/<project>/<id>`` -> ``<project>/<id>`` (unquoted).

    >>> ref_of(KEY_NS + "flora-of-victoria/1903")
    'flora-of-victoria/1903'
    """
    return urllib.parse.unquote(iri[len(KEY_NS):]) if iri.startswith(KEY_NS) else iri


def _latest_key_graphs(store: Store) -> set[str]:
    latest: dict[str, Any] = {}
    for g in list_graphs(store, kind="key"):
        if g.name not in latest or (g.ended or "") > (latest[g.name].ended or ""):
            latest[g.name] = g
    return {g.iri for g in latest.values()}


def list_keys(store: Store) -> list[KeyInfo]:
    """Every key in the latest version of each ``key`` graph, sorted by reference."""
    graphs = _latest_key_graphs(store)
    if not graphs:
        return []
    out = []
    for g, k, kid, title, scope, n in store.select(_LIST).values():
        if g in graphs:
            out.append(KeyInfo(ref_of(k), title or kid, scope, int(n or 0), g, k))
    return sorted(out, key=lambda i: _natural(i.ref))


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def find_key(store: Store, ref: str, keys: list[KeyInfo] | None = None) -> KeyInfo:
    """The key a reference names: ``project/id``, a key id, a project with one key, or a title."""
    keys = list_keys(store) if keys is None else keys
    r = ref.strip()
    for test in (lambda i: i.ref == r, lambda i: i.ref.split("/", 1)[1] == r if "/" in i.ref else False,
                 lambda i: i.ref.split("/", 1)[0] == r, lambda i: i.title.lower() == r.lower()):
        hits = [i for i in keys if test(i)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise NotFound(f"key {ref!r} is ambiguous: {', '.join(h.ref for h in hits[:8])}")
    import difflib

    near = difflib.get_close_matches(r, [i.ref for i in keys] + [i.title for i in keys], n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else (
        "" if keys else "; no keys are loaded (traitkg load key FILE)")
    raise NotFound(f"no key {ref!r}{hint}")


def read_key(store: Store, info: KeyInfo) -> StoredKey:
    """Read one key's couplets and leads back (first couplet first, then source order)."""
    # only ?k is bound: binding the graph too makes the store scan it (0.44 s against 0.07 s for
    # a 14-lead key in the 161k-triple VicFlora graph); rows of other versions are dropped here
    b = {"k": NamedNode(info.iri)}

    def rows_of(q: str) -> list[tuple]:
        return [r[1:] for r in store.select(q, b).values() if r[0] == info.graph]

    first = rows_of(_FIRST)
    first_c = first[0][0] if first else None
    rows = rows_of(_LEADS)
    leads: list[Lead] = []
    for cn, lid, _order, st, to, tc, item, line in rows:
        leads.append(Lead(lid, cn, st, to, to_couplet=tc or (to if not item and to else None), item=item,
                          line=int(line) if line else None))
    order = {r[1]: int(r[2]) for r in rows}
    leads.sort(key=lambda x: (x.couplet != first_c, x.line if x.line is not None else 0, _natural(x.couplet),
                              order[x.id]))
    by_id = {x.id: x for x in leads}
    subkeys: dict[str, list[str]] = {}
    for lid, what, v in rows_of(_EXTRA):
        if what == "shortcut" and lid in by_id:
            by_id[lid].shortcut.append(v)
        elif what == "subkey":
            subkeys.setdefault(lid, []).append(ref_of(v))
    key = Key(info.ref, title=info.title, leads=leads, scope=info.scope, source=info.graph)
    return StoredKey(info, key, subkeys)
