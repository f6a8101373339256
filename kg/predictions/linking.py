"""Linking a parsed prediction table to the store: taxon names to taxon nodes (through
:mod:`kg.core.names` resolution) and trait labels to ontology terms (through the term index).

Only exact matches count (a name, a synonym or an external id; a label or an exact synonym of one
term); everything else is left unmapped, so the loader reports the rows as unknown taxon / trait,
with the nearest candidates in the report's messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kg.core.names import normalise_name, taxon_iri
from kg.taxon_names import store_resolver

log = logging.getLogger(__name__)


@dataclass
class Linking:
    """Name -> taxon IRI, label -> term IRI, and what happened to each name and label."""

    taxa: dict[str, str] = field(default_factory=dict)
    traits: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _looks_like_id(text: str) -> bool:
    return text.startswith(("http://", "https://")) or (":" in text and " " not in text)


def link_taxa(store: Any, names: list[str], *, new_taxa: bool = False, resolve: Any = None) -> tuple[dict[str, str], list[str]]:
    """Exact resolution of the distinct names; with ``new_taxa`` unknown names get their own
    taxon IRI (:func:`kg.core.names.taxon_iri`) instead of being rejected."""
    res = resolve or store_resolver(store)
    out: dict[str, str] = {}
    notes: list[str] = []
    minted: list[str] = []
    for name, m in zip(names, res.resolve(names, fuzzy=False)):
        if m.status == "matched" and m.taxon:
            out[name] = m.taxon
            if m.method not in ("exact",):
                notes.append(f"taxon {name!r} matched {m.matched_name!r} by {m.method}")
        elif new_taxa and not _looks_like_id(name):
            out[name] = taxon_iri(normalise_name(name))
            minted.append(name)
    if minted:  # one note, not one per name (a table of a new group may name hundreds)
        shown = ", ".join(repr(n) for n in sorted(minted)[:5])
        more = f" and {len(minted) - 5} more" if len(minted) > 5 else ""
        notes.append(f"{len(minted)} taxon name(s) not in a loaded taxonomy or tree were minted as new taxa "
                     f"(--new-taxa): {shown}{more}")
    return out, notes


def link_traits(terms: Any, labels: list[str]) -> tuple[dict[str, str], list[str]]:
    """Labels (not CURIEs or IRIs) to the one term carrying that label or exact synonym."""
    out: dict[str, str] = {}
    notes: list[str] = []
    for lab in labels:
        if not lab or _looks_like_id(lab):
            continue
        hits = [h for h in terms.search(lab, limit=3, fuzzy=False) if h.match == "exact"]
        if len(hits) == 1:
            out[lab] = terms.iri(hits[0].curie)
            notes.append(f"trait label {lab!r} mapped to {hits[0].curie} ({hits[0].field})")
        elif len(hits) > 1:
            notes.append(f"trait label {lab!r} is ambiguous: {', '.join(h.curie for h in hits)}")
    return out, notes


def link(store: Any, frame: pd.DataFrame | None, *, terms: Any = None, trait_labels: dict[str, str] | None = None,
         new_taxa: bool = False, resolve: Any = None, taxa_names: list[str] | None = None,
         trait_names: list[str] | None = None) -> Linking:
    """Resolve the distinct taxa and trait labels of a table's frame (or the distinct
    ``taxa_names`` and ``trait_names`` a chunked read of the table found)."""
    names = taxa_names if taxa_names is not None else [x for x in pd.unique(frame["taxon"]) if x]
    taxa, notes = link_taxa(store, names, new_taxa=new_taxa, resolve=resolve)
    seen = trait_names if trait_names is not None else list(pd.unique(frame["trait"]))
    labels = [x for x in seen if x and x not in (trait_labels or {}) and not _looks_like_id(x)]
    traits: dict[str, str] = {}
    if labels and terms is not None:
        traits, tnotes = link_traits(terms, labels)
        notes += tnotes
    return Linking(taxa, traits, notes)


__all__ = ["Linking", "link", "link_taxa", "link_traits"]
