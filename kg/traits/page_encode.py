"""The arrays of :class:`kg.traits.pages.TraitPages`: every taxon's trait rows encoded, in bulk.

:func:`page_arrays` builds them from the calls' columns (:class:`~kg.traits.cached.CallTable`), the
phenotype index's cells (:class:`~kg.traits.cell_table.CellTable`), the term labels and the
states' encoded evidence, without a :class:`~kg.traits.calls.Call` or a row tuple per row: the
evidence behind each call (its own states and those of the calls it was inferred from, ordered
by matrix, character number and state), the phenotype rows of each taxon's cells (each (phenotype,
state) once), and the order of a taxon's rows are array operations; a row's JSON is joined from
pieces encoded once per distinct entity, phenotype, (value, tier, polymorphic) triple and source
set. :func:`page_arrays_by_row` is the same arrays made row by row through
:meth:`~kg.traits.queries.Traits.trait_rows` and :meth:`~kg.traits.queries.Traits.trait_json` (what
the server answers without pages): the reference the tests hold :func:`page_arrays` to, byte for
byte.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from kg import indexcache as ic
from kg.traits.cached import CallTable, calls_arrays
from kg.traits.calls import Call
from kg.traits.cell_table import CellTable
from ontologies.prefixes import contract

if TYPE_CHECKING:
    from kg.traits.queries import Traits

KINDS = ("presence", "absence", "phenotype")
TIERS = ("asserted", "inferred", "predicted", "hypothesised")
#: What closes a row's JSON: a phenotype's object, or a call's ``kind`` (written after its evidence).
CLOSE = (b"}", b', "kind": "presence"}', b', "kind": "absence"}')
_CALL_TIERS = ("asserted", "inferred")  # a call's tier as the calls' file codes it


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, default=str)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lengths[i] - 1`` of every ``i``, concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted (a sort, where ``np.unique`` hashes: several times slower here)."""
    x = np.sort(keys)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _first(keys: np.ndarray) -> np.ndarray:
    """The position of each distinct value's first occurrence in ``keys``, in the order of ``keys``."""
    order = np.argsort(keys, kind="stable")
    x = keys[order]
    return np.sort(order[np.r_[True, x[1:] != x[:-1]]]) if len(x) else order


def _evidence_order(evidence: Any) -> tuple[list[str], np.ndarray]:
    """The states with evidence (in the evidence mapping's order) and each one's rank in the order
    :meth:`Traits.evidence_states` gives a call's states: by matrix, character number, state."""
    states = list(evidence)
    entries = [json.loads(evidence[s]) for s in states]
    order = sorted(range(len(states)), key=lambda i: (entries[i]["matrix"], entries[i]["character_number"], states[i]))
    rank = np.empty(len(states), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(states), dtype=np.int64)
    return states, rank


