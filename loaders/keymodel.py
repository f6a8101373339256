"""Dichotomous keys as records, and KeyBase's checks on them (pure; no store).

A :class:`Key` is a list of :class:`Lead` s; leads with the same ``couplet`` form a couplet
(normally two leads). A lead goes to another couplet (``to_couplet``), keys out an item
(``item``, a taxon name), optionally with a KeyBase *shortcut* (``shortcut``: the single
member of the item that has a key of its own), or hands over to another key of the same file
(``subkey``: SDD's ``<Subkey>``; ``subkey_couplet`` when an SDD ``<Reticulation>`` points into
another key). A lead whose ``to_couplet`` was declared by the author as a reticulation (SDD's
``<Reticulation>``) has ``reticulation`` set to the node it names. Leads are named
``<couplet><letter>`` (``1a``, ``1b``, ``5c``): the names an identification answers with.

:func:`validate` reports KeyBase's classes of problems (definitions follow KeyBase's key-import
documentation, rbgvictoria/keybase_model ``docs/processing-key-files.md``):

============== ======== ===============================================================
class          severity what
============== ======== ===============================================================
singleton      error    a couplet with a single lead
polytomy       warning  a couplet with more than two leads
orphan         error    a couplet (not the first) that no lead goes to
dead_end       error    a lead going to a couplet number that has no leads, or to nothing
                        (no couplet, item or sub-key)
loop           error    a lead going back to a couplet already on its path from the start
                        (through hand-overs between keys too: :func:`validate_all`)
reticulation   warning  a couplet reached by more than one lead (leads closing a loop
                        are loops, not reticulations; a reticulation the author declared,
                        as SDD's ``<Reticulation>``, is part of the key, not a problem)
double_shortcut error   a lead with chained shortcuts (``Item:Sub:SubSub``)
unreachable_   error    a sub-key defined in the same file (KeyBase's ``subkey`` column)
subkey                  that no lead hands over to (:func:`validate_all`, across the keys)
============== ======== ===============================================================

>>> k = Key.from_rows("k", [("1", "a", "2"), ("1", "b", "Item 1"), ("2", "c", "Item 2")])
>>> [(p.kind, p.leads) for p in validate(k)]
[('singleton', ['2a'])]
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.graphs import BASE

PROBLEM_CLASSES = ("loop", "dead_end", "orphan", "reticulation", "polytomy", "singleton", "double_shortcut",
                   "unreachable_subkey")
SEVERITY = {"loop": "error", "dead_end": "error", "orphan": "error", "singleton": "error",
            "double_shortcut": "error", "reticulation": "warning", "polytomy": "warning",
            "unreachable_subkey": "error"}
_NUMERIC = re.compile(r"\d+")
_BRACED = re.compile(r"^(.*?)\s*\{([^{}]*)\}\s*$")  # KeyBase's "Item {Shortcut}"


#: Where key nodes live: ``<BASE>key/<project>/<key id>`` (couplets, leads and items below).
KEY_NS = BASE + "key/"


def iri_segment(text: str) -> str:
    """A name as one IRI path segment (spaces to ``_``, the rest percent-encoded).

    >>> iri_segment("Acacia sect. Botrycephalae")
    'Acacia_sect._Botrycephalae'
    """
    return urllib.parse.quote(text.strip().replace(" ", "_"), safe="_-.()")


def project_iri(project: str) -> str:
    return KEY_NS + iri_segment(project)


def key_iri(project: str, key_id: str) -> str:
    """``<BASE>key/<project>/<key id>``."""
    return f"{project_iri(project)}/{iri_segment(key_id)}"


def item_iri(project: str, name: str) -> str:
    return f"{project_iri(project)}/item/{iri_segment(name)}"


def lead_letter(i: int) -> str:
    """The letter of the ``i``-th lead (0-based) of a couplet: a, b, ... z, aa, ab ...

    >>> lead_letter(0), lead_letter(2), lead_letter(26)
    ('a', 'c', 'aa')
    """
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(97 + r) + out
    return out


@dataclass
class Lead:
    """One lead: a statement in a couplet and where it goes."""

    id: str
    couplet: str
    statement: str
    to: str                        # as written in the source
    to_couplet: str | None = None  # the couplet it goes to (when ``to`` names one, or a number)
    item: str | None = None        # the item (taxon name) it keys out
    shortcut: list[str] = field(default_factory=list)  # shortcut item(s) (more than one: chained)
    line: int | None = None        # row/line in the source
    source_id: str | None = None   # the source's own id (SDD lead ids)
    subkey: str | None = None      # the key (id in the same file/project) this lead hands over to
    subkey_couplet: str | None = None  # where in ``subkey`` to go on (None: its first couplet);
    #                                    ``to_couplet`` always names a couplet of this key
    reticulation: str | None = None    # a declared reticulation: the node it names, as written
    media: list[dict[str, str]] = field(default_factory=list)  # {id, href, label, type}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Key:
    """One key: metadata plus its leads in source order (the first lead's couplet is the start)."""

    id: str
    title: str = ""
    leads: list[Lead] = field(default_factory=list)
    scope: str | None = None        # the item (taxon) the key is to, e.g. "Acaulon"
    source: str = ""                # file (and member) the key came from
    metadata: dict[str, str] = field(default_factory=dict)
    items: dict[str, dict[str, str]] = field(default_factory=dict)  # item name -> extra (url, source id)
    questions: dict[str, str] = field(default_factory=dict)  # couplet -> the question its leads answer
    parent: str | None = None  # the key this one was defined under as a sub-key (KeyBase's subkey column)
    media: list[dict[str, str]] = field(default_factory=list)  # the key's own media {id, href, label, type}

    @classmethod
    def from_rows(cls, key_id: str, rows: Iterable[Sequence[str]], *, title: str = "", source: str = "",
                  lines: Sequence[int] | None = None, shortcuts: Sequence[str] | None = None) -> Key:
        """Build a key from KeyBase ``(from, statement, to)`` rows (``to``: a couplet number, an item,
        or ``Item:Shortcut``); ``shortcuts`` is KeyBase's optional fourth column."""
        rows = [tuple(r) for r in rows]
        froms = {r[0].strip() for r in rows}
        per: Counter[str] = Counter()
        key = cls(key_id, title=title, source=source)
        for i, (frm, stmt, to) in enumerate(r[:3] for r in rows):
            frm, to = frm.strip(), to.strip()
            lead = Lead(f"{frm}{lead_letter(per[frm])}", frm, stmt.strip(), to,
                        line=lines[i] if lines else None)
            per[frm] += 1
            if to in froms or _NUMERIC.fullmatch(to) or not to:
                lead.to_couplet = to or None
            else:
                braced = _BRACED.match(to)
                parts = [braced.group(1), braced.group(2)] if braced else [p.strip() for p in to.split(":")]
                lead.item = parts[0].strip() or None
                lead.shortcut = [p.strip() for p in parts[1:] if p.strip()]
            extra = (shortcuts[i] or "").strip() if shortcuts else ""
            if extra and lead.item:
                lead.shortcut.append(extra)
            key.leads.append(lead)
        return key

    # structure -------------------------------------------------------------------------------
    @property
    def first(self) -> str | None:
        """The first couplet (where identification starts)."""
        return self.leads[0].couplet if self.leads else None

    def couplets(self) -> dict[str, list[Lead]]:
        """Couplet -> its leads, in source order."""
        out: dict[str, list[Lead]] = defaultdict(list)
        for lead in self.leads:
            out[lead.couplet].append(lead)
        return dict(out)

    def lead(self, lead_id: str) -> Lead | None:
        return next((x for x in self.leads if x.id == lead_id), None)

    def item_names(self) -> list[str]:
        """Every item keyed out (and shortcut items), in order of first appearance."""
        out: dict[str, None] = {}
        for lead in self.leads:
            for name in ([lead.item] if lead.item else []) + lead.shortcut:
                out.setdefault(name, None)
        return list(out)

    def to_rows(self) -> list[tuple[str, str, str]]:
        """The key as KeyBase ``(from, statement, to)`` rows (shortcuts as ``Item:Shortcut``)."""
        return [(x.couplet, x.statement, x.to_couplet if x.to_couplet else
                 ":".join([x.item or x.subkey or "", *x.shortcut])) for x in self.leads]


@dataclass
class KeyProblem:
    """One problem KeyBase's validation finds: its class, the couplet, and the leads at fault."""

    kind: str
    couplet: str
    leads: list[str]
    message: str
    lines: list[int] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), severity=self.severity)


