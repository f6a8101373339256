"""Pictures of ancestral states: a rectangular tree with pie charts of state probabilities (or
parsimony state sets) at internal nodes and coloured tip states; for continuous traits branches and
nodes coloured by value. SVG is written directly; PNG goes through matplotlib (imported only then).

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,C:2);")
>>> svg = tree_svg(t, node_probs={1: {"0": 0.8, "1": 0.2}}, tip_states={2: "0", 3: "0", 4: "1"})
>>> svg.startswith("<svg") and svg.count("<path") >= 2
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError

PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
           "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6"]


@dataclass
class Layout:
    x: np.ndarray  # distance from the root (or edge count without lengths), scaled to [0, 1]
    y: np.ndarray  # tip rank; internal nodes midway between their first and last child


def layout(tree: PhyloTree) -> Layout:
    L = tree.length.copy()
    if not np.isfinite(L[1:]).all():
        L = np.ones(tree.n_nodes)
    L[0] = 0.0
    h = np.zeros(tree.n_nodes)
    for lv in reversed(tree.levels):
        h[lv.kids] = h[tree.parent[lv.kids]] + L[lv.kids]
    top = float(h.max()) or 1.0
    y = np.zeros(tree.n_nodes)
    y[tree.tips] = np.arange(tree.n_tips)
    for lv in tree.levels:
        first = y[lv.kids[lv.start[:-1]]]
        last = y[lv.kids[lv.start[1:] - 1]]
        y[lv.nodes] = (first + last) / 2.0
    return Layout(h / top, y)


FIXED = {"present": "#2e7d32", "absent": "#c62828"}  # as the web page paints tips


def state_order(node_probs: dict[Any, dict[str, float]] | None, tip_states: dict[Any, Any] | None) -> list[str]:
    """The states in the order they first appear (node probabilities, then tip states): one
    colour each, the same in the SVG and the PNG."""
    states: list[str] = []
    for d in (node_probs or {}).values():
        states += [s for s in d if s not in states]
    for v in (tip_states or {}).values():
        for s in (v if isinstance(v, (list, tuple, set)) else [v]):
            if s is not None and str(s) not in states:
                states.append(str(s))
    return states


def _colours(states: list[str]) -> dict[str, str]:
    return {s: FIXED.get(s, PALETTE[i % len(PALETTE)]) for i, s in enumerate(states)}


def _ramp(v: float, lo: float, hi: float) -> str:
    t = 0.5 if hi <= lo else min(1.0, max(0.0, (v - lo) / (hi - lo)))
    a, b = (0x2c, 0x7b, 0xb6), (0xd7, 0x19, 0x1c)  # blue -> red
    return "#%02x%02x%02x" % tuple(int(round(p + (q - p) * t)) for p, q in zip(a, b))


def tree_svg(tree: PhyloTree, *, node_probs: dict[int, dict[str, float]] | None = None,
             tip_states: dict[int, Any] | None = None, node_values: dict[int, float] | None = None,
             tip_values: dict[int, float] | None = None, title: str = "", width: int = 900) -> str:
    """The tree as SVG text. Keys are node ids of ``tree``; ``tip_states`` values are a state or
    a list of states; ``node_probs`` maps state -> probability (pies)."""
    lay = layout(tree)
    n = tree.n_tips
    row = 14 if n <= 400 else 4
    label_w = 220 if n <= 400 else 0
    top, left = 40, 20
    plot_w = width - left - label_w - 20
    height = top + row * n + 30
    X = left + lay.x * plot_w
    Y = top + lay.y * row
    states = state_order(node_probs, tip_states)
    col = _colours(states)
    vals = list((node_values or {}).values()) + list((tip_values or {}).values())
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{max(3, row - 3)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">{escape(title)}</text>']
    p = tree.parent
    for v in range(1, tree.n_nodes):
        a = int(p[v])
        colour = "#333"
        if node_values is not None and v in (node_values or {}):
            colour = _ramp(node_values[v], lo, hi)
        elif tip_values is not None and v in tip_values:
            colour = _ramp(tip_values[v], lo, hi)
        out.append(f'<path d="M{X[a]:.1f},{Y[v]:.1f}H{X[v]:.1f}" stroke="{colour}" fill="none" stroke-width="1.2"/>')
    for lv in tree.levels:
        for j, a in enumerate(lv.nodes.tolist()):
            k0, k1 = lv.kids[lv.start[j]], lv.kids[lv.start[j + 1] - 1]
            out.append(f'<path d="M{X[a]:.1f},{Y[k0]:.1f}V{Y[k1]:.1f}" stroke="#333" fill="none" stroke-width="1.2"/>')
    r = max(2.0, row * 0.45)
    for v, probs in (node_probs or {}).items():
        out.extend(_pie(X[v], Y[v], r, probs, col))
    for v, val in (node_values or {}).items():
        out.append(f'<circle cx="{X[v]:.1f}" cy="{Y[v]:.1f}" r="{r:.1f}" fill="{_ramp(val, lo, hi)}" stroke="#333" '
                   f'stroke-width="0.5"><title>{val:.4g}</title></circle>')
    for v in tree.tips.tolist():
        s = (tip_states or {}).get(v)
        members = [str(x) for x in (s if isinstance(s, (list, tuple, set)) else [s]) if x is not None]
        if members:
            out.extend(_pie(X[v] + r + 1, Y[v], r * 0.8, {m: 1.0 / len(members) for m in members}, col))
        elif tip_values is not None and v in tip_values:
            out.append(f'<rect x="{X[v] + 1:.1f}" y="{Y[v] - r * 0.7:.1f}" width="{r * 1.4:.1f}" height="{r * 1.4:.1f}" '
                       f'fill="{_ramp(tip_values[v], lo, hi)}"><title>{tip_values[v]:.4g}</title></rect>')
        if label_w:
            out.append(f'<text x="{X[v] + 2 * r + 4:.1f}" y="{Y[v] + row * 0.3:.1f}" font-style="italic">'
                       f'{escape(tree.names[v].replace("_", " "))}</text>')
    ly = height - 12
    x0 = left
    for s in states:
        out.append(f'<rect x="{x0}" y="{ly - 9}" width="10" height="10" fill="{col[s]}"/>'
                   f'<text x="{x0 + 14}" y="{ly}" font-size="11">{escape(s)}</text>')
        x0 += 24 + 7 * len(s)
    if vals:
        out.append(f'<text x="{x0}" y="{ly}" font-size="11">{lo:.4g}</text>')
        for i in range(20):
            out.append(f'<rect x="{x0 + 40 + 4 * i}" y="{ly - 9}" width="4" height="10" '
                       f'fill="{_ramp(lo + (hi - lo) * i / 19, lo, hi)}"/>')
        out.append(f'<text x="{x0 + 126}" y="{ly}" font-size="11">{hi:.4g}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _pie(cx: float, cy: float, r: float, probs: dict[str, float], col: dict[str, str]) -> list[str]:
    items = [(s, float(p)) for s, p in probs.items() if p > 0]
    tip = escape(", ".join(f"{s}: {p:.3f}" for s, p in items))
    if len(items) == 1:
        return [f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{col[items[0][0]]}" stroke="#333" '
                f'stroke-width="0.5"><title>{tip}</title></circle>']
    out, a = [], -math.pi / 2
    total = sum(p for _, p in items) or 1.0
    for s, p in items:
        b = a + 2 * math.pi * p / total
        large = 1 if b - a > math.pi else 0
        x1, y1 = cx + r * math.cos(a), cy + r * math.sin(a)
        x2, y2 = cx + r * math.cos(b), cy + r * math.sin(b)
        out.append(f'<path d="M{cx:.1f},{cy:.1f}L{x1:.2f},{y1:.2f}A{r:.1f},{r:.1f} 0 {large} 1 {x2:.2f},{y2:.2f}Z" '
                   f'fill="{col[s]}" stroke="#333" stroke-width="0.3"><title>{tip}</title></path>')
        a = b
    return out


def save_plot(path: str | Path, tree: PhyloTree, **kw: Any) -> Path:
    """Write the picture as ``.svg`` (direct) or ``.png`` (matplotlib renders the same layout)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(tree_svg(tree, **kw), encoding="utf-8")
    elif suffix == ".png":
        _png(path, tree, **kw)
    else:
        raise ValidationError(f"{path}: plots are written as .svg or .png, not {suffix or 'no extension'!r}")
    return path


