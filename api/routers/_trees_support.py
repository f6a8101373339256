"""Tree answers that keep going when some ids are unknown: per-id diagnostics, flat JSON trees."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from kg.core.errors import NotFound, TraitKGError


class Diagnostic(BaseModel):
    """What happened to one requested id."""

    id: str
    status: str = Field(description="found | approximate | not_found | ambiguous")
    node: int | None = None
    matched: str | None = Field(None, description="The tip label used, when not the id itself.")
    message: str | None = None


class IdsIn(BaseModel):
    """Tips, nodes or taxa: labels (``Danio rerio``/``Danio_rerio``), ``node:N``, node IRIs,
    taxon CURIEs (``taxon:Danio_rerio``) or genera."""

    ids: list[str] = Field(min_length=1, max_length=20_000)
    fuzzy: bool = Field(True, description="Resolve unknown names by fuzzy matching to tip labels.")


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def locate(kg: Any, tree: Any, refs: list[str], *, fuzzy: bool = True) -> tuple[list[int], list[Diagnostic]]:
    """Node ids for the refs that resolve (in request order, duplicates dropped), and one
    diagnostic per ref. Unknown names fall back to name resolution against the tree's tips."""
    ids: list[int] = []
    seen: set[int] = set()
    diags: list[Diagnostic] = []
    unresolved: list[tuple[int, str, str]] = []
    stripped = [r.strip() for r in refs]
    found = tree.index.exact_ids(stripped)  # one batched probe: the common case, tip labels as written
    if found is not None:
        for ref, v in zip(refs, found.tolist()):
            diags.append(Diagnostic(id=ref, status="found", node=v))
            if v not in seen:
                seen.add(v)
                ids.append(v)
        return ids, diags
    for ref in refs:
        try:
            v = tree.node(ref.strip()).id
        except NotFound as exc:
            unresolved.append((len(diags), ref, str(exc)))
            diags.append(Diagnostic(id=ref, status="not_found", message=str(exc)))
            continue
        except TraitKGError as exc:  # e.g. an ambiguous label
            diags.append(Diagnostic(id=ref, status="ambiguous", message=str(exc)))
            continue
        diags.append(Diagnostic(id=ref, status="found", node=v))
        if v not in seen:
            seen.add(v)
            ids.append(v)
    if unresolved and fuzzy:
        matches = kg.resolve([r for _, r, _ in unresolved], tree=tree.name)
        for (k, ref, msg), m in zip(unresolved, matches):
            if m.status in ("matched", "approximate") and m.matched_name:
                try:
                    v = tree.node(m.matched_name).id
                except TraitKGError:
                    continue
                how = m.method + (f", score {m.score}" if m.score is not None else "")
                diags[k] = Diagnostic(id=ref, status="approximate", node=v, matched=m.matched_name,
                                      message=f"resolved by {how}")
                if v not in seen:
                    seen.add(v)
                    ids.append(v)
            elif m.status == "ambiguous":
                names = ", ".join(str(c.get("name")) for c in m.candidates[:5])
                diags[k] = Diagnostic(id=ref, status="ambiguous", message=f"{msg}; candidates: {names}")
    return ids, diags


def flat_tree(tree: Any, nodes: list[int], parents: list[int], lengths: list[float]) -> list[dict[str, Any]]:
    """A tree as a flat preorder list of nodes (no nesting, so any depth serialises)."""
    ix = tree.index
    out = []
    for pos, (v, p, ln) in enumerate(zip(nodes, parents, lengths)):
        out.append({"index": pos, "node": int(v), "parent": None if p < 0 else int(p),
                    "name": ix.names[v] or None, "length": _num(ln), "is_tip": bool(ix.size[v] == 1)})
    return out
