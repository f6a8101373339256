"""OTU name resolution: each OTU of a matrix to a taxon (by its VTO id, else its label), and the
per-OTU rows of the names report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loaders.phenex.records import PhenexMatrix
from loaders.report import LoadReport


def resolve_otus(m: PhenexMatrix, resolver: Any, memo: dict[tuple[str, str | None], Any] | None = None) -> list[Any]:
    """One :class:`kg.core.names.NameMatch` per OTU, in order: its VTO id first (an exact match when a
    taxon of the resolver's taxonomy or trees carries it), else its label (exact, synonym, genus,
    fuzzy...). Taxa other phenotype matrices minted are not matches: answers do not depend on the
    order files are loaded in."""
    import copy

    out = []
    memo = {} if memo is None else memo  # (label, VTO id) -> match: a batch names many taxa more than once
    # the matrix's fuzzy searches at once (the same answers, in a fraction of the time)
    resolver.prefetch(dict.fromkeys(o.label for o in m.otus if (o.label, o.vto) not in memo))
    for o in m.otus:
        hit = memo.get((o.label, o.vto))
        if hit is not None:
            out.append(copy.deepcopy(hit))
            continue
        if o.vto:
            by_id = resolver.resolve_one(o.vto)
            if by_id.status == "matched" and by_id.taxon in resolver.taxa:
                hit = by_id
                hit.name = o.label
        if hit is None:
            hit = resolver.resolve_one(o.label)
            if o.vto:
                hit.flags = [*hit.flags, f"VTO id {o.vto} not known to the store"]
        memo[(o.label, o.vto)] = hit
        out.append(copy.deepcopy(hit))
    return out


NAME_STATUSES = ("matched", "approximate", "ambiguous", "unmatched")


def names_report(reports: Iterable[LoadReport]) -> list[dict[str, Any]]:
    """One row per OTU of each loaded file: file, OTU label, status, method, taxon, candidates."""
    rows = []
    for r in reports:
        for x in getattr(r, "names", []):
            d = x.to_dict()
            rows.append({"source": r.source, "graph": r.graph, **d})
    return rows