def _walk(key: Key, couplets: dict[str, list[Lead]]) -> set[str]:
    """Leads that close a loop: iterative depth-first search from the first couplet, then from any
    couplet not reached yet (so loops among unreachable couplets are found too)."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: finished
    loops: set[str] = set()
    starts = [key.first] + [c for c in couplets if c != key.first] if key.first else []
    for start in starts:
        if start in colour:
            continue
        colour[start] = 1
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            c, i = stack[-1]
            leads = couplets.get(c, [])
            if i >= len(leads):
                colour[c] = 2
                stack.pop()
                continue
            stack[-1] = (c, i + 1)
            nxt = leads[i].to_couplet
            if nxt is None or nxt not in couplets:
                continue
            state = colour.get(nxt)
            if state == 1:
                loops.add(leads[i].id)
            elif state is None:
                colour[nxt] = 1
                stack.append((nxt, 0))
    return loops


def validate(key: Key) -> list[KeyProblem]:
    """KeyBase's checks: loops, dead ends, orphans, reticulations, polytomies, singletons and
    double (chained) shortcuts, each naming the offending leads (ordered by class, then source order)."""
    couplets = key.couplets()
    out: list[KeyProblem] = []

    def add(kind: str, couplet: str, leads: list[Lead], message: str) -> None:
        out.append(KeyProblem(kind, couplet, [x.id for x in leads], message,
                              [x.line for x in leads if x.line is not None]))

    loops = _walk(key, couplets)
    for lead in key.leads:
        if lead.id in loops:
            add("loop", lead.couplet, [lead], f"lead {lead.id} goes back to couplet {lead.to_couplet}, "
                "which is already on its path")
    for lead in key.leads:
        if lead.item is None and lead.subkey is None and (lead.to_couplet is None or lead.to_couplet not in couplets):
            add("dead_end", lead.couplet, [lead], f"lead {lead.id} goes to couplet {lead.to_couplet}, which has no "
                "leads" if lead.to_couplet else f"lead {lead.id} goes nowhere: it names no couplet, item or sub-key")
    targets: dict[str, list[Lead]] = defaultdict(list)
    for lead in key.leads:
        if lead.to_couplet in couplets and lead.id not in loops:
            targets[lead.to_couplet].append(lead)
    for c, leads in couplets.items():
        if c != key.first and c not in targets and not any(x.to_couplet == c for x in key.leads):
            add("orphan", c, leads, f"couplet {c} is not the first and no lead goes to it")
    for c, leads in targets.items():
        if sum(1 for x in leads if x.reticulation is None) > 1:
            add("reticulation", c, leads, f"couplet {c} is reached by {len(leads)} leads: "
                + ", ".join(x.id for x in leads))
    for c, leads in couplets.items():
        if len(leads) > 2:
            add("polytomy", c, leads, f"couplet {c} has {len(leads)} leads")
        elif len(leads) == 1:
            add("singleton", c, leads, f"couplet {c} has a single lead")
    for lead in key.leads:
        if len(lead.shortcut) > 1:
            add("double_shortcut", lead.couplet, [lead], f"lead {lead.id} chains shortcuts: {lead.to!r}")
    order = {k: i for i, k in enumerate(PROBLEM_CLASSES)}
    out.sort(key=lambda p: order[p.kind])
    return out


def _cross_key_loops(keys: Sequence[Key]) -> list[tuple[Key, Lead]]:
    """Leads that close a loop through hand-overs between keys (iterative depth-first search over
    (key, couplet) nodes, from each key's first couplet in file order, then any node not reached)."""
    by_id = {k.id: k for k in keys}
    couplets = {k.id: k.couplets() for k in keys}

    def step(lead: Lead, kid: str) -> tuple[str, str] | None:
        if lead.subkey in by_id and not lead.item:
            sub = by_id[lead.subkey]
            return (sub.id, lead.subkey_couplet or sub.first or "")
        return (kid, lead.to_couplet) if lead.to_couplet in couplets[kid] else None

    colour: dict[tuple[str, str], int] = {}
    out: list[tuple[Key, Lead]] = []
    starts = [(k.id, k.first) for k in keys if k.first] + [(k.id, c) for k in keys for c in couplets[k.id]]
    for start in starts:
        if start in colour:
            continue
        colour[start] = 1
        stack: list[tuple[tuple[str, str], int]] = [(start, 0)]
        while stack:
            (kid, c), i = stack[-1]
            leads = couplets[kid].get(c, [])
            if i >= len(leads):
                colour[(kid, c)] = 2
                stack.pop()
                continue
            stack[-1] = ((kid, c), i + 1)
            nxt = step(leads[i], kid)
            if nxt is None or nxt[1] not in couplets[nxt[0]]:
                continue
            if colour.get(nxt) == 1:
                out.append((by_id[kid], leads[i]))
            elif nxt not in colour:
                colour[nxt] = 1
                stack.append((nxt, 0))
    return out


def validate_all(keys: Sequence[Key]) -> list[tuple[str, KeyProblem]]:
    """:func:`validate` on each key of a file, and the checks across them: a loop through hand-overs
    between keys, and a sub-key defined in the file (``Key.parent``) that no lead of any key hands
    over to (unreachable). (key id, problem) pairs."""
    out = [(k.id, p) for k in keys for p in validate(k)]
    known = {(kid, lid) for kid, p in out if p.kind == "loop" for lid in p.leads}
    for k, lead in _cross_key_loops(keys):
        if (k.id, lead.id) not in known:
            if lead.subkey and not lead.item:
                where = f"hands over to key {lead.subkey}" + (f" at couplet {lead.subkey_couplet}"
                                                              if lead.subkey_couplet else "")
            else:
                where = f"goes to couplet {lead.to_couplet}"
            out.append((k.id, KeyProblem("loop", lead.couplet, [lead.id], f"lead {lead.id} {where}, which is "
                                         "already on its path through the keys",
                                         [lead.line] if lead.line is not None else [])))
    handed = {x.subkey for k in keys for x in k.leads if x.subkey}
    for k in keys:
        if k.parent is not None and k.id not in handed:
            lines = [x.line for x in k.leads[:1] if x.line is not None]
            out.append((k.id, KeyProblem("unreachable_subkey", k.first or "", [], f"sub-key {k.title or k.id!r} of key "
                                         f"{k.parent} is not handed over to by any lead", lines)))
    return out


def problem_counts(problems: Iterable[KeyProblem]) -> dict[str, int]:
    """How many problems of each class (every class listed, zeros included).

    >>> problem_counts([])["loop"]
    0
    """
    c = Counter(p.kind for p in problems)
    return {k: c.get(k, 0) for k in PROBLEM_CLASSES}
