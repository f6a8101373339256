"""Keys as stored: list them, find one, and read it back into a :class:`loaders.keymodel.Key`.

A key is named ``<project>/<key id>`` (``flora-of-victoria/1903``, ``key-fish-orders/key-fish-orders``);
a bare key id, a project holding a single key, or a key's title also work when unambiguous.
Only the latest version of each ``key`` graph is read.

Finding and reading one key costs the same whatever else is loaded: every query binds the key's
IRI (or its id, project or title) and, once known, its graph, and each pattern starts from the
bound node (no OPTIONAL, whose right-hand side the engine may evaluate over every key); only a
reference that matches nothing falls back to the list of every key, to suggest names.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.errors import NotFound
from kg.core.graphs import BASE, TKG, list_graphs
from kg.core.store import Literal, NamedNode, Store
from loaders.keymodel import KEY_NS, Key, Lead, key_iri, project_iri

_PREFIX = f"PREFIX tkg: <{TKG}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_RDFS_LABEL = _RDFS + "label"
_DCT = "http://purl.org/dc/terms/"
_DEPICTION = "http://xmlns.com/foaf/0.1/depiction"
_GRAPH_NS = BASE + "graph/key/"

_LIST = _PREFIX + """SELECT ?g ?k ?id ?title ?scope (COUNT(?l) AS ?leads) WHERE { GRAPH ?g {
  ?k a tkg:IdentificationKey ; tkg:keyId ?id ; rdfs:label ?title .
  OPTIONAL { ?k tkg:keyScope/rdfs:label ?scope }
  OPTIONAL { ?c tkg:inKey ?k . ?l tkg:inCouplet ?c } } } GROUP BY ?g ?k ?id ?title ?scope"""

# where a key is: by its IRI, its id, its project or its title (one bound value each)
_WHERE = {
    "iri": _PREFIX + "SELECT ?g ?k WHERE { GRAPH ?g { ?k a tkg:IdentificationKey } }",
    "id": _PREFIX + "SELECT ?g ?k WHERE { GRAPH ?g { ?k tkg:keyId ?v . ?k a tkg:IdentificationKey } }",
    "project": _PREFIX + "SELECT ?g ?k WHERE { GRAPH ?g { ?k tkg:inProject ?v . ?k a tkg:IdentificationKey } }",
    "title": _PREFIX + "SELECT ?g ?k WHERE { GRAPH ?g { ?k rdfs:label ?v . ?k a tkg:IdentificationKey } }",
}

# every triple of one key: the key, its scope and media, couplets, leads, and what leads point to
_READ = _PREFIX + f"""SELECT ?s ?p ?o WHERE {{ GRAPH ?g {{
  {{ ?k ?p ?o BIND(?k AS ?s) }}
  UNION {{ ?k tkg:keyScope|<{_DEPICTION}> ?s . ?s ?p ?o }}
  UNION {{ ?s tkg:inKey ?k . ?s ?p ?o }}
  UNION {{ ?c tkg:inKey ?k . ?s tkg:inCouplet ?c . ?s ?p ?o }}
  UNION {{ ?c tkg:inKey ?k . ?l tkg:inCouplet ?c .
          ?l tkg:keysOut|tkg:shortcut|tkg:leadsTo|<{_DEPICTION}> ?s . ?s ?p ?o }} }} }}"""


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


def _latest_key_graphs(store: Store, name: str | None = None) -> set[str]:
    latest: dict[str, Any] = {}
    for g in list_graphs(store, kind="key", name=name):
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


def _where(store: Store, how: str, value: Any) -> list[tuple[str, str]]:
    """(graph, key IRI) of the keys one bound value names, in the latest version of their graph."""
    rows = store.select(_WHERE[how], {"k" if how == "iri" else "v": value}).values()
    latest: dict[str, set[str]] = {}
    out = []
    for g, k in rows:
        name = g[len(_GRAPH_NS):].split("/", 1)[0] if g.startswith(_GRAPH_NS) else None
        if name not in latest:
            latest[name] = _latest_key_graphs(store, name)
        if g in latest[name]:
            out.append((g, k))
    return sorted(set(out))


def locate(store: Store, ref: str, keys: Any = None) -> tuple[str, str]:
    """The (graph, key IRI) a reference names: ``project/id``, a key id, a project with one key, or a
    title (exact; a title in other letter case and the suggestions for a miss read the key list,
    ``keys()`` when given)."""
    r = ref.strip()
    tries: list[tuple[str, Any]] = []
    if "/" in r:
        project, kid = r.split("/", 1)
        tries.append(("iri", NamedNode(key_iri(project, kid))))
    tries += [("id", Literal(r)), ("project", NamedNode(project_iri(r))), ("title", Literal(r))]
    for how, value in tries:
        hits = _where(store, how, value)
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise NotFound(f"key {ref!r} is ambiguous: {', '.join(ref_of(k) for _g, k in hits[:8])}")
    info = find_key(store, r, keys() if keys else None)
    return info.graph, info.iri


def find_key(store: Store, ref: str, keys: list[KeyInfo] | None = None) -> KeyInfo:
    """The key a reference names, looked up in the list of every key (``project/id``, a key id,
    a project with one key, or a title in any letter case); a miss suggests near names."""
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


def _media(node: str, triples: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    t = triples.get(node, {})

    def one(p: str) -> str:
        return (t.get(p) or [""])[0]

    return {"id": urllib.parse.unquote(node.rsplit("/", 1)[-1]), "href": one(_DCT + "source"),
            "label": one(_RDFS_LABEL), "type": one(_DCT + "type")}


def read_key(store: Store, graph: str, iri: str) -> StoredKey:
    """Read one key back (one query bound to its IRI and graph): couplets and leads (first couplet
    first, then source order), sub-keys, reticulations, questions, media and metadata."""
    rows = store.select(_READ, {"k": NamedNode(iri), "g": NamedNode(graph)}).values()
    if not rows:
        raise NotFound(f"no key {ref_of(iri)!r} in graph {graph}")
    triples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for s, p, o in dict.fromkeys(rows):
        triples[s][p].append(o)

    def one(node: str, local: str, ns: str = TKG) -> str | None:
        v = triples.get(node, {}).get(ns + local)
        return v[0] if v else None

    k = triples[iri]
    couplet_no = {c: one(c, "coupletNumber") for c, t in triples.items() if iri in t.get(TKG + "inKey", ())}
    first_c = couplet_no.get(one(iri, "firstCouplet") or "")
    leads: list[Lead] = []
    order: dict[str, int] = {}
    subkeys: dict[str, list[str]] = {}
    for node, t in triples.items():
        c = next((x for x in t.get(TKG + "inCouplet", ()) if x in couplet_no), None)
        if c is None:
            continue
        lid = one(node, "leadId") or ""
        item = one(one(node, "keysOut") or "", "label", _RDFS)
        line = one(node, "sourceLine")
        lead = Lead(lid, couplet_no[c] or "", one(node, "statement") or "", one(node, "toText") or "",
                    item=item, line=int(line) if line else None)
        lead.shortcut = sorted(x for s in t.get(TKG + "shortcut", ()) if (x := one(s, "label", _RDFS)))
        subs = sorted(t.get(TKG + "subKey", ()))
        if subs:
            subkeys[lid] = [ref_of(x) for x in subs]
        for target in t.get(TKG + "leadsTo", ()):
            if target in couplet_no:
                lead.to_couplet = couplet_no[target]
            elif subs and not item:  # a reticulation into another key: a hand-over at that couplet
                lead.subkey_couplet = one(target, "coupletNumber")
        if subs and not item:
            lead.subkey = ref_of(subs[0])
        if one(node, "isReticulation") in ("true", "1"):
            lead.reticulation = lead.to
        if lead.to_couplet is None and not item and not subs and lead.to and not lead.reticulation:
            lead.to_couplet = lead.to  # a dead end: the couplet number as written
        lead.media = sorted((_media(m, triples) for m in t.get(_DEPICTION, ())), key=lambda m: m["id"])
        order[lid] = int(one(node, "leadOrder") or 0)
        leads.append(lead)
    leads.sort(key=lambda x: (x.couplet != first_c, x.line if x.line is not None else 0, _natural(x.couplet),
                              order[x.id]))
    scope_node = one(iri, "keyScope")
    info = KeyInfo(ref_of(iri), one(iri, "label", _RDFS) or one(iri, "keyId") or "",
                   one(scope_node, "label", _RDFS) if scope_node else None, len(leads), graph, iri)
    key = Key(info.ref, title=info.title, leads=leads, scope=info.scope, source=graph,
              metadata={p[len(_DCT):]: v[0] for p, v in k.items() if p.startswith(_DCT) and p != _DCT + "source"},
              questions={couplet_no[c]: q for c in couplet_no if (q := one(c, "question")) and couplet_no[c]},
              media=sorted((_media(m, triples) for m in k.get(_DEPICTION, ())), key=lambda m: m["id"]))
    return StoredKey(info, key, subkeys)
