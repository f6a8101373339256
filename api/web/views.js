// Taxon, term and tree views of the traitkg page (needs app.js and tree.js).
"use strict";

(function () {
  const $ = (s) => document.querySelector(s);
  const enc = encodeURIComponent;
  const MAX_TIPS = 150;

  // el() comes from app.js (a global); views only run after the page has loaded it.
  async function getJSON(url, opts = {}) {
    const r = await fetch(url, { headers: { Accept: "application/json", "Content-Type": "application/json" }, ...opts });
    const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
    if (!r.ok) { const e = new Error(body && body.detail ? body.detail : `${r.status}`); e.status = r.status; throw e; }
    return body;
  }
  function status(node, text, isError = false) { node.textContent = text; node.classList.toggle("error", isError); }
  const tipKey = (label) => "taxon:" + label.trim().replace(/[\s_]+/g, "_");
  const tier = (t) => el("span", { class: `tier tier-${t}` }, t);

  function evidenceText(ev) {
    if (!ev || !ev.length) return "";
    return ev.slice(0, 3).map((e) => [e.matrix_title || e.matrix, e.character_number ? `char ${e.character_number}` : null,
      e.character_label || e.character, e.state_label ? `“${e.state_label}”` : null].filter(Boolean).join(", ")).join("; ")
      + (ev.length > 3 ? ` (+${ev.length - 3} more)` : "");
  }

  // ---------------------------------------------------------------- trees
  let currentTree = null;  // {tree, nodes, entity, entityLabel}

  async function firstTree() {
    const page = await getJSON("/api/v1/trees?limit=1");
    return page.items.length ? page.items[0].name : null;
  }

  async function statesFor(entity, tipNames) {
    const states = new Map();
    if (!entity) return states;
    const byKey = new Map(tipNames.map((n) => [tipKey(n), n]));
    for (const value of ["present", "absent"]) {
      try {
        const page = await getJSON(`/api/v1/terms/${enc(entity)}/taxa?value=${value}&limit=1000`);
        for (const hit of page.items) {
          const tip = byKey.get(hit.taxon);
          if (tip) states.set(tip, states.has(tip) && states.get(tip) !== value ? "both" : value);
        }
      } catch (e) { if (e.status !== 404) throw e; }
    }
    return states;
  }

  async function paint(entity, entityLabel) {
    if (!currentTree) return;
    currentTree.entity = entity; currentTree.entityLabel = entityLabel;
    const tips = currentTree.nodes.filter((n) => n.is_tip).map((n) => n.name);
    const states = await statesFor(entity, tips);
    const box = $("#tree-svg");
    box.replaceChildren(window.traitkgTree.drawTree(currentTree.nodes, states, { title: currentTree.tree }));
    $("#tree-legend").replaceChildren(window.traitkgTree.legend(entityLabel || entity));
    const painted = [...states.values()].length;
    status($("#tree-status"), `${currentTree.tree}: ${tips.length} tips` + (entity ? `, ${painted} with a known state for ${entityLabel || entity}` : ""));
  }

  async function showInduced(tree, ids, entity, entityLabel) {
    $("#tree").hidden = false;
    status($("#tree-status"), "drawing…");
    const r = await getJSON(`/api/v1/trees/${enc(tree)}/induced_subtree?format=json`,
      { method: "POST", body: JSON.stringify({ ids: ids.slice(0, MAX_TIPS), fuzzy: false }) });
    if (!r.nodes) { status($("#tree-status"), `none of these taxa is a tip of ${tree}`, true); return; }
    currentTree = { tree, nodes: r.nodes };
    await paint(entity, entityLabel);
  }

  async function showAround(tree, tipLabel, entity, entityLabel) {
    // climb from the tip until the clade has a dozen tips, then draw that clade
    let node = await getJSON(`/api/v1/trees/${enc(tree)}/nodes/${enc(tipLabel)}`);
    while (node.parent !== null && node.n_tips < 12) node = await getJSON(`/api/v1/trees/${enc(tree)}/nodes/${node.parent}`);
    const clade = await getJSON(`/api/v1/trees/${enc(tree)}/nodes/${node.id}?tips=${MAX_TIPS}`);
    await showInduced(tree, clade.tips, entity, entityLabel);
  }

  // ---------------------------------------------------------------- taxon view
  async function showTaxon(id) {
    const sec = $("#taxon"); sec.hidden = false; $("#term").hidden = true;
    const box = $("#taxon-detail");
    box.replaceChildren("loading…");
    let t;
    try { t = await getJSON(`/api/v1/taxa/${enc(id)}`); } catch (e) {
      box.replaceChildren(`cannot load ${id}: ${e.message}`);
      // a genus known only through its species' names (no taxonomy node): still roll its species up
      if (e.status === 404 && window.traitkgClade && /^taxon:[A-Z][a-z]+$/.test(id)) {
        const name = id.slice(6);
        await window.traitkgClade.show({ id, name, rank: "genus" });
      }
      return;
    }
    $("#taxon-h").textContent = t.name || t.id;
    box.replaceChildren(
      el("p", {}, el("strong", {}, t.name), ` ${t.rank ? "(" + t.rank + ")" : ""} · ${t.id}`),
      el("p", { class: "meta" }, "Lineage: ", t.lineage.map((a) => a.name || a.id).join(" ‹ ") || "—"),
      el("p", { class: "meta" }, "External ids: ", t.external_ids.join(", ") || "—", " · Synonyms: ", t.synonyms.join(", ") || "—"));
    const higher = t.rank && t.rank !== "species" && t.rank !== "subspecies";
    await showTraits(t, higher);
    if (window.traitkgPredictions) await window.traitkgPredictions.showTaxon(t);
    let drawn = false;
    if (window.traitkgClade) {
      if (higher || !t.tips.length) drawn = await window.traitkgClade.show(t); else window.traitkgClade.hide();
    }
    if (t.tips.length && !drawn) {
      try { await showAround(t.tips[0].tree, t.tips[0].label, null, null); } catch (e) { status($("#tree-status"), e.message, true); }
    }
  }

  async function showTraits(t, higher = false) {
    const st = $("#traits-status"), table = $("#traits-table");
    status(st, "loading traits…");
    try {
      const page = await getJSON(`/api/v1/taxa/${enc(t.id)}/traits?limit=500`);
      // EQ phenotypes as curated, then the presence/absence calls drawn from them (asserted or inferred)
      const order = (x) => (x.kind === "phenotype" ? 0 : 1);
      const items = [...page.items].sort((a, b) => order(a) - order(b));
      const rows = items.map((x) => [
        el("a", { class: "entity", "data-entity": x.entity, onclick: () => paint(x.entity, x.entity_label) }, x.entity_label || x.entity),
        x.kind === "phenotype" ? (x.quality_label || x.quality || "phenotype") : x.value,
        el("span", { class: "kind" }, x.kind === "phenotype" ? "EQ phenotype" : "presence/absence"),
        tier(x.tier), evidenceText(x.evidence)]);
      const thead = table.querySelector("thead"), tbody = table.querySelector("tbody");
      thead.replaceChildren(el("tr", {}, ...["entity", "state", "kind", "tier", "evidence"].map((h) => el("th", {}, h))));
      tbody.replaceChildren(...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))));
      status(st, `${page.total} trait${page.total === 1 ? "" : "s"} — click an entity to paint it on the tree`);
    } catch (e) {
      table.querySelector("thead").replaceChildren(); table.querySelector("tbody").replaceChildren();
      const none = higher ? `no traits recorded for ${t.name} itself; its species' traits are rolled up below`
        : `no traits recorded for ${t.name}`;
      status(st, e.status === 404 ? none : `traits failed: ${e.message}`, e.status !== 404);
    }
  }

  // ---------------------------------------------------------------- term view
  async function showTerm(id) {
    const sec = $("#term"); sec.hidden = false; $("#taxon").hidden = true;
    const box = $("#term-detail");
    let t;
    try { t = await getJSON(`/api/v1/terms/${enc(id)}`); } catch (e) { box.replaceChildren(`cannot load ${id}: ${e.message}`); return; }
    $("#term-h").textContent = t.label || t.id;
    document.dispatchEvent(new CustomEvent("traitkg:term", { detail: { id: t.id, label: t.label } }));
    box.replaceChildren(el("p", {}, el("strong", {}, t.label || t.id), ` · ${t.id}`), el("p", { class: "meta" }, t.definition || ""));
    const st = $("#term-status"), list = $("#term-taxa");
    list.replaceChildren();
    try {
      const page = await getJSON(`/api/v1/terms/${enc(t.id)}/taxa?limit=1000`);
      status(st, `${page.total} taxa with phenotypes of ${t.label || t.id} (or its parts and subtypes)`);
      for (const x of page.items.slice(0, 200)) list.append(el("li", {}, el("a", { onclick: () => showTaxon(x.taxon) }, x.name || x.taxon)));
      const tree = await firstTree();
      if (tree && page.items.length) await showInduced(tree, page.items.map((x) => x.name || x.taxon), t.id, t.label);
    } catch (e) { status(st, e.status === 404 ? "taxa for terms are not available" : e.message, e.status !== 404); }
  }

  window.showTaxon = showTaxon;
  window.showTerm = showTerm;
  window.traitkgViews = { setup() {}, showTaxon, showTerm, showInduced, paint };
})();
