"""The capability table (docs/capabilities.md): every analysis and query of traitkg against its four
interfaces -- the Python API, the ``traitkg`` command, the REST API and the web page -- with each
CLI option and REST field mapped to the Python parameter it sets. Derived from the code: the
Python signatures (:mod:`inspect`), the click commands and the app's OpenAPI document, so a
renamed option, a new command or a new route changes the table, and
``tests/test_capabilities.py`` fails until it is regenerated and every command and route is placed.

``traitkg capabilities > docs/capabilities.md`` rewrites the file (``python -m kg.cli.capabilities
--write docs/capabilities.md`` too).

>>> rows = capability_rows()
>>> next(r for r in rows if r["name"].startswith("PGLS"))["cli"]
'traitkg pgls'
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from kg.cli._app import main

WEB = Path(__file__).resolve().parents[2] / "api" / "web"
IFACES = ("python", "cli", "rest", "web")
#: options that shape the output only (no Python parameter): how each interface says "give me JSON/a picture/a page"
PRESENTATION = {"fmt": "output format", "as_json": "output format", "limit": "paging", "offset": "paging",
                "svg": "picture", "plot_path": "picture", "format": "output format", "evidence": "output detail"}


@dataclass(frozen=True)
class Cap:
    """One capability: where it lives in each interface, why it is absent from one, and the CLI /
    REST names that differ from the Python parameter they set (``alias``: name -> Python parameter)."""

    name: str
    area: str
    python: str | None                       # "module:Qualified.name" of the function behind it
    call: str                                # how a Python user writes it
    cli: str | None = None                   # command path under `traitkg`
    rest: tuple[str, ...] = ()               # "METHOD /path" as in the OpenAPI document
    web: tuple[str, str] | None = None       # (file in api/web, a string it contains: the element or call)
    why: dict[str, str] = field(default_factory=dict)
    alias: dict[str, str] = field(default_factory=dict)
    skip: tuple[str, ...] = ("self", "kg", "store", "traits")  # Python parameters no user passes
    other: str | None = None                 # what CLI/REST names of a shared command set, when not this capability's
    use: tuple[str, ...] | None = None       # the Python parameters this capability uses (a shared function)


_RUN = "kg.comparative.runner:run"
_TRAIT = {"trait_ref": "trait", "column": "trait", "columns": "trait", "se_column": "trait",
          "taxon_column": "trait", "entity": "trait", "values": "trait", "trait_name": "trait"}
_TREE_NAME = {"tree_name": "name"}
_OTHER = "(another method's field of the runs route)"
_RUN_BASE = ("tree", "trait", "method", "write", "name", "minimum", "fuzzy")
_NO_WEB_NUM = "numbers for a table or a script: the CLI and REST give them; the page shows pictures"

CAPS: list[Cap] = [
    # ------------------------------------------------------------ comparative methods
    Cap("Ancestral states (Fitch, Mk ER/SYM/ARD, BM)", "comparative", _RUN,
        "g.comparative.run(tree, trait, 'mk-er'|'fitch'|'bm', ...)", "asr", ("POST /api/v1/comparative/runs",),
        ("comparative.js", "/api/v1/comparative/runs"), alias=_TRAIT, use=_RUN_BASE,
        other=_OTHER),
    Cap("Phylogenetic signal (Pagel's lambda, Blomberg's K)", "comparative", _RUN,
        "g.comparative.run(tree, trait, 'lambda'|'k', nsim=, seed=)", "signal", ("POST /api/v1/comparative/runs",),
        why={"web": _NO_WEB_NUM}, alias=_TRAIT, use=_RUN_BASE + ("nsim", "seed"), other=_OTHER),
    Cap("Imputation (BM, uni- and multivariate)", "comparative", _RUN,
        "g.comparative.run(tree, trait, 'impute'|'impute-mv')", "impute", ("POST /api/v1/comparative/runs",),
        why={"web": _NO_WEB_NUM}, alias=_TRAIT, use=_RUN_BASE, other=_OTHER),
    Cap("PGLS (BM, lambda; ML, REML; covariance or correlation)", "comparative", _RUN,
        "g.comparative.run(tree, trait, 'pgls', predictors={...}, model=, lam=, estimation=, vcv=)", "pgls",
        ("POST /api/v1/comparative/runs",), why={"web": _NO_WEB_NUM},
        alias={**_TRAIT, "table_path": "trait", "ycol": "trait", "xcols": "predictors", "reml": "estimation"},
        use=_RUN_BASE + ("predictors", "model", "lam", "estimation", "vcv"), other=_OTHER),
    Cap("Comparative methods offered", "comparative", "kg.comparative.api:Comparative.methods",
        "g.comparative.methods()", None, ("GET /api/v1/comparative/methods",),
        why={"cli": "each command lists its methods in --help (--method choices)", "web": "the panel's method menu"}),
    Cap("Stored analyses", "comparative", "kg.comparative.api:Comparative.analyses", "g.comparative.analyses()",
        "comparative list", ("GET /api/v1/comparative",), why={"web": _NO_WEB_NUM}),
    Cap("One stored analysis read back", "comparative", "kg.comparative.api:Comparative.read",
        "g.comparative.read(graph)", "comparative show", ("GET /api/v1/comparative/{name}/{version}",),
        why={"web": _NO_WEB_NUM}, alias={"name": "graph", "version": "graph"}),
    Cap("Every stored value of an analysis", "comparative", "kg.comparative.api:Comparative.estimates",
        "g.comparative.estimates(graph)", "comparative show", ("GET /api/v1/comparative/{name}/{version}/estimates",),
        why={"web": _NO_WEB_NUM}, alias={"name": "graph", "version": "graph"}),
    # ------------------------------------------------------------ trees
    Cap("Tree summary", "trees", "kg.trees:Tree.summary", "g.tree(name).summary()", "tree info",
        ("GET /api/v1/trees/{tree}",), why={"web": "the page draws trees; their size is in the status line"},
        alias={"tree_name": "g.tree(name)", "tree": "g.tree(name)"}),
    Cap("Loaded trees", "trees", "kg:KnowledgeGraph.graphs", "g.graphs(kind='tree')", "graphs",
        ("GET /api/v1/trees",), ("views.js", "/api/v1/trees?limit=1"),
        alias={"kind": "kind", "name": "name", "stale": "g.stale()",
               "recover": "kg.core.recovery.recover(g.store) (run by KnowledgeGraph.open)"}),
    Cap("MRCA", "trees", "kg.trees:Tree.mrca", "g.tree(name).mrca(refs)", "tree mrca",
        ("POST /api/v1/trees/{tree}/mrca", "GET /api/v1/trees/{tree}/mrca"),
        why={"web": "the page climbs to a clade through the node route instead"},
        alias={"names": "refs", "ids": "refs", "tree_name": "g.tree(name)", "tree": "g.tree(name)",
               "fuzzy": "refs"}),
    Cap("Induced subtree", "trees", "kg.trees:Tree.induced_subtree", "g.tree(name).induced_subtree(refs)",
        "tree induced", ("POST /api/v1/trees/{tree}/induced_subtree", "GET /api/v1/trees/{tree}/induced_subtree"),
        ("views.js", "/induced_subtree?format=json"),
        alias={"names": "refs", "ids": "refs", "tree_name": "g.tree(name)", "tree": "g.tree(name)",
               "fuzzy": "refs"}),
    Cap("Distance matrix", "trees", "kg.trees:Tree.distance_matrix", "g.tree(name).distance_matrix(refs)",
        "tree matrix", ("POST /api/v1/trees/{tree}/distances",), why={"web": _NO_WEB_NUM},
        alias={"names": "refs", "ids": "refs", "tree_name": "g.tree(name)", "tree": "g.tree(name)",
               "fuzzy": "refs"}),
    Cap("Distance between two nodes", "trees", "kg.trees:Tree.distance", "g.tree(name).distance(a, b)",
        "tree distance", ("POST /api/v1/trees/{tree}/distances",), why={"web": _NO_WEB_NUM},
        alias={"tree_name": "g.tree(name)", "tree": "g.tree(name)", "ids": "a", "fuzzy": "a"}),
    Cap("Node detail (and the tips below it)", "trees", "kg.trees:Tree.node", "g.tree(name).node(ref)",
        "tree node", ("GET /api/v1/trees/{tree}/nodes/{node}",), ("views.js", "/nodes/"),
        alias={"tree_name": "g.tree(name)", "tree": "g.tree(name)", "node": "ref", "tips": "ref"}),
    Cap("Which names are in a clade", "trees", "kg.trees:Tree.in_clade", "g.tree(name).in_clade(refs, clade)",
        "tree clade", ("GET /api/v1/trees/{tree}/nodes/{node}",), why={"web": "the clade view lists its tips"},
        alias={"names": "refs", "tree_name": "g.tree(name)", "tree": "g.tree(name)", "node": "clade",
               "tips": "clade"}),
    Cap("Subtree as Newick", "trees", "kg.trees:Tree.subtree", "g.tree(name).subtree(ref, max_tips=, height_limit=)",
        "tree subtree", ("GET /api/v1/trees/{tree}/subtree",), why={"web": "a download for other tools"},
        alias={"node": "ref", "tree_name": "g.tree(name)", "tree": "g.tree(name)"}),
    # ------------------------------------------------------------ taxa
    Cap("Taxon name search and resolution", "taxa", "kg:KnowledgeGraph.resolve", "g.resolve(names, tree=, fuzzy=)",
        "resolve", ("GET /api/v1/taxa", "POST /api/v1/taxa/resolve"), ("app.js", "/api/v1/${kind}?"),
        alias={"q": "names", "tree_name": "tree", "no_fuzzy": "fuzzy"}),
    Cap("Genus / family / clade roll-up of species' traits", "taxa", "kg:KnowledgeGraph.rollup",
        "g.rollup(clade, tree=)", "rollup", ("GET /api/v1/taxa/{ref}/rollup",), ("clade.js", "/rollup"),
        alias={"ref": "clade", "tree_name": "tree"}),
    Cap("Taxon detail (ids, synonyms, lineage, children, tips)", "taxa", None, "g.query(...) (SPARQL)", None,
        ("GET /api/v1/taxa/{ref}",), ("views.js", "/api/v1/taxa/${enc(id)}"),
        why={"python": "a page view over the taxonomy graphs: g.query, g.resolve and g.tree(...).node give each part",
             "cli": "traitkg resolve names a taxon; traitkg query reads the rest"}, alias={"ref": "g.resolve(names)"}),
    # ------------------------------------------------------------ traits
    Cap("A taxon's traits (presence/absence, phenotypes, evidence)", "traits", "kg.traits.queries:Traits.traits_of",
        "g.traits.traits_of(taxon)", "traits", ("GET /api/v1/taxa/{ref}/traits",), ("views.js", "/traits?limit="),
        alias={"ref": "taxon", "tier": "taxon", "kind": "taxon"}),
    Cap("Taxa with an entity or quality", "traits", "kg.traits.queries:Traits.taxa_with",
        "g.traits.taxa_with(term, parts=, within=, value=)", "taxa-with", ("GET /api/v1/terms/{ref}/taxa",),
        ("views.js", "/taxa?limit=1000"), alias={"ref": "term", "no_parts": "parts", "clade": "within", "tree": "within"}),
    Cap("Presence/absence matrix", "traits", "kg.traits.queries:Traits.matrix", "g.traits.matrix(taxa, entities)",
        "matrix", ("POST /api/v1/traits/matrix", "GET /api/v1/traits/matrix"), why={"web": _NO_WEB_NUM},
        alias={"variable_only": "**kw"}),
    Cap("Conflicting calls", "traits", "kg.traits.queries:Traits.conflicts", "g.traits.conflicts()", "conflicts",
        ("GET /api/v1/traits/conflicts",), why={"web": "a curator's list: CLI and REST"}),
    Cap("Presence/absence inference", "traits", "kg:KnowledgeGraph.infer_traits", "g.infer_traits()", "infer",
        (), why={"rest": "rewrites the inference graph over the whole corpus: a pipeline step, not a request",
                 "web": "a pipeline step"}),
    # ------------------------------------------------------------ terms and similarity
    Cap("Term search", "terms", "kg.term_search:TermSearch.search", "g.terms.search(text, ...)", "search",
        ("GET /api/v1/terms",), ("app.js", "/api/v1/${kind}?"), alias={"q": "text", "no_fuzzy": "fuzzy"}),
    Cap("Term detail, ancestors, descendants, mappings", "terms", "kg.terms:TermIndex.term", "g.terms.term(ref)",
        "term", ("GET /api/v1/terms/{ref}", "GET /api/v1/terms/{ref}/ancestors",
                 "GET /api/v1/terms/{ref}/descendants", "GET /api/v1/terms/{ref}/mappings"),
        ("views.js", "/api/v1/terms/${enc(id)}"),
        alias={"curie": "ref", "predicates": "g.terms.ancestors(ref, predicates)",
               "descendants": "g.terms.descendants(ref)", "map_to": "g.terms.mappings(ref, target)",
               "target": "g.terms.mappings(ref, target)"}),
    Cap("Similar taxa (phenotype profiles)", "terms", "kg.similarity:Similarity.similar",
        "g.similarity.similar(taxon or terms, k=, metric=)", "similar",
        ("GET /api/v1/similarity/taxa/{ref}", "POST /api/v1/similarity/profile"),
        why={"web": "ranked lists for analysis: CLI and REST"}, alias={"taxon": "query", "ref": "query", "terms": "query"}),
    Cap("Similarity of two terms", "terms", "kg.similarity:Similarity.resnik", "g.similarity.resnik(a, b) (jaccard, simgic)",
        None, ("GET /api/v1/similarity/terms",),
        why={"cli": "a building block of `traitkg similar`; Python and REST expose it", "web": "a building block"}),
    # ------------------------------------------------------------ keys, predictions, hypotheses
    Cap("Keys: list, show, validate, identify, batch", "keys", "kg.keys:Keys.identify", "g.keys.identify(ref, answers)",
        "key identify", ("GET /api/v1/keys", "GET /api/v1/keys/{project}/{key}",
                         "GET /api/v1/keys/{project}/{key}/couplets/{couplet}", "GET /api/v1/keys/{project}/{key}/problems",
                         "GET /api/v1/keys/{project}/{key}/identify", "POST /api/v1/keys/{project}/{key}/identify",
                         "POST /api/v1/keys/{project}/{key}/batch"), ("keys.js", "/api/v1/keys"),
        alias={"key": "ref", "project": "ref", "couplet": "g.keys.show(ref, couplet)", "answer": "answers",
               "observations": "g.keys.batch(ref, observations)", "interactive": "(prompts for answers)",
               "q": "g.keys.list() (filtered by name)"}),
    Cap("Predictions of a taxon or an image", "predictions", "kg.predictions:Predictions.summary",
        "g.predictions.summary(taxon, batch=)", "predictions summary",
        ("GET /api/v1/taxa/{ref}/predictions", "GET /api/v1/images/{ref}/predictions"),
        ("predictions.js", "/predictions"),
        alias={"ref": "taxon (images: g.predictions.image(image))", "all_versions": "batch"}),
    Cap("Prediction summaries, batches, disagreements", "predictions", "kg.predictions:Predictions.summaries",
        "g.predictions.summaries(trait, batch=)", "predictions summaries",
        ("GET /api/v1/predictions/summaries", "GET /api/v1/predictions/batches",
         "GET /api/v1/predictions/disagreements"), why={"web": "tables for analysis: CLI and REST"},
        alias={"taxon": "g.predictions.agreement(taxon=)", "all": "g.predictions.agreement(...)"}),
    Cap("Hypotheses (GNN and baselines)", "hypotheses", "kg:KnowledgeGraph.hypotheses", "g.hypotheses(**filters)",
        "hypothesize", ("GET /api/v1/hypotheses", "GET /api/v1/hypotheses/runs", "GET /api/v1/hypotheses/runs/{run}",
         "GET /api/v1/hypotheses/runs/{run}/cells", "GET /api/v1/hypotheses/runs/{run}/conflicts"),
        why={"web": "lists for curators to check: CLI and REST"}),
    Cap("Hypotheses runs (imputation, link prediction, placement)", "hypotheses", "gnn.pipeline:hypothesize",
        "gnn.pipeline.hypothesize(g, task=, tree=, split=, seed=, epochs=, limit=, write=, ...)", "hypothesize",
        ("POST /api/v1/hypotheses/runs", "GET /api/v1/hypotheses/jobs/{job_id}"),
        why={"web": "training runs for minutes and writes a graph: CLI, REST jobs, Python"},
        alias={"no_write": "write", "no_priors": "priors", "limit": "limit", "job_id": "(the job a run started)"},
        other="(the --list options: the Hypotheses row)"),
    # ------------------------------------------------------------ training inputs
    Cap("Training exports (distances, levels, ranks, splits, images)", "training", "kg.training:Training.export",
        "g.training.export(directory, formats, **spec)", "export-training", (),
        why={"rest": "writes trainers' files into a directory of the machine that runs it, with a manifest",
             "web": "writes files"}),
    Cap("Training splits (clade, rank, age/depth cut, species, random)", "training", "kg.training:Training.split",
        "g.training.split(taxa, method=, rank=, cut=, test=, val=, strict=)", "tree split",
        ("POST /api/v1/trees/{tree}/split",), why={"web": "an input file for a trainer: CLI, REST, Python"},
        alias={"names": "taxa", "tree_name": "tree"}),
    Cap("Level groups from cuts through the tree", "training", "kg.training:Training.levels",
        "g.training.levels(taxa, cuts, by=, n_levels=, choose=, strict=)", "tree levels",
        ("POST /api/v1/trees/{tree}/levels",), why={"web": "an input file for a trainer: CLI, REST, Python"},
        alias={"names": "taxa", "tree_name": "tree"}),
    # ------------------------------------------------------------ SPARQL
    Cap("SPARQL query", "sparql", "kg:KnowledgeGraph.query", "g.query(sparql)", "query",
        ("GET /sparql", "POST /sparql"), ("app.js", "/sparql"),
        alias={"query": "sparql", "default-graph-uri": "union_default_graph", "named-graph-uri": "union_default_graph"}),
]

#: commands and routes that are not analyses or queries (loading, managing, serving), with why
NOT_CAPABILITIES: dict[str, str] = {
    **{f"load {k}": "loading data: Python g.load_* and REST POST /api/v1/graphs (uploads)"
       for k in ("images", "key", "ontology", "phenotypes", "predictions", "rdf", "taxonomy", "tree")},
    "closure": "ontology maintenance", "drop": "graph management", "export": "release export",
    "import": "release import", "fetch": "downloads", "graphs diff": "graph management", "release diff": "releases",
    "demo": "the demo", "serve": "starts the server", "index": "a build's last step (index files for serve)", "capabilities": "this table", "key generate": "key authoring",
    "key link": "key authoring", "key list": "part of Keys", "key show": "part of Keys", "key validate": "part of Keys",
    "ontology catalog": "ontology maintenance", "ontology check": "ontology maintenance",
    "ontology diff": "ontology maintenance", "predictions accuracy": "model evaluation (Python, CLI)",
    "predictions batches": "part of prediction summaries", "predictions diff": "model evaluation",
    "predictions disagreements": "part of prediction summaries", "predictions": "lists the batches",
    "GET /api/v1/graphs": "graph management", "POST /api/v1/graphs": "uploads",
    "GET /api/v1/graphs/diff": "graph management", "GET /api/v1/graphs/{kind}/{name}": "graph management",
    "GET /api/v1/graphs/{kind}/{name}/{version}": "graph management",
    "DELETE /api/v1/graphs/{kind}/{name}/{version}": "graph management",
    "GET /api/v1/graphs/stale": "graph management (Python g.stale(), CLI graphs --stale)",
    "POST /api/v1/graphs/closures/refresh": "ontology maintenance (Python g.refresh_closures(), CLI closure --refresh)",
    "GET /health": "operations", "GET /ping": "operations",
}


# --------------------------------------------------------------------------- introspection

def _python_params(path: str | None, skip: tuple[str, ...]) -> list[str]:
    if path is None:
        return []
    mod, qual = path.split(":")
    obj: Any = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    sig = inspect.signature(obj)
    out = [n for n, p in sig.parameters.items() if n not in skip and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    return ["**" + n if sig.parameters[n].kind is inspect.Parameter.VAR_KEYWORD else n for n in out]


def cli_commands() -> dict[str, click.Command]:
    """Every leaf command of ``traitkg`` by its path."""
    out: dict[str, click.Command] = {}
    todo: list[tuple[list[str], click.Command]] = [([], main)]
    while todo:
        path, cmd = todo.pop()
        if isinstance(cmd, click.Group):
            todo += [(path + [n], c) for n, c in cmd.commands.items()]
            if cmd.invoke_without_command and path:  # a group that is a command of its own (`traitkg graphs`)
                out[" ".join(path)] = cmd
        else:
            out[" ".join(path)] = cmd
    return out


def _cli_params(cmd: click.Command) -> dict[str, str]:
    """Parameter name -> how a user writes it (``--value-column``, ``TREE``)."""
    out = {}
    for p in cmd.params:
        if p.name:
            opts = [o for o in p.opts if o.startswith("--")] if isinstance(p, click.Option) else []
            out[p.name] = max(opts, key=len) if opts else (p.opts[0] if isinstance(p, click.Option) else p.name.upper())
    return out


def _openapi() -> dict[str, Any]:
    from api.app import create_app
    from api.settings import Settings

    return create_app(Settings(store="oxigraph:")).openapi()


def rest_operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{m.upper()} {p}": op for p, ops in spec["paths"].items() for m, op in ops.items()}


def _rest_params(spec: dict[str, Any], op: dict[str, Any]) -> list[str]:
    names = [p["name"] for p in op.get("parameters", [])]
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    while body and "$ref" in body:
        body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return names + list((body or {}).get("properties", {}))


def _map(names: list[str], py: list[str], alias: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Interface names grouped by the Python parameter they set; the ones that set none."""
    by: dict[str, list[str]] = {}
    unmapped = []
    kw = next((p[2:] for p in py if p.startswith("**")), None)
    for n in names:
        target = alias.get(n) or (n if n in py else None) or (f"**{kw}" if kw and n not in PRESENTATION else None)
        if target is None and n in PRESENTATION:
            target = f"({PRESENTATION[n]})"
        if target is None:
            unmapped.append(n)
        else:
            by.setdefault(target, []).append(n)
    return by, unmapped


