// Draw a tree from a flat preorder node list ({index, parent, name, length, is_tip}) as SVG.
// No recursion: parents always come before children in the list.
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = { present: "#2e7d32", absent: "#c62828", both: "#8e24aa", unknown: "#b0bec5" };

  function svgEl(tag, attrs) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }

  // nodes: flat list; states: Map tipName -> "present" | "absent" | "both"; returns an <svg>.
  function drawTree(nodes, states = new Map(), opts = {}) {
    const n = nodes.length, rowH = opts.rowHeight || 16, width = opts.width || 760, labelW = 230;
    const useLengths = nodes.slice(1).every((x) => x.length !== null && x.length !== undefined);
    const x = new Array(n).fill(0), y = new Array(n).fill(0), kids = Array.from({ length: n }, () => []);
    for (let i = 1; i < n; i++) {
      const p = nodes[i].parent;
      kids[p].push(i);
      x[i] = x[p] + (useLengths ? Math.max(nodes[i].length, 0) : 1);
    }
    let row = 0;
    for (let i = 0; i < n; i++) if (kids[i].length === 0) y[i] = row++ * rowH + rowH;
    for (let i = n - 1; i >= 0; i--) if (kids[i].length) y[i] = (y[kids[i][0]] + y[kids[i][kids[i].length - 1]]) / 2;
    const maxX = Math.max(...x) || 1, scale = (width - labelW - 20) / maxX;
    const svg = svgEl("svg", { width, height: row * rowH + rowH, viewBox: `0 0 ${width} ${row * rowH + rowH}`, role: "img" });
    svg.append(svgEl("title", {})); svg.firstChild.textContent = opts.title || "tree";
    const X = (i) => 10 + x[i] * scale;
    for (let i = 1; i < n; i++) {
      const p = nodes[i].parent;
      svg.append(svgEl("path", { class: "branch", d: `M${X(p)},${y[p]}V${y[i]}H${X(i)}` }));
    }
    for (let i = 0; i < n; i++) {
      if (kids[i].length) continue;
      const name = nodes[i].name || `node ${nodes[i].node}`;
      const st = states.get(name) || "unknown";
      const dot = svgEl("circle", { cx: X(i), cy: y[i], r: 4.5, fill: COLORS[st], class: `tip tip-${st}`, "data-tip": name, "data-state": st });
      const label = svgEl("text", { x: X(i) + 8, y: y[i] + 4, class: "tip-label" });
      label.textContent = name.replace(/_/g, " ");
      const t = svgEl("title", {}); t.textContent = `${name.replace(/_/g, " ")}: ${st}`;
      dot.append(t);
      svg.append(dot, label);
    }
    return svg;
  }

  function legend(entityLabel) {
    const wrap = document.createElement("div");
    wrap.className = "legend";
    wrap.append(document.createTextNode(entityLabel ? `${entityLabel}: ` : ""));
    for (const [k, c] of Object.entries(COLORS)) {
      const s = document.createElement("span"), i = document.createElement("i");
      i.style.background = c; s.append(i, k); wrap.append(s);
    }
    return wrap;
  }

  window.traitkgTree = { drawTree, legend, COLORS };
})();
