// A genus, family or any higher taxon rolled up (GET /api/v1/taxa/{id}/rollup): each trait of its
// species with the species behind it, and the clade's tips on the tree; clicking a trait paints it.
"use strict";

(function () {
  const $ = (s) => document.querySelector(s);
  const enc = encodeURIComponent;

  function status(text, isError = false) {
    const node = $("#clade-status");
    node.textContent = text; node.classList.toggle("error", isError);
  }

  function speciesLinks(names) {
    const span = el("span", { class: "species" });
    names.forEach((n, i) => {
      if (i) span.append(", ");
      span.append(el("a", { class: "species-link", onclick: () => window.showTaxon(n) }, n));
    });
    return span;
  }

  // Shows the roll-up of taxon t (from /api/v1/taxa/{id}); resolves true when it drew the clade's tree.
  async function show(t) {
    const sec = $("#clade");
    sec.hidden = false;
    $("#clade-h").textContent = `Species of ${t.name || t.id}`;
    status("rolling up the species' traits…");
    const table = $("#clade-table");
    table.querySelector("thead").replaceChildren(); table.querySelector("tbody").replaceChildren();
    let trees;
    try { trees = await getJSON("/api/v1/trees?limit=1"); } catch (e) { trees = { items: [] }; }
    const tree = trees.items.length ? trees.items[0].name : null;
    let r;
    try {
      r = await getJSON(`/api/v1/taxa/${enc(t.id)}/rollup` + (tree ? `?tree=${enc(tree)}` : ""));
    } catch (e) { status(e.status === 404 ? `no species of ${t.name || t.id} with traits` : e.message, e.status !== 404); return false; }
    const rows = r.traits.map((x) => [
      el("a", { class: "entity", "data-entity": x.entity, onclick: () => paintClade(r, x) }, x.entity_label || x.entity),
      x.value, `${x.n_taxa} of ${r.species.length}`,
      `${x.asserted} asserted, ${x.inferred} inferred`, speciesLinks(x.taxa)]);
    fillTable(table, ["entity", "state", "species", "tier", "species behind it"], rows);
    const without = r.species_without_traits.length ? `; without traits: ${r.species_without_traits.join(", ")}` : "";
    status(`${r.species.length} species of ${t.name || t.id} (${r.rank || r.kind}), ${r.traits.length} trait calls rolled up` +
           `${without} — click an entity to paint it on the clade's tree`);
    if (r.tree && r.tree.tips.length && window.traitkgViews) {
      await window.traitkgViews.showInduced(r.tree.name, r.tree.tips, null, null);
      return true;
    }
    return false;
  }

  async function paintClade(r, x) {
    if (window.traitkgViews) await window.traitkgViews.paint(x.entity, x.entity_label);
    const tree = $("#tree-svg svg");
    if (tree) tree.setAttribute("data-entity", x.entity);
  }

  function hide() { const sec = $("#clade"); if (sec) sec.hidden = true; }

  window.traitkgClade = { show, hide };
})();