def page_arrays(traits: Traits) -> dict[str, np.ndarray]:
    """Every taxon's trait rows encoded (the arrays :class:`~kg.traits.pages.TraitPages` reads)."""
    evidence = traits.evidence_json()
    states, ev_rank = _evidence_order(evidence)
    state_ids = {s: i for i, s in enumerate(states)}
    n_ev = len(states)
    ev_by_rank = np.argsort(ev_rank)
    labels = traits.labels()
    idx = traits.index
    taxa = sorted(idx.taxa)
    taxon_rank = {t: i for i, t in enumerate(taxa)}

    def label(iri: str) -> str:
        return labels.get(iri) or contract(iri)

    sort_labels: dict[str, int] = {}  # a row's label (its third sort key) -> its position among them

    # ---- calls: columns, each call's evidence (own states and its sources' states), its JSON pieces
    calls = traits.calls()
    a = calls.arrays if isinstance(calls, CallTable) else calls_arrays(dict(calls))
    t = ic.strings(a)
    names = t[:-1].tolist()
    n_str = len(t)
    c_taxon = np.asarray(a["taxon"], dtype=np.int64)
    c_entity = np.asarray(a["entity"], dtype=np.int64)
    c_present = np.asarray(a["present"], dtype=bool)
    c_tier = np.asarray(a["tier"], dtype=np.int64)
    c_poly = np.asarray(a["polymorphic"], dtype=bool)
    n_calls = len(c_taxon)
    code = (c_taxon * n_str + c_entity) * 2 + c_present
    by_code = a["by_code"] if "by_code" in a else np.argsort(code, kind="stable")
    codes = code[by_code]
    str_ev = np.full(n_str, -1, dtype=np.int64)  # string id -> the state's rank in the evidence order
    for i, s in enumerate(names):
        j = state_ids.get(s)
        if j is not None:
            str_ev[i] = ev_rank[j]
    so, ss = np.asarray(a["states_off"], dtype=np.int64), np.asarray(a["states"], dtype=np.int64)
    own_row = np.repeat(np.arange(n_calls, dtype=np.int64), np.diff(so))
    src_off, src = np.asarray(a["sources_off"], dtype=np.int64), np.asarray(a["sources"], dtype=np.int64)
    src_row = np.repeat(np.arange(n_calls, dtype=np.int64), np.diff(src_off))
    want = (c_taxon[src_row] * n_str + src) * 2 + c_present[src_row]
    pos = np.searchsorted(codes, want)
    found = pos < len(codes)
    found[found] = codes[pos[found]] == want[found]
    if not found.all():  # as Traits.evidence_states: a source without its own call is an error
        k = int(np.flatnonzero(~found)[0])
        r = int(src_row[k])
        raise KeyError((names[c_taxon[r]], names[src[k]], "present" if c_present[r] else "absent"))
    src_call = by_code[pos]
    lens = np.diff(so)[src_call]
    inh_row = np.repeat(src_row, lens)
    inh_state = ss[_ranges(so[src_call], lens)]
    rows = np.concatenate([own_row, inh_row])
    ranks = str_ev[np.concatenate([ss, inh_state])]
    keep = ranks >= 0
    pair = _distinct(rows[keep] * max(n_ev, 1) + ranks[keep])  # each (call, state) once, by call then rank
    call_ev = ev_by_rank[pair % max(n_ev, 1)]
    call_ev_n = np.bincount(pair // max(n_ev, 1), minlength=n_calls)

    ent_ids = _distinct(c_entity)
    ent_label = {int(e): label(names[e]) for e in ent_ids.tolist()}
    ent_piece = {e: f'{{"entity": {_dumps(contract(names[e]))}, "entity_label": {_dumps(lab)}'.encode()
                 for e, lab in ent_label.items()}
    mid_piece = [f', "value": {_dumps(v)}, "tier": {_dumps(tier)}, "polymorphic": {_dumps(p)}'.encode()
                 for v in ("absent", "present") for tier in _CALL_TIERS for p in (False, True)]
    c_mid = (c_present.astype(np.int64) * 2 + c_tier) * 2 + c_poly
    src_piece: dict[tuple[int, ...], bytes] = {}
    c_src: list[bytes] = [b""] * n_calls
    src_lo, src_hi = src_off[:-1].tolist(), src_off[1:].tolist()
    src_list = src.tolist()
    for r in np.flatnonzero(np.diff(src_off)).tolist():
        key = tuple(src_list[src_lo[r]:src_hi[r]])
        got = src_piece.get(key)
        if got is None:
            got = src_piece[key] = f', "inferred_from": {_dumps(sorted(contract(names[x]) for x in key))}'.encode()
        c_src[r] = got
    c_page = np.full(n_str, -1, dtype=np.int64)
    for i, s in enumerate(names):
        r = taxon_rank.get(s)
        if r is not None:
            c_page[i] = r
    for lab in ent_label.values():
        sort_labels.setdefault(lab, 0)

    # ---- phenotype rows: each taxon's cells, their states, the states' phenotypes (each (phenotype, state) once)
    cells = idx.cells
    if isinstance(cells, CellTable):
        pt, cell_taxon, cell_kind, cell_off, cell_states = cells.columns()
        pnames = pt[:-1].tolist()
    else:
        st = ic.StringTable()
        cell_taxon, cell_kind = st.ids(c.taxon for c in cells), st.ids(c.kind for c in cells)
        cell_off, cell_states = st.lists([c.states for c in cells])
        pnames = list(st.index)
    cell_taxon = np.asarray(cell_taxon, dtype=np.int64)
    cell_kind = np.asarray(cell_kind, dtype=np.int64)
    cell_off, cell_states = np.asarray(cell_off, dtype=np.int64), np.asarray(cell_states, dtype=np.int64)
    pid = {s: i for i, s in enumerate(pnames)}
    phenos: list[str] = []
    p_of: dict[str, int] = {}
    sp_n = np.zeros(len(pnames) + 1, dtype=np.int64)  # per string id of a state: its phenotypes
    sp_lists: list[list[int]] = [[] for _ in range(len(pnames) + 1)]
    for s, ps in idx.state_phenotypes.items():
        i = pid.get(s)
        if i is None:
            continue
        for p in ps:
            j = p_of.get(p)
            if j is None:
                j = p_of[p] = len(phenos)
                phenos.append(p)
            sp_lists[i].append(j)
        sp_n[i] = len(sp_lists[i])
    sp_off = np.zeros(len(sp_lists) + 1, dtype=np.int64)
    np.cumsum(sp_n, out=sp_off[1:])
    sp_v = np.fromiter((j for lst in sp_lists for j in lst), dtype=np.int64, count=int(sp_off[-1]))
    e_cell = np.repeat(np.arange(len(cell_taxon), dtype=np.int64), np.diff(cell_off))
    e_state = cell_states
    e_n = sp_n[e_state]
    f_cell, f_state = np.repeat(e_cell, e_n), np.repeat(e_state, e_n)
    f_p = sp_v[_ranges(sp_off[e_state], e_n)]
    f_taxon = cell_taxon[f_cell]
    n_p, n_s = max(len(phenos), 1), len(pnames) + 1
    first = _first((f_taxon * n_p + f_p) * n_s + f_state)  # each (taxon, phenotype, state) once, in the cells' order
    f_cell, f_state, f_p, f_taxon = f_cell[first], f_state[first], f_p[first], f_taxon[first]
    p_page = np.full(len(pnames) + 1, -1, dtype=np.int64)
    for i, s in enumerate(pnames):
        r = taxon_rank.get(s)
        if r is not None:
            p_page[i] = r
    p_ev = np.full(len(pnames) + 1, -1, dtype=np.int64)  # string id -> evidence position (not rank)
    for i, s in enumerate(pnames):
        j = state_ids.get(s)
        if j is not None:
            p_ev[i] = j
    p_label: list[str] = []
    p_piece: list[bytes] = []
    for p in phenos:
        ph = idx.phenotypes[p]
        ent, q, rel = ph.entity, ph.quality, ph.related
        p_label.append(label(ent) if ent else "")
        p_piece.append(f'{{"kind": "phenotype", "tier": "asserted", "phenotype": {_dumps(p)}, '
                       f'"entity": {_dumps(contract(ent) if ent else None)}, '
                       f'"entity_label": {_dumps(label(ent) if ent else None)}, '
                       f'"quality": {_dumps(contract(q) if q else None)}, '
                       f'"quality_label": {_dumps(label(q) if q else None)}, '
                       f'"related_entity": {_dumps(contract(rel) if rel else None)}'.encode())
    kind_piece = {k: f', "state_set": {_dumps(pnames[k])}'.encode() for k in _distinct(cell_kind).tolist()}
    for lab in p_label:
        sort_labels.setdefault(lab, 0)

    # ---- every row of every page taxon, in trait_rows' order: taxon, kind, tier, label, then as listed
    for i, lab in enumerate(sorted(sort_labels)):
        sort_labels[lab] = i
    lab_rank_ent = np.zeros(max(n_str, 1), dtype=np.int64)
    for e, lab in ent_label.items():
        lab_rank_ent[e] = sort_labels[lab]
    lab_rank_p = np.asarray([sort_labels[lab] for lab in p_label], dtype=np.int64)
    n_f = len(f_p)
    r_page = np.concatenate([c_page[c_taxon], p_page[f_taxon]])
    # kinds in their sort order: absence < phenotype < presence; tiers: asserted < inferred
    r_sortkind = np.concatenate([np.where(c_present, 2, 0), np.ones(n_f, dtype=np.int64)])
    r_tier = np.concatenate([c_tier, np.zeros(n_f, dtype=np.int64)])
    r_label = np.concatenate([lab_rank_ent[c_entity], lab_rank_p[f_p] if n_f else np.zeros(0, dtype=np.int64)])
    seq = np.arange(n_calls + n_f, dtype=np.int64)
    order = np.lexsort((seq, r_label, r_tier, r_sortkind, r_page))
    order = order[r_page[order] >= 0]
    page_of_row = r_page[order]

    # evidence of every row (calls: their sorted states; phenotype rows: their state), in that order
    f_ev = p_ev[f_state]
    f_has = (f_ev >= 0).astype(np.int64)
    all_n = np.concatenate([call_ev_n, f_has])
    all_off = np.zeros(len(all_n) + 1, dtype=np.int64)
    np.cumsum(all_n, out=all_off[1:])
    all_ev = np.concatenate([call_ev, f_ev[f_ev >= 0]])
    ev = all_ev[_ranges(all_off[order], all_n[order])]
    ev_off = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(all_n[order], out=ev_off[1:])

    # each row's JSON up to where its evidence goes, joined from its pieces
    ent_list, mid_list, p_list, f_kind = c_entity.tolist(), c_mid.tolist(), f_p.tolist(), cell_kind[f_cell].tolist()
    pieces: list[bytes] = []
    for r in order.tolist():
        if r < n_calls:
            pieces += (ent_piece[ent_list[r]], mid_piece[mid_list[r]], c_src[r])
        else:
            k = r - n_calls
            pieces += (p_piece[p_list[k]], kind_piece[f_kind[k]])
    lens = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    is_call = order < n_calls
    # calls have three pieces, phenotype rows two: each row's byte length
    n_pieces = np.where(is_call, 3, 2)
    starts = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(n_pieces, out=starts[1:])
    csum = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=csum[1:])
    per_row = csum[starts[1:]] - csum[starts[:-1]]
    head_off = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(per_row, out=head_off[1:])
    kind = np.concatenate([np.where(c_present, 0, 1), np.full(n_f, 2)])[order].astype(np.int8)  # KINDS' codes
    close = np.where(kind == 2, 0, kind + 1).astype(np.int8)
    tier = np.where(is_call, r_tier[order], 0).astype(np.int8)
    tx_off = np.searchsorted(page_of_row, np.arange(len(taxa) + 1), side="left").astype(np.int64)
    text = [evidence[s].encode() for s in states]
    state_off = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in text], out=state_off[1:])
    return {**ic.pack_strings(taxa, "taxa"), "tx_off": tx_off, "kind": kind, "tier": tier, "close": close,
            "head": np.frombuffer(b"".join(pieces), dtype=np.uint8), "head_off": head_off,
            "ev_off": ev_off, "ev": ev.astype(np.int64),
            "state": np.frombuffer(b"".join(text), dtype=np.uint8), "state_off": state_off}


