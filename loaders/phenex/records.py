"""The records a Phenex NeXML file parses to: OTUs, characters, states with their entity–quality
(EQ) phenotypes, matrix cells, and the matrix that holds them (pure data, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Expr:
    """An ontology term, optionally post-composed: ``genus and rel1 some (f1) and ...``.

    >>> Expr("UBERON:1", (("BFO:0000050", Expr("UBERON:2")),)).text
    'UBERON:1 and BFO:0000050 some (UBERON:2)'
    """

    genus: str
    differentia: tuple[tuple[str, Expr], ...] = ()

    @property
    def text(self) -> str:
        """Manchester-like text, the form the Phenoscape tools print."""
        out = self.genus
        for rel, filler in self.differentia:
            out += f" and {rel} some ({filler.text})"
        return out

    def terms(self) -> Iterable[str]:
        """Every class id used (not the relations), genus first."""
        stack: list[Expr] = [self]
        while stack:
            e = stack.pop()
            yield e.genus
            stack.extend(f for _, f in reversed(e.differentia))


@dataclass(frozen=True)
class Phenotype:
    """One EQ statement: entity (bearer), quality, optional related entity and count. A
    quality-only phenotype (``entity`` None; kept by lenient parsing) implies no presence."""

    entity: Expr | None
    quality: Expr | None = None
    related: Expr | None = None
    count: int | None = None
    description: str | None = None


@dataclass
class Otu:
    id: str
    label: str
    vto: str | None = None
    specimens: list[tuple[str | None, str | None]] = field(default_factory=list)  # (collection, catalog no.)
    line: int | None = None


@dataclass
class State:
    id: str
    symbol: str
    label: str
    phenotypes: list[Phenotype] = field(default_factory=list)
    line: int | None = None


@dataclass
class Character:
    id: str
    number: int
    label: str
    states: list[State] = field(default_factory=list)
    line: int | None = None


@dataclass
class Cell:
    otu: str
    character: str
    states: list[str]
    kind: str = "single"  # single | polymorphic | uncertain
    line: int | None = None


#: kinds of :class:`PhenotypeProblem`: a phenotype kept with its quality only, or left out
QUALITY_ONLY = "quality_only"
LEFT_OUT = "left_out"


@dataclass(frozen=True)
class PhenotypeProblem:
    """What lenient parsing did with an incomplete phenotype (``kind``: QUALITY_ONLY or LEFT_OUT)."""

    kind: str
    line: int | None
    value: str | None
    message: str


@dataclass
class PhenexMatrix:
    """Everything one Phenex NeXML file says."""

    source: str
    title: str = ""
    citation: str = ""
    doi: str | None = None
    creator: str = ""
    references: str | None = None
    otus: list[Otu] = field(default_factory=list)
    characters: list[Character] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    problems: list[PhenotypeProblem] = field(default_factory=list)  # lenient parsing only

    def counts(self) -> dict[str, int]:
        states = [s for c in self.characters for s in c.states]
        return {"otus": len(self.otus), "characters": len(self.characters), "states": len(states),
                "phenotypes": sum(len(s.phenotypes) for s in states), "cells": len(self.cells),
                "state_sets": sum(1 for c in self.cells if c.kind != "single")}
