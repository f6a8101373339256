// Identification keys on the traitkg page: pick a key, answer couplet by couplet, see the path,
// the taxa still possible and the result. A lead that hands over to a sub-key goes on in it (the
// path names the key of each step); after a result with a key of its own, a button goes on in it.
// Talks only to /api/v1/keys. Needs el() from app.js.
"use strict";

(function () {
  const $ = (s) => document.querySelector(s);
  const enc = (ref) => ref.split("/").map(encodeURIComponent).join("/");
  const state = { key: null, answers: [] };

  async function getJSON(url, opts = {}) {
    const r = await fetch(url, { headers: { Accept: "application/json", "Content-Type": "application/json" }, ...opts });
    const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
    if (!r.ok) { const e = new Error(body && body.detail ? body.detail : `${r.status}`); e.status = r.status; throw e; }
    return body;
  }
  function status(text, isError = false) { const n = $("#key-status"); n.textContent = text; n.classList.toggle("error", isError); }
  // media links: only http(s) addresses become links (a key file is not trusted to name a script)
  function mediaLinks(media) {
    return (media || []).filter((m) => /^https?:\/\//i.test(m.href)).map((m) =>
      el("a", { class: "key-media", href: m.href, target: "_blank", rel: "noopener noreferrer" }, ` [${m.type || "media"}: ${m.label || m.id}]`));
  }
  function destination(x) {
    if (x.item) return `→ ${x.item}`;
    const ret = x.reticulation ? " (reticulation)" : "";
    if (x.subkey) return `→ key ${x.subkey}${x.subkey_couplet ? `, couplet ${x.subkey_couplet}` : ""}${ret}`;
    return `→ ${x.to_couplet || "?"}${ret}`;
  }

  async function listKeys() {
    const q = $("#key-filter").value.trim();
    const sel = $("#key-select");
    try {
      const page = await getJSON("/api/v1/keys?" + new URLSearchParams({ limit: "200", ...(q ? { q } : {}) }));
      sel.replaceChildren(...page.items.map((k) => el("option", { value: k.ref }, `${k.title} (${k.ref}, ${k.leads} leads)`)));
      status(page.total ? `${page.total} key${page.total === 1 ? "" : "s"}${page.total > page.items.length ? `, first ${page.items.length} shown` : ""}` : "no keys loaded");
    } catch (e) { status(e.status === 404 ? "keys are not available on this server" : "listing keys failed: " + e.message, true); }
  }

  async function start(ref) {
    state.key = ref; state.answers = [];
    await step();
    let about = $("#key-about");
    if (!about) { about = el("p", { id: "key-about", class: "meta" }); $("#key-title").after(about); }
    about.replaceChildren();
    try {
      const d = await getJSON(`/api/v1/keys/${enc(ref)}`);
      about.append(d.description || "", ...mediaLinks(d.media));
    } catch (e) { /* the walk itself reports errors */ }
  }

  async function step() {
    const body = JSON.stringify({ answers: state.answers });
    let st;
    try { st = await getJSON(`/api/v1/keys/${enc(state.key)}/identify`, { method: "POST", body }); }
    catch (e) { status(e.message, true); return; }
    $("#key-walk").hidden = false;
    $("#key-title").textContent = st.in_key && st.in_key !== st.key ? `${st.key} → ${st.in_key}` : st.key;
    $("#key-path").replaceChildren(...st.path.map((p, i) => el("li", { "data-key": p.key },
      el("a", { class: "key-back", "data-step": String(i), onclick: () => { state.answers = state.answers.slice(0, i); step(); } }, p.lead),
      " ", p.statement, p.key !== st.key ? el("span", { class: "meta" }, ` (${p.key})`) : null,
      p.item && i < st.path.length - 1 ? el("span", { class: "meta" }, ` → ${p.item}`) : null,
      p.subkey ? el("span", { class: "meta key-handover" }, ` → key ${p.subkey}`) : null)));
    let question = $("#key-question");
    if (!question) { question = el("p", { id: "key-question", class: "meta" }); $("#key-couplet").after(question); }
    question.textContent = st.question || "";
    const leads = $("#key-leads"), result = $("#key-result");
    leads.replaceChildren(); result.replaceChildren();
    if (st.done) {
      $("#key-couplet").textContent = "";
      if (st.result) {
        result.append(el("strong", {}, "Result: "), el("span", { id: "key-result-name" }, st.result));
        if (st.shortcut.length) result.append(` (${st.shortcut.join(", ")})`);
        for (const sk of st.subkeys) result.append(" ", el("button", { type: "button", class: "key-subkey", "data-key": sk,
          onclick: () => { state.answers.push(sk); step(); } }, `continue with key ${sk}`));
      } else {
        result.append(el("strong", { class: "error" }, "Dead end: "), st.dead_end || "");
      }
      status(`identified in ${st.path.length} step${st.path.length === 1 ? "" : "s"}`);
    } else {
      $("#key-couplet").textContent = `Couplet ${st.couplet}` + (st.in_key !== st.key ? ` of key ${st.in_key}` : "");
      for (const x of st.leads) {
        leads.append(el("li", {}, el("button", { type: "button", class: "key-lead", "data-lead": x.id,
          onclick: () => { state.answers.push(x.id); step(); } }, `${x.id}. ${x.statement}`),
          el("span", { class: "meta key-to" }, " " + destination(x)), ...mediaLinks(x.media)));
      }
      status(`${st.remaining.length} tax${st.remaining.length === 1 ? "on" : "a"} still possible`);
    }
    $("#key-remaining").textContent = st.remaining.length <= 30 ? st.remaining.join(", ") : `${st.remaining.slice(0, 30).join(", ")} … (+${st.remaining.length - 30})`;
  }

  function setup() {
    if (!$("#keys")) return;
    $("#key-form").addEventListener("submit", (ev) => { ev.preventDefault(); if ($("#key-select").value) start($("#key-select").value); });
    $("#key-filter").addEventListener("change", listKeys);
    $("#key-restart").addEventListener("click", () => state.key && start(state.key));
    listKeys();
  }

  window.traitkgKeys = { setup, start, listKeys };
  document.addEventListener("DOMContentLoaded", setup);
})();
