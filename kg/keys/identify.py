"""Identification with a dichotomous key: an interactive walk and a batch mode (pure; on a Key).

:func:`walk` takes the answers so far (lead ids such as ``1a``, or the letter of a lead of the
current couplet) and returns where they lead: the next couplet with its leads, or the result,
with the path taken and the items still possible. :func:`batch` takes observed traits (free text,
or lead ids) and follows every couplet an observation decides, keeping both branches of the others:
the candidate taxa and the couplets that remain to be answered come back.

>>> from loaders.keymodel import Key
>>> k = Key.from_rows("k", [("1", "Adipose fin present", "2"), ("1", "Adipose fin absent", "Esox"),
...                         ("2", "Barbels present", "Silurus"), ("2", "Barbels absent", "Salmo")])
>>> s = walk(k, ["1a"])
>>> s.couplet, [x["id"] for x in s.leads], s.remaining
('2', ['2a', '2b'], ['Silurus', 'Salmo'])
>>> walk(k, ["1a", "b"]).result
'Salmo'
>>> batch(k, ["adipose fin absent"]).candidates
['Esox']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.errors import NotFound, ValidationError
from loaders.keymodel import Key, Lead

#: A sub-key reader: a key reference -> (its reference, the key, lead id -> sub-key references).
Resolver = Callable[[str], tuple[str, Key, dict[str, list[str]]]]


@dataclass
class WalkState:
    """Where the answers lead: ``couplet`` (of key ``in_key``) and its ``leads`` to choose from, or
    ``result``. ``key`` is the key the walk started in; a lead that hands over to a sub-key moves the
    walk into it (``in_key`` changes, and each step of ``path`` names its key)."""

    key: str
    path: list[dict[str, Any]] = field(default_factory=list)  # {key, couplet, lead, statement[, item][, subkey]}
    couplet: str | None = None
    in_key: str | None = None
    question: str | None = None
    leads: list[dict[str, Any]] = field(default_factory=list)
    result: str | None = None
    shortcut: list[str] = field(default_factory=list)
    subkeys: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    dead_end: str | None = None  # a message when the path ends nowhere (a broken key)

    @property
    def done(self) -> bool:
        return self.couplet is None

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), done=self.done)


def lead_dict(lead: Lead, subkeys: dict[str, list[str]] | None = None) -> dict[str, Any]:
    subs = list((subkeys or {}).get(lead.id, []))
    if lead.subkey and lead.subkey not in subs:
        subs.insert(0, lead.subkey)
    return {"id": lead.id, "statement": lead.statement, "to_couplet": lead.to_couplet, "item": lead.item,
            "shortcut": list(lead.shortcut), "subkeys": subs, "subkey": lead.subkey,
            "subkey_couplet": lead.subkey_couplet, "reticulation": lead.reticulation is not None,
            "media": [dict(m) for m in lead.media]}


@dataclass
class _Frame:
    """One key on the walk: its reference, the key, its couplets and its leads' sub-keys."""

    ref: str
    key: Key
    subkeys: dict[str, list[str]]
    couplets: dict[str, list[Lead]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.couplets = self.key.couplets()


def reachable_items(key: Key, couplet: str | None, couplets: dict[str, list[Lead]] | None = None, *,
                    resolve: Resolver | None = None) -> list[str]:
    """Items keyed out at or below ``couplet`` (iterative; loops and reticulations visited once), and,
    with ``resolve``, those of the sub-keys its leads hand over to."""
    out: dict[str, None] = {}
    first = _Frame(key.id, key, {})
    if couplets is not None:
        first.couplets = couplets
    frames = {key.id: first}
    seen: set[tuple[str, str]] = set()
    stack = [(first, couplet)] if couplet else []
    while stack:
        fr, c = stack.pop()
        if (fr.ref, c) in seen:
            continue
        seen.add((fr.ref, c))
        for lead in fr.couplets.get(c, []):
            if lead.item:
                out.setdefault(lead.item, None)
            if lead.to_couplet in fr.couplets:
                stack.append((fr, lead.to_couplet))
            elif lead.subkey and not lead.item and resolve is not None:
                if lead.subkey not in frames:
                    try:
                        frames[lead.subkey] = _Frame(*resolve(lead.subkey))
                    except NotFound:
                        continue
                sub = frames[lead.subkey]
                stack.append((sub, lead.subkey_couplet or sub.key.first))
    return list(out)


def walk(key: Key, answers: list[str], *, subkeys: dict[str, list[str]] | None = None,
         resolve: Resolver | None = None) -> WalkState:
    """Follow ``answers`` from the first couplet. An answer is a lead id (``3b``) or the letter of
    one of the current couplet's leads (``b``). A lead that hands over to a sub-key (SDD's Subkey,
    or a reticulation into another key) continues in that key when ``resolve`` can read it; after a
    result that has sub-keys (KeyBase: the item's own key), further answers go on in the sub-key
    (an answer naming one of several sub-keys picks it). An answer that is not a lead of the current
    couplet, or one given after the key has ended, raises ``ValidationError`` naming the choices."""
    frame = _Frame(key.id, key, subkeys or {})
    st = WalkState(key=key.id, in_key=key.id)
    current = key.first

    for n, ans in enumerate(answers, start=1):
        a = str(ans).strip()
        if current is None:
            if resolve is None or not st.result or not st.subkeys:
                raise ValidationError(f"answer {n} ({a!r}): the key already ended at "
                                      f"{st.result or 'a dead end'}; no more answers are expected")
            named = a in st.subkeys
            if not named and len(st.subkeys) > 1:
                raise ValidationError(f"answer {n} ({a!r}): the key ended at {st.result}, which has "
                                      f"{len(st.subkeys)} sub-keys; answer one of {', '.join(st.subkeys)} to go on")
            frame = _Frame(*resolve(a if named else st.subkeys[0]))
            current, st.result, st.shortcut, st.subkeys = frame.key.first, None, [], []
            if named:
                continue
        leads = frame.couplets.get(current, [])
        chosen = next((x for x in leads if x.id == a or x.id == f"{current}{a}"), None)
        if chosen is None:
            opts = "; ".join(f"{x.id} ({_short(x.statement)})" for x in leads)
            raise ValidationError(f"answer {n} ({a!r}) is not a lead of couplet {current} of key {frame.ref!r}; "
                                  f"choose one of: {opts}")
        step: dict[str, Any] = {"key": frame.ref, "couplet": current, "lead": chosen.id, "statement": chosen.statement}
        st.path.append(step)
        if chosen.item:
            step["item"] = chosen.item
            st.result, st.shortcut = chosen.item, list(chosen.shortcut)
            st.subkeys = list(frame.subkeys.get(chosen.id, []))
            current = None
        elif chosen.subkey:
            step["subkey"] = chosen.subkey
            if resolve is None:
                st.subkeys, current = [chosen.subkey], None
                continue
            try:
                frame = _Frame(*resolve(chosen.subkey))
            except NotFound:
                st.dead_end = f"lead {chosen.id} hands over to key {chosen.subkey}, which is not loaded"
                current = None
                continue
            current = chosen.subkey_couplet or frame.key.first
            if current not in frame.couplets:
                st.dead_end = (f"lead {chosen.id} hands over to couplet {current} of key {frame.ref}, "
                               "which has no leads")
                current = None
        elif chosen.to_couplet in frame.couplets:
            current = chosen.to_couplet
        else:
            st.dead_end = (f"lead {chosen.id} goes to couplet {chosen.to_couplet}, which has no leads"
                           if chosen.to_couplet else
                           f"lead {chosen.id} goes nowhere: it names no couplet, item or sub-key")
            current = None
    st.couplet, st.in_key = current, frame.ref
    if current is not None:
        st.question = frame.key.questions.get(current)
        st.leads = [lead_dict(x, frame.subkeys) for x in frame.couplets[current]]
        st.remaining = reachable_items(frame.key, current, frame.couplets, resolve=resolve)
    elif st.result:
        st.remaining = [st.result]
    return st


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- batch mode

_NEG = {"no", "not", "absent", "without", "lacking", "lacks", "none", "never", "non"}
_STOP = {"the", "and", "with", "than", "for", "are", "its", "from", "into", "usually", "often", "or", "of",
         "in", "on", "at", "to", "a", "an", "is", "be", "by", "as", "very", "more", "less", "mostly"}
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def tokens(text: str) -> tuple[frozenset[str], bool]:
    """Content words of a statement and whether it is negative (absent, no, without ...).

    >>> words, negative = tokens("Adipose fin absent")
    >>> sorted(words), negative
    (['adipose', 'fin'], True)
    """
    words = _WORD.findall(text.lower())
    neg = any(w in _NEG for w in words)
    return frozenset(w for w in words if w not in _NEG and w not in _STOP and len(w) > 1), neg


def match_score(observation: str, statement: str) -> float:
    """How well an observation supports a statement, in [0, 1]: the share of the observation's content
    words found in the statement, halved when one is negative and the other is not."""
    o, oneg = tokens(observation)
    s, sneg = tokens(statement)
    if not o:
        return 0.0
    score = len(o & s) / len(o)
    return score * (0.5 if oneg != sneg else 1.0)


@dataclass
class BatchResult:
    """Candidate items, the couplets decided (and by which observation), and those left open."""

    key: str
    candidates: list[str]
    decisions: list[dict[str, Any]]
    remaining: list[dict[str, Any]]
    unused: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch(key: Key, observations: list[str], *, threshold: float = 0.5, margin: float = 0.15,
          resolve: Resolver | None = None) -> BatchResult:
    """Observed traits -> candidate taxa. A couplet is decided when one lead scores at least
    ``threshold`` and ``margin`` more than every other (an observation equal to a lead id decides
    its couplet outright); the other couplets keep all their branches and are returned as remaining.
    A lead followed that hands over to a sub-key adds every taxon of that sub-key (with ``resolve``)."""
    couplets = key.couplets()
    obs = [o.strip() for o in observations if o and o.strip()]
    ids = {x.id for x in key.leads}
    used: set[str] = set()
    decisions, remaining = [], []
    cands: dict[str, None] = {}
    seen: set[str] = set()
    stack = [key.first] if key.first else []
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        leads = couplets.get(c, [])
        chosen, why, best = None, None, 0.0
        direct = [x for x in leads if x.id in obs]
        if len(direct) == 1:
            chosen, why, best = direct[0], direct[0].id, 1.0
        else:
            scored = []
            for x in leads:
                s, o = max(((match_score(o, x.statement), o) for o in obs if o not in ids), default=(0.0, None))
                scored.append((s, o, x))
            scored.sort(key=lambda t: -t[0])
            if scored and scored[0][0] >= threshold and (len(scored) < 2 or scored[0][0] - scored[1][0] >= margin):
                best, why, chosen = scored[0]
        follow = [chosen] if chosen else leads
        if chosen:
            used.add(why)
            decisions.append({"couplet": c, "lead": chosen.id, "statement": chosen.statement,
                              "observation": why, "score": round(best, 3)})
        else:
            remaining.append({"couplet": c, "leads": [lead_dict(x) for x in leads]})
        for x in reversed(follow):
            if x.item:
                cands.setdefault(x.item, None)
            elif x.to_couplet in couplets:
                stack.append(x.to_couplet)
            elif x.subkey and resolve is not None:
                try:
                    _ref, sub, _subs = resolve(x.subkey)
                except NotFound:
                    continue
                for name in reachable_items(sub, x.subkey_couplet or sub.first, resolve=resolve):
                    cands.setdefault(name, None)
    order = {name: i for i, name in enumerate(key.item_names())}
    decisions.sort(key=lambda d: _natural_key(d["couplet"]))
    remaining.sort(key=lambda d: _natural_key(d["couplet"]))
    return BatchResult(key.id, sorted(cands, key=lambda n: order.get(n, len(order))), decisions, remaining,
                       [o for o in obs if o not in used])


def _natural_key(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]
