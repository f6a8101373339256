"""OntoTrace-style matrices: taxa × anatomical entities, present / absent / polymorphic, with evidence.

Cells come from :class:`kg.traits.Traits` calls; an entity asked for that the corpus never
names directly is still answered through the closure (any asserted entity below it implies
presence; any asserted absence above it implies absence).

>>> m = Matrix(["Danio rerio"], ["UBERON:0000151"], [[Cell("1", "asserted")]])
>>> m.to_csv().splitlines()[0]
'taxon,entity,entity_label,value,tier,polymorphic,conflict,evidence'
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

if TYPE_CHECKING:  # pragma: no cover
    from kg.traits.queries import Traits

SYMBOLS = {"absent": "0", "present": "1"}


@dataclass
class Cell:
    """One matrix cell: ``0``, ``1``, ``0&1`` (polymorphic or conflict) or ``?``, with evidence."""

    value: str
    tier: str = ""
    polymorphic: bool = False
    conflict: bool = False
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Matrix:
    taxa: list[str]
    entities: list[str]
    cells: list[list[Cell]]
    entity_labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"taxa": self.taxa, "entities": [{"id": e, "label": self.entity_labels.get(e, e)}
                                                           for e in self.entities],
                           "cells": [[c.__dict__ for c in row] for row in self.cells]}, indent=1)

    def to_csv(self) -> str:
        """Long format: one row per cell with its evidence (matrix:character#:state-symbol; …)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["taxon", "entity", "entity_label", "value", "tier", "polymorphic", "conflict", "evidence"])
        for t, row in zip(self.taxa, self.cells):
            for e, c in zip(self.entities, row):
                w.writerow([t, e, self.entity_labels.get(e, e), c.value, c.tier, int(c.polymorphic), int(c.conflict),
                            "; ".join(_short(x) for x in c.evidence)])
        return buf.getvalue()

    def to_nexml(self) -> str:
        """NeXML with standard characters 0/1 and a polymorphic set; evidence as cell metadata."""
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<nexml xmlns="http://www.nexml.org/2009" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
               'xmlns:dc="http://purl.org/dc/terms/" xmlns:tkg="https://w3id.org/traitkg/schema#" version="0.9">',
               '  <otus id="otus">']
        out += [f'    <otu id="t{i}" label={quoteattr(t)}/>' for i, t in enumerate(self.taxa)]
        out += ['  </otus>', '  <characters id="chars" otus="otus" xsi:type="StandardCells">', '    <format>',
                '      <states id="pa">', '        <state id="s0" symbol="0" label="absent"/>',
                '        <state id="s1" symbol="1" label="present"/>',
                '        <polymorphic_state_set id="s01" symbol="2"><member state="s0"/><member state="s1"/>'
                '</polymorphic_state_set>',
                '        <uncertain_state_set id="missing" symbol="?"><member state="s0"/><member state="s1"/>'
                '</uncertain_state_set>', '      </states>']
        out += [f'      <char id="c{j}" states="pa" label={quoteattr(self.entity_labels.get(e, e))}>'
                f'<meta xsi:type="ResourceMeta" rel="dc:subject" href={quoteattr(e)}/></char>'
                for j, e in enumerate(self.entities)]
        out += ['    </format>', '    <matrix>']
        sid = {"0": "s0", "1": "s1", "0&1": "s01", "?": "missing"}
        for i, row in enumerate(self.cells):
            out.append(f'      <row id="r{i}" otu="t{i}">')
            for j, c in enumerate(row):
                metas = "".join(f'<meta xsi:type="LiteralMeta" property="tkg:evidence">{escape(_short(x))}</meta>'
                                for x in c.evidence)
                if c.tier:
                    metas = f'<meta xsi:type="LiteralMeta" property="tkg:tier">{c.tier}</meta>' + metas
                out.append(f'        <cell char="c{j}" state="{sid[c.value]}">{metas}</cell>' if metas
                           else f'        <cell char="c{j}" state="{sid[c.value]}"/>')
            out.append('      </row>')
        out += ['    </matrix>', '  </characters>', '</nexml>']
        return "\n".join(out) + "\n"

    def render(self, fmt: str) -> str:
        if fmt not in ("csv", "json", "nexml"):
            from kg.core.errors import ValidationError

            raise ValidationError(f"matrix format {fmt!r}: expected csv, json or nexml")
        return {"csv": self.to_csv, "json": self.to_json, "nexml": self.to_nexml}[fmt]()


def _short(ev: dict[str, Any]) -> str:
    return (f"{ev['matrix_title']} char {ev['character_number']} ({ev['character_label']}): "
            f"{ev['symbol']} {ev['state_label']}")


def build_matrix(traits: Traits, taxa: list[str], entities: list[str], *, variable_only: bool = False,
                 evidence: bool = True) -> Matrix:
    """Presence/absence of each entity in each taxon, through the closure, with evidence."""
    from kg.traits.calls import ABSENT, PRESENT, Call
    from ontologies.prefixes import contract, expand

    idx = traits.index
    calls = traits.calls()
    tx_iris = [traits.taxon(t) for t in taxa]
    ent_iris = [expand(e) for e in entities]
    by_taxon: dict[str, dict[str, list[Call]]] = {}
    for t in tx_iris:
        asserted: dict[str, list[Call]] = {PRESENT: [], ABSENT: []}
        for c in traits.calls_by_taxon().get(t, ()):
            if c.tier == "asserted":
                asserted[c.value].append(c)
        by_taxon[t] = asserted
    cells: list[list[Cell]] = []
    for t in tx_iris:
        row = []
        for e in ent_iris:
            found: dict[str, Call | None] = {}
            for value in (PRESENT, ABSENT):
                c = calls.get((t, e, value))
                if c is None:  # not materialised: an entity outside the corpus; derive it now
                    if value == PRESENT:
                        src = {a.entity for a in by_taxon[t][PRESENT] if e in idx.ancestors(a.entity)}
                    else:
                        src = {a.entity for a in by_taxon[t][ABSENT] if a.entity in idx.ancestors(e)}
                    c = Call(t, e, value, "inferred", sources=src) if src else None
                found[value] = c
            p, a = found[PRESENT], found[ABSENT]
            if p and a:
                poly = p.polymorphic and a.polymorphic
                cell = Cell("0&1", min(p.tier, a.tier), poly, not poly)
                parts = [p, a]
            elif p or a:
                x = p or a
                cell = Cell(SYMBOLS[x.value], x.tier, x.polymorphic)
                parts = [x]
            else:
                cell, parts = Cell("?"), []
            if evidence:
                for x in parts:
                    cell.evidence += [dict(ev, supports=x.value) for ev in traits.evidence(x)]
            row.append(cell)
        cells.append(row)
    if variable_only:
        keep = [j for j in range(len(ent_iris))
                if len({v for row in cells for v in (row[j].value,) if v != "?"} - {"0&1"}) > 1
                or any(row[j].value == "0&1" for row in cells)]
        ent_iris = [ent_iris[j] for j in keep]
        cells = [[row[j] for j in keep] for row in cells]
    names = [idx.taxa.get(t, t) for t in tx_iris]
    return Matrix(names, [contract(e) for e in ent_iris], cells, {contract(e): traits.label(e) for e in ent_iris})
