// traitkg web page: plain JS, no build step, no network beyond this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const OBO = "http://purl.obolibrary.org/obo/";
const SHORT = [["https://w3id.org/traitkg/taxon/", "taxon:"], ["https://w3id.org/traitkg/schema#", "tkg:"],
  ["https://w3id.org/traitkg/graph/", "graph:"], ["https://w3id.org/traitkg/", "traitkg:"],
  ["http://www.w3.org/2000/01/rdf-schema#", "rdfs:"], ["http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdf:"],
  ["http://www.w3.org/2002/07/owl#", "owl:"], ["http://www.w3.org/ns/prov#", "prov:"]];

function curie(iri) {
  if (typeof iri !== "string") return iri;
  if (iri.startsWith(OBO)) { const local = iri.slice(OBO.length); const i = local.indexOf("_"); return i > 0 ? local.slice(0, i) + ":" + local.slice(i + 1) : iri; }
  for (const [ns, p] of SHORT) if (iri.startsWith(ns)) return p + iri.slice(ns.length);
  return iri;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function setStatus(node, text, isError = false) { node.textContent = text; node.classList.toggle("error", isError); }

async function getJSON(url, opts = {}) {
  const r = await fetch(url, { headers: { Accept: "application/json" }, ...opts });
  const ctype = r.headers.get("content-type") || "";
  const body = ctype.includes("json") ? await r.json() : await r.text();
  if (!r.ok) { const msg = body && body.detail ? body.detail : `${r.status} ${r.statusText}`; const err = new Error(msg); err.status = r.status; throw err; }
  return body;
}

function fillTable(table, header, rows) {
  const thead = table.querySelector("thead"), tbody = table.querySelector("tbody");
  thead.replaceChildren(el("tr", {}, ...header.map((h) => el("th", {}, h))));
  tbody.replaceChildren(...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c instanceof Node ? c : (c ?? ""))))));
}

// ------------------------------------------------------------------ SPARQL box
const EXAMPLES = [
  ["Graphs and their sizes", `SELECT ?graph (COUNT(*) AS ?triples)
WHERE { GRAPH ?graph { ?s ?p ?o } }
GROUP BY ?graph ORDER BY DESC(?triples)`],
  ["Provenance: what was loaded, from where", `SELECT ?graph ?kind ?name ?version ?source
WHERE { ?graph tkg:kind ?kind ; tkg:name ?name ; tkg:version ?version ; tkg:source ?source }
ORDER BY ?kind ?name`],
  ["Anatomy terms whose label mentions 'fin'", `SELECT DISTINCT ?term ?label
WHERE { ?term rdfs:label ?label .
  FILTER(STRSTARTS(STR(?term), STR(obo:UBERON_)) && CONTAINS(LCASE(STR(?label)), "fin")) }
ORDER BY ?label LIMIT 50`],
  ["Direct parts of the pectoral fin (UBERON:0000151)", `SELECT DISTINCT ?part ?label
WHERE { ?part rdfs:subClassOf [ owl:onProperty BFO:0000050 ; owl:someValuesFrom UBERON:0000151 ] .
  OPTIONAL { ?part rdfs:label ?label } }
ORDER BY ?label LIMIT 100`],
  ["Classes and predicates in use", `SELECT ?p (COUNT(*) AS ?n)
WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n) LIMIT 25`],
];

function termText(t) {
  if (!t) return "";
  if (t.type === "uri") return curie(t.value);
  if (t.type === "bnode") return "_:" + t.value;
  return t.value + (t["xml:lang"] ? "@" + t["xml:lang"] : "");
}

