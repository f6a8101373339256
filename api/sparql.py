"""The W3C SPARQL 1.1 Protocol at ``/sparql``.

Queries arrive by GET (``?query=``), POST form-encoded or POST ``application/sparql-query``, with
``default-graph-uri`` / ``named-graph-uri``. Answers are content-negotiated (SELECT/ASK: SPARQL
JSON, XML, CSV, TSV; CONSTRUCT/DESCRIBE: Turtle, N-Triples, RDF/XML, JSON-LD; ``format=`` overrides
the Accept header). The default graph is the union of all graphs. Every query runs under the
configured time and result limits (an answer over either is an error naming the setting, never
a cut answer); ``SERVICE`` is refused unless allow-listed; updates answer 403
unless enabled and authorised. Without a query, GET answers the service description.

>>> negotiate("text/csv;q=0.9, application/sparql-results+json", "SELECT")
'json'
>>> negotiate("text/turtle", "SELECT") is None
True
>>> service_targets('SELECT * { SERVICE <http://x/sparql> { ?s ?p ?o } } # SERVICE <http://y>')
['http://x/sparql']
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import check_token, get_kg, get_runner, get_settings
from api.errors import PROBLEM, NotAcceptable, ServiceRefused, UnsupportedMediaType, problem_responses
from api.query_pool import QueryJob
from api.sparql_results import GRAPH_TYPES, RESULT_TYPES
from kg.core.errors import QueryError
from kg.core.store import query_kind

log = logging.getLogger(__name__)
router = APIRouter(tags=["sparql"])

# media type -> format name, per answer kind (aliases included)
_RESULT_ACCEPT = {
    "application/sparql-results+json": "json", "application/json": "json", "text/javascript": "json",
    "application/javascript": "json",
    "application/sparql-results+xml": "xml", "application/xml": "xml", "text/xml": "xml",
    "text/csv": "csv", "text/tab-separated-values": "tsv",
}
_GRAPH_ACCEPT = {
    "text/turtle": "turtle", "application/x-turtle": "turtle", "application/turtle": "turtle",
    "application/n-triples": "ntriples", "text/plain": "ntriples",
    "application/rdf+xml": "rdfxml", "application/xml": "rdfxml", "text/xml": "rdfxml",
    "application/ld+json": "jsonld", "application/json": "jsonld",
}
_FORMAT_ALIASES = {"srj": "json", "srx": "xml", "ttl": "turtle", "nt": "ntriples", "n-triples": "ntriples",
                   "xml": "xml", "rdf": "rdfxml", "rdf/xml": "rdfxml", "json-ld": "jsonld"}


def _parse_accept(header: str | None) -> list[tuple[str, float]]:
    out = []
    for i, part in enumerate((header or "*/*").split(",")):
        bits = [b.strip() for b in part.split(";")]
        mt = bits[0].lower()
        if not mt:
            continue
        q = 1.0
        for b in bits[1:]:
            if b.lower().startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        out.append((mt, q - i * 1e-6))  # stable: earlier wins among equals
    return sorted(out, key=lambda x: -x[1])


def negotiate(accept: str | None, kind: str) -> str | None:
    """The format name to answer a ``kind`` query with, or None when nothing acceptable."""
    table = _GRAPH_ACCEPT if kind in ("CONSTRUCT", "DESCRIBE") else _RESULT_ACCEPT
    default = "turtle" if table is _GRAPH_ACCEPT else "json"
    for mt, q in _parse_accept(accept):
        if q <= 0:
            continue
        if mt in ("*/*", "application/*", "text/*") and (mt == "*/*" or default_type(default).startswith(mt[:-1])):
            return default
        if mt in table:
            return table[mt]
    return None


def default_type(fmt: str) -> str:
    return {**RESULT_TYPES, **GRAPH_TYPES}[fmt]


# --------------------------------------------------------------------------- SERVICE

_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^\\]|\\.)*?\"\"\"|'''(?:[^\\]|\\.)*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<service>\bSERVICE\b)
  | (?P<prefix>\bPREFIX\s+(?P<pname>[A-Za-z][\w.-]*)?:\s*<(?P<pns>[^<>\s]*)>)
  | (?P<other>[^\s])
""", re.VERBOSE | re.IGNORECASE | re.DOTALL)


_AFTER_SERVICE = re.compile(r"\s*(?:SILENT\s*)?(?:<([^<>\s]*)>|[?$]\w+|([A-Za-z][\w.-]*)?:([\w.-]*))", re.IGNORECASE)


