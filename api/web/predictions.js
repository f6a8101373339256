// Predicted traits of a taxon (ML from images) as their own tier beside the curated and inferred calls.
"use strict";

(function () {
  const $ = (s) => document.querySelector(s);
  const enc = encodeURIComponent;
  const tier = (t) => el("span", { class: `tier tier-${t}` }, t);
  const num = (x) => (x === null || x === undefined ? "" : Number(x).toPrecision(3));

  function predicted(x) {
    if (x.kind === "continuous") {
      const unit = x.unit_label || x.unit || "";
      return `${num(x.mean)} ± ${num(x.sd)} ${unit}`.trim() + (x.se !== null && x.se !== undefined ? ` (se ${num(x.se)})` : "");
    }
    const states = Object.entries(x.states || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    return `${x.mode} (${states})`;
  }

  function curated(x) {
    if (!x.curated || !x.curated.length) return ["—", ""];
    const cells = el("span", {}, ...x.curated.flatMap((c) => [c.value + " ", tier(c.tier), " "]));
    let verdict = "";
    if (x.kind === "categorical") {
      const agrees = x.curated.some((c) => c.value === x.mode);
      verdict = el("span", { class: agrees ? "agree" : "disagree" }, agrees ? "agrees" : "disagrees: expectation vs observation");
    }
    return [cells, verdict];
  }

  async function showTaxon(t) {
    const st = $("#predictions-status"), table = $("#predictions-table");
    if (!st || !table) return;
    table.querySelector("thead").replaceChildren(); table.querySelector("tbody").replaceChildren();
    status(st, "loading predictions…");
    try {
      const r = await fetch(`/api/v1/taxa/${enc(t.id)}/predictions?limit=500&evidence=false`, { headers: { Accept: "application/json" } });
      const page = await r.json();
      if (!r.ok) { status(st, r.status === 404 ? `no ML predictions for ${t.name || t.id}` : `predictions failed: ${page.detail}`, r.status !== 404); return; }
      const rows = page.items.map((x) => {
        const [cur, verdict] = curated(x);
        return [el("span", { class: "trait", "data-trait": x.trait }, (x.trait_label || x.trait) + (x.region ? ` (${x.region})` : "")), predicted(x), String(x.n), tier(x.tier),
          `${x.model} ${x.model_version}`, cur, verdict];
      });
      table.querySelector("thead").replaceChildren(el("tr", {}, ...["trait", "predicted", "n", "tier", "model", "curated / inferred", "agreement"].map((h) => el("th", {}, h))));
      table.querySelector("tbody").replaceChildren(...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))));
      status(st, `${page.total} predicted trait${page.total === 1 ? "" : "s"} (taxon-level summaries of image predictions)`);
    } catch (e) { status(st, `predictions failed: ${e.message}`, true); }
  }

  function status(node, text, isError = false) { node.textContent = text; node.classList.toggle("error", isError); }

  window.traitkgPredictions = { showTaxon };
})();