async function runSparql(ev) {
  if (ev) ev.preventDefault();
  const status = $("#sparql-status"), q = $("#sparql-query").value;
  setStatus(status, "running…");
  const t0 = performance.now();
  try {
    const r = await fetch("/sparql", { method: "POST", body: q,
      headers: { "Content-Type": "application/sparql-query", Accept: "application/sparql-results+json, text/turtle;q=0.9" } });
    const ms = Math.round(performance.now() - t0);
    if (!r.ok) { const p = await r.json().catch(() => ({ detail: r.statusText })); setStatus(status, `${r.status}: ${p.detail}`, true); fillTable($("#sparql-results"), [], []); return; }
    const ctype = r.headers.get("content-type") || "";
    if (ctype.includes("turtle")) {
      const text = await r.text();
      fillTable($("#sparql-results"), ["Turtle"], [[el("pre", {}, text)]]);
      setStatus(status, `graph answer in ${ms} ms`);
      return;
    }
    const data = await r.json();
    if ("boolean" in data) { fillTable($("#sparql-results"), ["ASK"], [[String(data.boolean)]]); setStatus(status, `answered in ${ms} ms`); return; }
    const vars = data.head.vars, rows = data.results.bindings.map((b) => vars.map((v) => termText(b[v])));
    fillTable($("#sparql-results"), vars, rows);
    setStatus(status, `${rows.length} rows in ${ms} ms`);
  } catch (e) { setStatus(status, "failed: " + e.message, true); }
}

function updateDownload() {
  const q = $("#sparql-query").value, f = $("#sparql-format").value;
  $("#sparql-download").href = "/sparql?" + new URLSearchParams({ query: q, format: f }).toString();
}

function setupSparql() {
  const sel = $("#sparql-example");
  EXAMPLES.forEach(([label], i) => sel.append(el("option", { value: String(i) }, label)));
  sel.addEventListener("change", () => { $("#sparql-query").value = EXAMPLES[+sel.value][1]; updateDownload(); });
  $("#sparql-query").value = EXAMPLES[0][1];
  $("#sparql-query").addEventListener("input", updateDownload);
  $("#sparql-format").addEventListener("change", updateDownload);
  $("#sparql-form").addEventListener("submit", runSparql);
  updateDownload();
}

// ------------------------------------------------------------------ search, taxon, term, tree
async function search(ev) {
  if (ev) ev.preventDefault();
  const q = $("#search-q").value.trim(), kind = $("#search-kind").value, status = $("#search-status");
  if (!q) return;
  setStatus(status, "searching…");
  const list = $("#search-results");
  list.replaceChildren();
  try {
    const page = await getJSON(`/api/v1/${kind}?` + new URLSearchParams({ q, limit: "20" }));
    setStatus(status, `${page.total} match${page.total === 1 ? "" : "es"}`);
    for (const hit of page.items) {
      const label = hit.name || hit.label || hit.id;
      const a = el("a", { "data-id": hit.id, onclick: () => (kind === "taxa" ? showTaxon(hit.id) : showTerm(hit.id)) }, label);
      const meta = [hit.id, hit.matched && hit.matched !== label ? `matched “${hit.matched}”` : null,
        hit.score != null ? `score ${Math.round(hit.score)}` : null].filter(Boolean).join(" · ");
      list.append(el("li", {}, a, el("span", { class: "meta" }, meta)));
    }
    if (kind === "taxa" && page.items.length > 1 && window.traitkgViews) {
      list.append(el("li", {}, el("button", { type: "button", id: "hits-on-tree", onclick: async () => {
        const tree = (await getJSON("/api/v1/trees?limit=1")).items[0];
        if (tree) await window.traitkgViews.showInduced(tree.name, page.items.map((h) => h.name || h.id), null, null);
      } }, "show these on the tree")));
    }
  } catch (e) {
    setStatus(status, e.status === 404 ? `searching ${kind} is not available on this server` : "search failed: " + e.message, true);
  }
}

window.traitkg = { curie, search, runSparql };

document.addEventListener("DOMContentLoaded", () => {
  setupSparql();
  $("#search-form").addEventListener("submit", search);
  if (window.traitkgViews) window.traitkgViews.setup();
});