def page_arrays_by_row(traits: Traits) -> dict[str, np.ndarray]:
    """:func:`page_arrays` made row by row from :meth:`Traits.trait_rows` and :meth:`Traits.trait_json`
    (the server's own encoding of one row): the reference the bulk encoder is tested against."""
    evidence = traits.evidence_json()
    state_ids = {s: i for i, s in enumerate(evidence)}
    taxa = sorted(traits.index.taxa)
    head = bytearray()
    head_off, kind, tier, close, ev_off, ev, tx_off = [0], [], [], [], [0], [], [0]
    for tx in taxa:
        for row in traits.trait_rows(tx):
            plain = traits.trait_json(row, evidence=False).encode()
            ref = row[3]
            if isinstance(ref, Call):
                c = KINDS.index(row[0]) + 1
                states = traits.evidence_states(ref)
            else:
                c, states = 0, [ref[1]]
            head += plain[:len(plain) - len(CLOSE[c])]
            head_off.append(len(head))
            kind.append(KINDS.index(row[0]))
            tier.append(TIERS.index(row[1]))
            close.append(c)
            ev.extend(state_ids[s] for s in states if s in state_ids)
            ev_off.append(len(ev))
        tx_off.append(len(kind))
    text = [evidence[s].encode() for s in evidence]
    state_off = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in text], out=state_off[1:])
    return {**ic.pack_strings(taxa, "taxa"), "tx_off": np.asarray(tx_off, dtype=np.int64),
            "kind": np.asarray(kind, dtype=np.int8), "tier": np.asarray(tier, dtype=np.int8),
            "close": np.asarray(close, dtype=np.int8),
            "head": np.frombuffer(bytes(head), dtype=np.uint8), "head_off": np.asarray(head_off, dtype=np.int64),
            "ev_off": np.asarray(ev_off, dtype=np.int64), "ev": np.asarray(ev, dtype=np.int64),
            "state": np.frombuffer(b"".join(text), dtype=np.uint8), "state_off": state_off}