def service_targets(sparql: str) -> list[str | None]:
    """The endpoints a query's ``SERVICE`` clauses name (None for a variable or unresolvable name).

    Comments, strings and IRIs are skipped, so the word SERVICE inside them does not count.
    """
    prefixes: dict[str, str] = {}
    targets: list[str | None] = []
    for m in _TOKENS.finditer(sparql):
        if m.group("prefix"):
            prefixes[m.group("pname") or ""] = m.group("pns")
        elif m.group("service"):
            t = _AFTER_SERVICE.match(sparql, m.end())
            if t is None:
                targets.append(None)
            elif t.group(1) is not None:
                targets.append(t.group(1))
            elif t.group(3) is not None and (t.group(2) or "") in prefixes:
                targets.append(prefixes[t.group(2) or ""] + t.group(3))
            else:
                targets.append(None)
    return targets


def check_services(sparql: str, allowlist: list[str]) -> None:
    """Refuse ``SERVICE`` clauses whose endpoint is not allow-listed (a variable never is)."""
    for target in service_targets(sparql):
        if target is None:
            raise ServiceRefused("SERVICE with a variable or unknown prefix is refused: this endpoint does not "
                                 "fetch URLs on a caller's behalf", allowlist=allowlist)
        if not any(target.startswith(a) for a in allowlist):
            raise ServiceRefused(f"SERVICE <{target}> is refused: federated queries may only call allow-listed "
                                 f"endpoints ({', '.join(allowlist) or 'none configured'}; "
                                 "TRAITKG_SERVICE_ALLOWLIST)", allowlist=allowlist)


# --------------------------------------------------------------------------- requests

def _with_prefixes(sparql: str) -> str:
    """Declare the project's prefixes the query uses but does not declare (on the first line)."""
    from ontologies.prefixes import PREFIXES

    declared = {m.group(1) or "" for m in re.finditer(r"\bPREFIX\s+([\w.-]*):", sparql, re.IGNORECASE)}
    used = {m.group(1) for m in re.finditer(r"(?<![\w<?$:/#.-])([A-Za-z][\w-]*):", sparql)}
    extra = [p for p in sorted(used - declared) if p in PREFIXES]
    if not extra:
        return sparql
    return " ".join(f"PREFIX {p}: <{PREFIXES[p]}>" for p in extra) + " " + sparql


def _iris(values: list[str], what: str) -> list[str]:
    from kg.core.store import NamedNode

    for v in values:
        try:
            NamedNode(v)
        except ValueError:
            raise QueryError(f"{what} {v!r} is not an absolute IRI") from None
    return values


def _answer(request: Request, sparql: str, defaults: list[str], nameds: list[str], fmt: str | None) -> Response:
    settings = get_settings(request)
    if not sparql.strip():
        raise QueryError("empty query: send a SPARQL query in 'query'")
    check_services(sparql, settings.service_allowlist)
    kind = query_kind(sparql)
    accept = request.headers.get("accept")
    chosen = None
    if fmt:
        name = _FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
        ok = set(GRAPH_TYPES) if kind in ("CONSTRUCT", "DESCRIBE") else set(RESULT_TYPES)
        if name not in ok:
            raise NotAcceptable(f"format={fmt!r} is not available for a {kind} query; expected one of "
                                f"{', '.join(sorted(ok))}")
        chosen = name
    else:
        chosen = negotiate(accept, kind)
    if chosen is None:
        offered = list(GRAPH_TYPES.values()) if kind in ("CONSTRUCT", "DESCRIBE") else list(RESULT_TYPES.values())
        raise NotAcceptable(f"cannot answer a {kind} query as {accept!r}; acceptable: {', '.join(offered)}",
                            acceptable=offered)
    job = QueryJob(_with_prefixes(sparql), chosen if chosen in RESULT_TYPES else "json",
                   chosen if chosen in GRAPH_TYPES else "turtle", _iris(defaults, "default-graph-uri"),
                   _iris(nameds, "named-graph-uri"), settings.result_limit)
    ans = get_runner(request).run(job, settings.query_timeout)  # over a limit: api.errors says why 503 / 403
    headers = {"X-TraitKG-Result-Count": str(ans.count), "Vary": "Accept"}
    media = ans.media_type + ("; charset=utf-8" if ans.media_type.startswith("text/") else "")
    return Response(ans.body, media_type=media, headers=headers)


def _update(request: Request, sparql: str) -> Response:
    settings = get_settings(request)
    if not settings.sparql_update:
        from api.errors import Forbidden

        raise Forbidden("this SPARQL endpoint is read-only; updates are disabled (TRAITKG_SPARQL_UPDATE)")
    check_token(settings, request.headers.get("authorization"))
    check_services(sparql, settings.service_allowlist)
    from api.deps import writing

    with writing(request) as kg:
        kg.store.update(sparql)
    return Response(status_code=204)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The answer, in the negotiated format.",
          "content": {**{mt: {} for mt in RESULT_TYPES.values()}, **{mt: {} for mt in GRAPH_TYPES.values()}}},
    **problem_responses(400, 403, 406, 415, 503),  # 403: also an answer over TRAITKG_RESULT_LIMIT
}


