// Ancestral states of the shown anatomy term's presence/absence on the tree (POST /api/v1/comparative/runs,
// nothing written): the server draws the tree with state pies at the nodes; the page shows the SVG.
"use strict";

(function () {
  const $ = (s) => document.querySelector(s);
  let term = null;

  function status(text, isError = false) {
    const node = $("#asr-status");
    node.textContent = text; node.classList.toggle("error", isError);
  }

  async function run() {
    if (!term) { status("open an anatomy term first", true); return; }
    status("reconstructing…");
    try {
      const trees = await (await fetch("/api/v1/trees?limit=1", { headers: { Accept: "application/json" } })).json();
      if (!trees.items || !trees.items.length) { status("no tree is loaded", true); return; }
      const method = $("#asr-method").value;
      const r = await fetch("/api/v1/comparative/runs", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ tree: trees.items[0].name, method, entity: term.id, write: false, svg: true }),
      });
      const body = await r.json();
      if (!r.ok) { status(body.detail || `${r.status}`, true); return; }
      const doc = new DOMParser().parseFromString(body.svg, "image/svg+xml");
      const svg = document.importNode(doc.documentElement, true);
      svg.setAttribute("id", "asr-picture");
      $("#asr-svg").replaceChildren(svg);
      const res = body.result;
      const head = method === "fitch" ? `parsimony score ${res.score}` : `log-likelihood ${res.loglik.toFixed(3)}`;
      status(`${method}: ${body.match.matched} taxa on ${body.tree}, ${body.match.unmatched} unmatched; ${head}; ` +
             `${body.nodes.length} internal nodes`);
    } catch (e) { status(e.message, true); }
  }

  document.addEventListener("traitkg:term", (ev) => {
    term = ev.detail;
    $("#asr").hidden = false;
    $("#asr-svg").replaceChildren();
    status(`ancestral states of ${term.label || term.id} presence on the tree`);
  });
  window.addEventListener("DOMContentLoaded", () => { const b = $("#asr-run"); if (b) b.addEventListener("click", run); });
  window.traitkgComparative = { run };
})();