def _png(path: Path, tree: PhyloTree, *, node_probs: dict[int, dict[str, float]] | None = None,
         tip_states: dict[int, Any] | None = None, node_values: dict[int, float] | None = None,
         tip_values: dict[int, float] | None = None, title: str = "", width: int = 900) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Wedge

    lay = layout(tree)
    n = tree.n_tips
    fig_w = width / 100
    fig_h = max(3.0, min(60.0, 0.18 * n + 1))
    labels = n <= 400
    W = n * (fig_w / fig_h) * (0.7 if labels else 0.95)  # x in row units: pies stay round (equal aspect)
    X, Y = lay.x * W, lay.y
    fig, ax = plt.subplots(figsize=(fig_w, fig_h), dpi=100)
    p = tree.parent
    segs = [[(X[p[v]], Y[v]), (X[v], Y[v])] for v in range(1, tree.n_nodes)]
    for lv in tree.levels:
        for j, a in enumerate(lv.nodes.tolist()):
            segs.append([(X[a], Y[lv.kids[lv.start[j]]]), (X[a], Y[lv.kids[lv.start[j + 1] - 1]])])
    ax.add_collection(LineCollection(segs, colors="#333", linewidths=0.8))
    states = state_order(node_probs, tip_states)
    col = _colours(states)

    def pie(x: float, y: float, probs: dict[str, float], rad: float) -> None:
        a = 90.0
        for s, pr in probs.items():
            if pr > 0:
                ax.add_patch(Wedge((x, y), rad, a, a + 360.0 * pr, facecolor=col[s], edgecolor="#333", linewidth=0.3,
                                   zorder=4))
                a += 360.0 * pr

    for v, probs in (node_probs or {}).items():
        pie(X[v], Y[v], probs, 0.42)
    for v in tree.tips.tolist():
        s = (tip_states or {}).get(v)
        members = [str(x) for x in (s if isinstance(s, (list, tuple, set)) else [s]) if x is not None]
        if members:
            pie(X[v] + 0.5, Y[v], {m: 1.0 / len(members) for m in members}, 0.35)
        if labels:
            ax.text(X[v] + 1.1, Y[v], tree.names[v].replace("_", " "), va="center", fontsize=7, style="italic")
    vals = list((node_values or {}).values()) + list((tip_values or {}).values())
    if vals:
        pts = list((node_values or {}).items()) + list((tip_values or {}).items())
        sc = ax.scatter([X[v] for v, _ in pts], [Y[v] for v, _ in pts], c=[c for _, c in pts], cmap="coolwarm",
                        s=25, zorder=3, edgecolors="#333", linewidths=0.3)
        fig.colorbar(sc, ax=ax, shrink=0.5)
    for s in states:
        ax.scatter([], [], color=col[s], label=s)
    if states:
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_aspect("equal")
    ax.set_xlim(-1, W * (1.45 if labels else 1.02) + 1)
    ax.set_ylim(n, -1)
    ax.axis("off")
    ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def _analysis_kw(a: Any) -> dict[str, Any]:
    pt = a.phylo
    if pt is None:
        raise ValidationError("this analysis has no tree to draw")
    back = {int(o): v for v, o in enumerate(pt.source["nodes"].tolist())}
    kw: dict[str, Any] = {"title": f"{a.method}: {a.trait.name} on {a.tree}"}
    tip_ids = {pt.names[v]: v for v in pt.tips.tolist()}
    if a.trait.kind == "discrete":
        kw["tip_states"] = {tip_ids[t]: v for t, v in a.tip_values.items() if t in tip_ids}
        probs = {}
        for o, d in a.nodes.items():
            if "marginal" in d:
                probs[back[o]] = d["marginal"]
            elif "parsimony_states" in d:
                ss = d["parsimony_states"]
                probs[back[o]] = {s: 1.0 / len(ss) for s in ss}
        kw["node_probs"] = probs
    else:
        kw["tip_values"] = {tip_ids[t]: float(v) for t, v in a.tip_values.items() if t in tip_ids}
        kw["node_values"] = {back[o]: d["estimate"] for o, d in a.nodes.items() if "estimate" in d}
    return kw


def analysis_svg(a: Any) -> str:
    """SVG text of a :class:`kg.comparative.runner.Analysis` (ancestral states)."""
    return tree_svg(a.phylo, **_analysis_kw(a))


def analysis_plot(a: Any, path: str | Path) -> Path:
    """Plot a :class:`kg.comparative.runner.Analysis` (ancestral states) to ``.svg``/``.png``."""
    return save_plot(path, a.phylo, **_analysis_kw(a))