@router.get("/sparql", responses=_RESPONSES, summary="SPARQL 1.1 query (GET) or the service description")
def sparql_get(
    request: Request,
    query: Annotated[str | None, Query(description="The SPARQL query. Without it: the service description.")] = None,
    default_graph_uri: Annotated[list[str], Query(alias="default-graph-uri")] = [],  # noqa: B006
    named_graph_uri: Annotated[list[str], Query(alias="named-graph-uri")] = [],  # noqa: B006
    format: Annotated[str | None, Query(description="Answer format, overriding Accept: json, xml, csv, tsv, "
                                                    "turtle, ntriples, rdfxml, jsonld.")] = None,
) -> Response:
    if "update" in request.query_params:
        raise QueryError("SPARQL updates are sent by POST (SPARQL 1.1 Protocol, section 2.2), never by GET; "
                         "this GET request carries 'update' and was not run")
    if query is None:
        return service_description(request)
    return _answer(request, query, default_graph_uri, named_graph_uri, format)


_POST_BODY = {"requestBody": {"content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
        "query": {"type": "string"}, "update": {"type": "string"},
        "default-graph-uri": {"type": "array", "items": {"type": "string"}},
        "named-graph-uri": {"type": "array", "items": {"type": "string"}}}}},
    "application/sparql-query": {"schema": {"type": "string"}},
    "application/sparql-update": {"schema": {"type": "string"}},
}, "required": True}}


@router.post("/sparql", responses={**_RESPONSES, 204: {"description": "Update applied."},
                                   **problem_responses(401)},
             openapi_extra=_POST_BODY, summary="SPARQL 1.1 query or update (POST)")
async def sparql_post(request: Request) -> Response:
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    body = await request.body()
    params = parse_qsl(request.url.query, keep_blank_values=True)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise QueryError("the request body is not UTF-8 text") from None
    if ctype == "application/x-www-form-urlencoded":
        params += parse_qsl(text, keep_blank_values=True)
        query = [v for k, v in params if k == "query"]
        update = [v for k, v in params if k == "update"]
        if len(query) + len(update) != 1:
            raise QueryError("send exactly one 'query' or one 'update' parameter")
        if update:
            return await run_in_threadpool(_update, request, update[0])
        sparql = query[0]
    elif ctype == "application/sparql-query":
        sparql = text
    elif ctype == "application/sparql-update":
        return await run_in_threadpool(_update, request, text)
    else:
        raise UnsupportedMediaType(
            f"Content-Type {ctype or '(none)'!r} is not a SPARQL request; use application/sparql-query, "
            "application/sparql-update or application/x-www-form-urlencoded")
    defaults = [v for k, v in params if k == "default-graph-uri"]
    nameds = [v for k, v in params if k == "named-graph-uri"]
    fmt = next((v for k, v in params if k == "format"), None)
    return await run_in_threadpool(_answer, request, sparql, defaults, nameds, fmt)


# --------------------------------------------------------------------------- service description

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
_SD_FORMATS = ["SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
               "Turtle", "N-Triples", "RDF_XML", "JSON-LD"]


def service_description(request: Request) -> Response:
    """The SPARQL 1.1 Service Description of this endpoint (RDF, negotiated; Turtle by default)."""
    from kg.core.store import RDF_TYPE, BlankNode, NamedNode, Triple

    accept = request.headers.get("accept")
    fmt = negotiate(accept, "DESCRIBE")
    if fmt is None:
        raise NotAcceptable(f"the service description is RDF; cannot answer as {accept!r}",
                            acceptable=list(GRAPH_TYPES.values()))
    settings = get_settings(request)
    me = NamedNode(str(request.url.replace(query="")))

    def sd(x: str) -> NamedNode:
        return NamedNode(SD + x)

    t = [Triple(me, RDF_TYPE, sd("Service")), Triple(me, sd("endpoint"), me),
         Triple(me, sd("supportedLanguage"), sd("SPARQL11Query")),
         Triple(me, sd("feature"), sd("UnionDefaultGraph"))]
    if settings.sparql_update:
        t.append(Triple(me, sd("supportedLanguage"), sd("SPARQL11Update")))
    t += [Triple(me, sd("resultFormat"), NamedNode(FORMATS_NS + f)) for f in _SD_FORMATS]
    ds = BlankNode()
    t += [Triple(me, sd("defaultDataset"), ds), Triple(ds, RDF_TYPE, sd("Dataset"))]
    for g in get_kg(request).store.named_graphs():
        ng = BlankNode()
        t += [Triple(ds, sd("namedGraph"), ng), Triple(ng, sd("name"), NamedNode(g))]
    from api.sparql_results import serialize_answer

    ans = serialize_answer("graph", iter(t), fmt, limit=len(t) + 1)
    return Response(ans.body, media_type=ans.media_type)


__all__ = ["router", "negotiate", "service_targets", "check_services", "service_description", "PROBLEM"]
