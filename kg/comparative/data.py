"""Traits as comparative methods take them, and their tips on a loaded tree.

A :class:`Trait` is a plain table ``taxon -> value`` (plus ``taxon -> standard error`` for
continuous values, e.g. per-species means of image predictions) with the graphs it came from.
It is read from a TSV/CSV file (``taxon, value[, se]``), built from rows, or taken from the KG's
presence/absence calls of an anatomical entity (:func:`presence_trait`). :func:`match_tips`
resolves its taxa to the tips of a loaded tree through :mod:`kg.core.names` and reports what did not match.

>>> t = Trait.from_rows([("Danio rerio", 1.5, 0.1), ("Homo sapiens", 3.0, None)], name="size")
>>> t.kind, t.se["Danio rerio"]
('continuous', 0.1)
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kg.core.errors import ValidationError

log = logging.getLogger(__name__)


@dataclass
class Trait:
    """``values``: taxon name -> float (continuous) or state label / list of labels (discrete)."""

    name: str
    kind: str  # continuous | discrete
    values: dict[str, Any]
    se: dict[str, float] | None = None
    sources: list[str] = field(default_factory=list)  # graph IRIs the values come from
    source: str = "table"
    columns: list[str] | None = None  # multivariate: the traits, in the order of each value list

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, ...]], *, name: str = "trait", kind: str | None = None,
                  sources: list[str] | None = None, source: str = "table") -> Trait:
        """From ``(taxon, value)`` or ``(taxon, value, se)`` rows; numbers make it continuous."""
        values: dict[str, Any] = {}
        se: dict[str, float] = {}
        repeated: list[str] = []
        numeric = True
        for i, row in enumerate(rows, start=1):
            if len(row) < 2:
                raise ValidationError(f"row {i}: expected taxon and value, got {row!r}")
            taxon, v = str(row[0]).strip(), row[1]
            if not taxon:
                raise ValidationError(f"row {i}: empty taxon name")
            if taxon in values:
                repeated.append(taxon)
            values[taxon] = v
            if numeric and not _is_number(v):
                numeric = numeric and v in (None, "", "NA", "?")
            if len(row) > 2 and row[2] not in (None, "", "NA"):
                try:
                    s = float(row[2])
                except (TypeError, ValueError):
                    raise ValidationError(f"row {i}: standard error {row[2]!r} of {taxon!r} is not a number") from None
                if not math.isfinite(s) or s < 0:
                    raise ValidationError(f"row {i}: standard error {row[2]!r} of {taxon!r} must be finite and >= 0")
                se[taxon] = s
        if not values:
            raise ValidationError("the trait table has no rows")
        if repeated:
            uniq = list(dict.fromkeys(repeated))
            log.warning("trait %s: %d taxa have more than one row, the last one kept: %s%s", name, len(uniq),
                        ", ".join(uniq[:5]), " ..." if len(uniq) > 5 else "")
        k = kind or ("continuous" if numeric else "discrete")
        if k not in ("continuous", "discrete"):
            raise ValidationError(f"trait kind {k!r}: expected 'continuous' or 'discrete'")
        if k == "continuous":
            values = {t: (float(v) if _is_number(v) else float("nan")) for t, v in values.items()}
        else:
            values = {t: (None if v in (None, "", "NA") else str(v)) for t, v in values.items()}
        return cls(name, k, values, se or None, list(sources or []), source)

    def as_discrete(self) -> Trait:
        """The same trait with integer values as state labels (itself if any value is fractional)."""
        if self.kind == "discrete":
            return self
        vals: dict[str, Any] = {}
        for t, v in self.values.items():
            if math.isnan(v):
                vals[t] = None
            elif float(v).is_integer():
                vals[t] = str(int(v))
            else:
                return self
        return Trait(self.name, "discrete", vals, None, self.sources, self.source)

    @classmethod
    def read_columns(cls, path: str | Path, columns: list[str], *, name: str | None = None,
                     taxon_column: str | None = None) -> Trait:
        """Several numeric columns of one table as a multivariate trait (taxon -> list of values,
        ``nan`` where a cell is empty or ``NA``)."""
        per = [cls.read(path, column=c, kind="continuous", taxon_column=taxon_column) for c in columns]
        taxa = list(dict.fromkeys(t for p in per for t in p.values))
        values = {t: [float(p.values.get(t, float("nan"))) for p in per] for t in taxa}
        return cls(name or "+".join(columns), "multivariate", values, None, [], str(path), list(columns))

    @classmethod
    def read(cls, path: str | Path, *, name: str | None = None, kind: str | None = None,
             column: str | None = None, se_column: str | None = None, taxon_column: str | None = None) -> Trait:
        """A TSV/CSV table with a header: the taxon column (``taxon_column``, else ``taxon``, else
        the first), the value column (``column``, else ``value``, else the second) and the standard
        errors (``se_column``, else a column named ``se`` if there is one)."""
        p = Path(path)
        if not p.is_file():
            raise ValidationError(f"{p}: no such trait table")
        text = p.read_text(encoding="utf-8-sig")
        dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
        reader = csv.DictReader(text.splitlines(), dialect=dialect)
        cols = reader.fieldnames or []
        if len(cols) < 2:
            raise ValidationError(f"{p}: expected a header with a taxon column and a value column, got {cols}")
        tcol = taxon_column or ("taxon" if "taxon" in cols else cols[0])
        vcol = column or ("value" if "value" in cols else cols[1])
        for what, c in (("taxon", tcol), ("value", vcol), ("standard-error", se_column)):
            if c is not None and c not in cols:
                raise ValidationError(f"{p}: no {what} column {c!r}; columns are {', '.join(cols)}")
        scol = se_column or ("se" if "se" in cols and vcol != "se" else None)
        rows = []
        for line, r in enumerate(reader, start=2):
            if scol and r.get(scol) not in (None, "", "NA"):
                try:
                    float(r[scol])
                except ValueError:
                    raise ValidationError(f"{p}: line {line}, column {scol!r}: standard error {r[scol]!r} of "
                                          f"{r[tcol]!r} is not a number") from None
            rows.append((r[tcol], r[vcol], r[scol] if scol else None))
        return cls.from_rows(rows, name=name or vcol, kind=kind, source=str(p))


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def presence_trait(traits: Any, entity: str) -> Trait:
    """Presence/absence of an anatomical entity per taxon from the KG's calls (asserted and
    inferred; a taxon with both is polymorphic). ``traits``: a :class:`kg.traits.Traits`."""
    from ontologies.prefixes import contract, expand

    iri = expand(entity)
    idx = traits.index
    values: dict[str, Any] = {}
    for (taxon, e, value), _call in traits.calls().items():
        if e != iri:
            continue
        name = idx.taxa.get(taxon, taxon.rsplit("/", 1)[-1].replace("_", " "))
        prev = values.get(name)
        values[name] = value if prev in (None, value) else ["absent", "present"]
    if not values:
        raise ValidationError(f"no presence/absence calls for {entity}: load phenotypes that mention it "
                              "(and run `traitkg traits infer`)")
    sources = [g.iri for g in idx.phenotype_graphs + idx.closure_graphs]
    return Trait(f"{contract(iri)} presence", "discrete", values, None, sources, "presence-absence")


@dataclass
class TipMatch:
    """Tips of the tree with a trait value: ``tips`` (node ids of the full tree) and, per tip, the
    value (and se); ``report`` says what happened to every trait taxon."""

    tips: np.ndarray
    values: dict[str, Any]
    se: dict[str, float] | None
    matched: list[dict[str, Any]]
    unmatched: list[dict[str, Any]]
    no_value: list[str] = field(default_factory=list)  # tips matched but left out: no value (empty, NA)
    same_tip: list[dict[str, str]] = field(default_factory=list)  # a second trait taxon on an already used tip

    def summary(self) -> dict[str, Any]:
        """Counts, every unmatched taxon by name, every approximate match and every matched tip
        left out for want of a value (the full lists)."""
        out = {"matched": len(self.matched), "unmatched": len(self.unmatched),
               "unmatched_taxa": [u["name"] for u in self.unmatched],
               "approximate": [m for m in self.matched if m["status"] != "matched"]}
        if self.no_value:
            out["no_value_taxa"] = list(self.no_value)
        if self.same_tip:
            out["same_tip"] = list(self.same_tip)
        return out


def match_tips(tree: Any, trait: Trait, *, minimum: int = 3, store: Any = None, fuzzy: bool = False) -> TipMatch:
    """Put a trait's taxa on a loaded tree's tips (a :class:`kg.trees.Tree`): exact tip labels
    first, then name resolution over the tree's tips (:func:`kg.core.names.resolver`, synonyms from the
    store); a taxon that resolves to no tip is reported, never fatal, unless fewer than ``minimum``
    taxa match."""
    from kg.core.names import normalise_name, resolver, taxon_iri

    ix = tree.index
    tip_by_iri = {taxon_iri(normalise_name(ix.names[i])): i for i in ix.tips.tolist() if ix.names[i]}
    names = list(trait.values)
    found = ix.exact_ids(names)
    ids: list[int | None] = [None] * len(names)
    matched: list[dict[str, Any]] = []
    unmatched: list[dict[str, Any]] = []
    todo = []
    for k, nm in enumerate(names):
        i = int(found[k]) if found is not None and found[k] >= 0 else None
        if i is None:
            i = tip_by_iri.get(taxon_iri(normalise_name(nm)))
        if i is not None and ix.size[i] == 1:
            ids[k] = i
            matched.append({"name": nm, "tip": ix.names[i], "status": "matched", "method": "exact"})
        else:
            todo.append(k)
    if todo:
        res = resolver(store, tree=tree) if store is not None else None
        for k in todo:
            nm = names[k]
            m = res.resolve_one(nm, fuzzy=fuzzy) if res is not None else None
            i = tip_by_iri.get(m.taxon) if m is not None and m.taxon else None
            if i is not None and m.status in ("matched", "approximate"):
                ids[k] = i
                matched.append({"name": nm, "tip": ix.names[i], "status": m.status, "method": m.method})
            else:
                unmatched.append({"name": nm, "status": m.status if m else "unmatched",
                                  "reason": "resolves to a taxon that is not a tip" if m and m.taxon else "no tip"})
    values: dict[str, Any] = {}
    se: dict[str, float] | None = {} if trait.se else None
    same_tip: list[dict[str, str]] = []
    for k, i in enumerate(ids):
        if i is None:
            continue
        tip = ix.names[i]
        v = trait.values[names[k]]
        if tip in values:  # two trait taxa on one tip: discrete -> union of states, continuous -> first kept
            same_tip.append({"taxon": names[k], "tip": tip,
                             "kept": "union of states" if trait.kind == "discrete" else "the first taxon's value"})
            if trait.kind == "discrete" and values[tip] != v:
                a = values[tip] if isinstance(values[tip], list) else [values[tip]]
                b = v if isinstance(v, list) else [v]
                values[tip] = sorted({s for s in a + b if s is not None})
            continue
        values[tip] = v
        if se is not None and trait.se and names[k] in trait.se:
            se[tip] = trait.se[names[k]]
    before = list(values)
    if trait.kind == "continuous":
        values = {t: v for t, v in values.items() if v is not None and not math.isnan(v)}
    elif trait.kind == "multivariate":
        values = {t: v for t, v in values.items() if any(not math.isnan(x) for x in v)}
    no_value = [t for t in before if t not in values]
    if len(values) < minimum:
        raise ValidationError(f"only {len(values)} of {len(names)} taxa of {trait.name!r} match tips of tree "
                              f"{tree.name!r} (minimum {minimum}); unmatched e.g. "
                              f"{', '.join(u['name'] for u in unmatched[:5]) or '-'}")
    tips = np.asarray(sorted(ix.ids(list(values)).tolist()), dtype=np.int64)
    return TipMatch(tips, values, se, matched, unmatched, no_value, same_tip)
