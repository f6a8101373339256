"""OTU name resolution: each OTU of a matrix to a taxon (by its VTO id, else its label), and the
per-OTU rows of the names report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loaders.phenex.records import PhenexMatrix
from loaders.report import LoadReport


def resolve_otus(m: PhenexMatrix, resolver: Any, memo: dict[tuple[str, str | None], Any] | None = None, *,
                 fuzzy: bool = True) -> list[Any]:
    """One :class:`kg.core.names.NameMatch` per OTU, in order: its VTO id first (an exact match when a
    taxon of the resolver's taxonomy or trees carries it), else its label (exact, synonym, genus,
    fuzzy...). Taxa other phenotype matrices minted are not matches: answers do not depend on the
    order files are loaded in. ``fuzzy=False`` leaves the fuzzy searches out: the matched OTUs (the
    links a matrix's graph holds) are the same, the others lack their fuzzy answers
    (:func:`complete_fuzzy` gives them)."""
    import copy

    out = []
    memo = {} if memo is None else memo  # (label, VTO id) -> match: a batch names many taxa more than once
    if fuzzy:  # the matrix's fuzzy searches at once (the same answers, in a fraction of the time)
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
            hit = _by_label(resolver, o, fuzzy)
        memo[(o.label, o.vto)] = hit
        out.append(copy.deepcopy(hit))
    return out


def _by_label(resolver: Any, o: Any, fuzzy: bool) -> Any:
    hit = resolver.resolve_one(o.label, fuzzy=fuzzy)
    if o.vto:
        hit.flags = [*hit.flags, f"VTO id {o.vto} not known to the store"]
    return hit


def complete_fuzzy(matrices: list[tuple[list[Any], list[Any]]], resolver: Any) -> None:
    """Give the OTUs that :func:`resolve_otus` with ``fuzzy=False`` did not match their full answers
    (``matrices``: each matrix's OTUs and its matches, changed in place), as :func:`resolve_otus` with
    ``fuzzy=True`` gives them, with the fuzzy searches of the whole batch at once: each search
    passes over the whole universe (2.78M names on the 2.4M-tip store) 64 names at a time, so a
    batch of 47 matrices searched matrix by matrix made 55 passes where the batch needs 24."""
    import copy

    todo = [(names, i, o) for otus, names in matrices for i, (o, x) in enumerate(zip(otus, names))
            if x.status != "matched"]
    resolver.prefetch(dict.fromkeys(o.label for _, _, o in todo))
    memo: dict[tuple[str, str | None], Any] = {}
    for names, i, o in todo:
        hit = memo.get((o.label, o.vto))
        if hit is None:
            hit = memo[(o.label, o.vto)] = _by_label(resolver, o, True)
        names[i] = copy.deepcopy(hit)


NAME_STATUSES = ("matched", "approximate", "ambiguous", "unmatched")


def names_report(reports: Iterable[LoadReport]) -> list[dict[str, Any]]:
    """One row per OTU of each loaded file: file, OTU label, status, method, taxon, candidates."""
    rows = []
    for r in reports:
        for x in getattr(r, "names", []):
            d = x.to_dict()
            rows.append({"source": r.source, "graph": r.graph, **d})
    return rows