def capability_rows() -> list[dict[str, Any]]:
    """Per capability: its four interfaces, the reasons for a missing one, the parameter mapping
    and the CLI/REST names that map to no Python parameter (``unmapped``); raises when a declared
    command, route or web hook does not exist."""
    spec = _openapi()
    ops = rest_operations(spec)
    cmds = cli_commands()
    rows = []
    for c in CAPS:
        py = _python_params(c.python, c.skip)
        if c.use is not None:
            py = [p for p in py if p in c.use]
        cli_shown: dict[str, str] = {}
        if c.cli is not None:
            if c.cli not in cmds:
                raise LookupError(f"capability {c.name!r}: no command `traitkg {c.cli}`")
            cli_shown = _cli_params(cmds[c.cli])
        cli_names = list(cli_shown)
        rest_names: list[str] = []
        for r in c.rest:
            if r not in ops:
                raise LookupError(f"capability {c.name!r}: no route {r}")
            rest_names += [n for n in _rest_params(spec, ops[r]) if n not in rest_names]
        if c.web is not None:
            f, marker = c.web
            if marker not in (WEB / f).read_text():
                raise LookupError(f"capability {c.name!r}: api/web/{f} does not contain {marker!r}")
        cli_map, cli_un = _map(cli_names, py, c.alias)
        rest_map, rest_un = _map(rest_names, py, c.alias)
        if c.other:
            for m, un in ((cli_map, cli_un), (rest_map, rest_un)):
                if un:
                    m[c.other] = list(un)
                    un.clear()
        rows.append({"name": c.name, "area": c.area, "python": c.call if c.python else None,
                     "cli": f"traitkg {c.cli}" if c.cli else None, "rest": list(c.rest),
                     "web": f"api/web/{c.web[0]}" if c.web else None, "why": dict(c.why), "params": py,
                     "cli_map": cli_map, "rest_map": rest_map, "unmapped": {"cli": cli_un, "rest": rest_un},
                     "cli_shown": cli_shown})
    return rows


def coverage() -> dict[str, list[str]]:
    """Commands and routes that are neither in a capability nor listed as not being one."""
    used_cli = {c.cli for c in CAPS if c.cli}
    used_rest = {r for c in CAPS for r in c.rest}
    return {"cli": sorted(n for n in cli_commands() if n not in used_cli and n not in NOT_CAPABILITIES),
            "rest": sorted(r for r in rest_operations(_openapi()) if r not in used_rest and r not in NOT_CAPABILITIES)}


# --------------------------------------------------------------------------- rendering

def _cell(text: str | None) -> str:
    return (text or "").replace("|", "/")


def table() -> str:
    rows = capability_rows()
    out = ["# Capabilities", "",
           "<!-- generated from the code by `traitkg capabilities > docs/capabilities.md` (kg/cli/capabilities.py); "
           "tests/test_capabilities.py keeps it in step -->", "",
           "Every analysis and query of traitkg in each interface. Where a capability is not offered, the cell "
           "says why (—). Below the table, each capability's CLI options and REST fields against the Python "
           "parameter they set (`(output format)`, `(paging)`, `(picture)`: presentation only).", "",
           "| capability | Python API | CLI | REST | web page |", "|---|---|---|---|---|"]
    def cell(r: dict[str, Any], iface: str, value: str | None) -> str:
        return f"`{_cell(value)}`" if value else f"— ({_cell(r['why'].get(iface, 'not offered'))})"

    for r in rows:
        rest = "<br>".join(f"`{x}`" for x in r["rest"]) if r["rest"] else cell(r, "rest", None)
        out.append(f"| {r['name']} | {cell(r, 'python', r['python'])} | {cell(r, 'cli', r['cli'])} | {rest} | "
                   f"{cell(r, 'web', r['web'])} |")
    out += ["", "## Parameters", ""]
    for r in rows:
        out += [f"### {r['name']}", "", "| Python | CLI | REST |", "|---|---|---|"]
        keys = list(dict.fromkeys(r["params"] + list(r["cli_map"]) + list(r["rest_map"])))
        for k in keys:
            cli = ", ".join(f"`{r['cli_shown'].get(x, x)}`" for x in r["cli_map"].get(k, []))
            rest = ", ".join(f"`{x}`" for x in r["rest_map"].get(k, []))
            out.append(f"| `{k}` | {cli or '—'} | {rest or '—'} |")
        un = [f"{i}: {', '.join(v)}" for i, v in r["unmapped"].items() if v]
        if un:
            out.append(f"| (no Python parameter) | {', '.join(r['unmapped']['cli']) or '—'} | "
                       f"{', '.join(r['unmapped']['rest']) or '—'} |")
        out.append("")
    out += ["## Not analyses or queries", "",
            "Loading, maintenance and operations, listed so that every command and route is placed:", "",
            "| command or route | what it is |", "|---|---|"]
    out += [f"| `{k}` | {_cell(v)} |" for k, v in sorted(NOT_CAPABILITIES.items())]
    return "\n".join(out) + "\n"


@main.command("capabilities")
def capabilities_cmd() -> None:
    """The capability table: every analysis and query in the Python API, CLI, REST and web page."""
    click.echo(table(), nl=False)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        Path(sys.argv[2]).write_text(table())
    else:
        sys.stdout.write(table())
