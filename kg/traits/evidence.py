"""Evidence behind calls: states, characters, matrices and publications; term labels."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from kg import indexcache as ic
from kg.core.graphs import TKG, list_graphs
from kg.core.store import NamedNode, Store, tsv_value
from kg.phenoindex import PhenotypeIndex
from ontologies.prefixes import expand

_STATE_INFO = """
PREFIX tkg: <%s>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?s ?sl ?sym ?c ?cl ?n ?m ?mt ?pub ?cit WHERE { GRAPH ?g {
  ?s tkg:character ?c ; tkg:symbol ?sym . OPTIONAL { ?s rdfs:label ?sl }
  ?c tkg:characterNumber ?n ; tkg:inMatrix ?m . OPTIONAL { ?c rdfs:label ?cl }
  ?m dcterms:title ?mt ; tkg:publication ?pub . OPTIONAL { ?pub rdfs:label ?cit } } }""" % TKG


_FIELDS = ("state", "state_label", "symbol", "character", "character_label", "character_number", "matrix",
           "matrix_title", "publication", "citation")  # an entry's keys, in the order its JSON writes them
_INFO_STR = tuple(k for k in _FIELDS if k != "character_number")
FORMAT = 2  # of the files below (2: an entry's keys in _FIELDS order, whether built or read)


def state_info(store: Store, cache: dict[str, Any], states: set[str]) -> Mapping[str, dict[str, Any]]:
    """State -> {state, label, symbol, character, character_number, matrix, publication, citation}
    (read once per phenotype graph version and kept beside the store; read back as a
    :class:`StateInfo`, which makes a state's entry when asked)."""
    if "state_info" not in cache:
        cache["state_info"] = ic.load_or_build(_info_path(store), kind="stateinfo", fmt=FORMAT, read=StateInfo,
                                               build=lambda: _build_state_info(store), complete=_texts_missing)
    return cache["state_info"]


def _build_state_info(store: Store) -> ic.Built[Mapping[str, dict[str, Any]]]:
    info = {}
    for s, sl, sym, c, cl, n, m, mt, pub, cit in store.select(_STATE_INFO).rows:
        info[s.value] = {"state": s.value, "state_label": sl.value if sl else "", "symbol": sym.value,
                         "character": c.value, "character_label": cl.value if cl else "",
                         "character_number": int(n.value), "matrix": m.value, "matrix_title": mt.value,
                         "publication": pub.value, "citation": cit.value if cit else ""}
    if not info:
        return ic.Built(info)
    st = ic.StringTable()
    rows = list(info.values())
    arrays = {k: st.ids(r[k] for r in rows) for k in _INFO_STR}
    arrays["character_number"] = np.asarray([r["character_number"] for r in rows], dtype=np.int64)
    arrays.update(st.arrays())
    arrays.update(_json_arrays(StateInfo(arrays)))
    return ic.Built(StateInfo(arrays), arrays)  # the builder answers as a process reading the file does


def _texts_missing(got: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The states' JSON texts, for a file written before it kept them (same format; added by one process)."""
    return None if "json_utf8" in got else _json_arrays(StateInfo(got))


def state_json(store: Store, cache: dict[str, Any]) -> Mapping[str, str]:
    """State -> its :func:`state_info` entry as JSON text: read from the states' file (decoded when
    asked; a file written before it kept them gets them when it is opened), else encoded here."""
    if "state_json" not in cache:
        info = state_info(store, cache, set())
        if isinstance(info, StateInfo) and info.texts is not None:
            cache["state_json"] = info.texts
        else:
            cache["state_json"] = {s: json.dumps(d, ensure_ascii=False, default=str) for s, d in info.items()}
    return cache["state_json"]


def _info_path(store: Store) -> Any:
    return ic.path_for(store, "stateinfo", ic.graphs_key(list_graphs(store, kind="phenotypes"), FORMAT))


def _json_arrays(info: StateInfo) -> dict[str, np.ndarray]:
    """Each state's JSON text (in the file's row order) as one UTF-8 blob and byte offsets."""
    texts = [json.dumps(info[s], ensure_ascii=False, default=str).encode("utf-8", "surrogatepass") for s in info]
    off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=off[1:])
    return {"json_utf8": np.frombuffer(b"".join(texts), dtype=np.uint8), "json_end": off}


class StateInfo(Mapping[str, dict[str, Any]]):
    """The states' evidence read from its file: a read-only mapping that makes a state's entry
    (and, from the texts the file keeps, its JSON) only when asked, and keeps it."""

    def __init__(self, a: dict[str, Any]) -> None:
        self.arrays = {k: v for k, v in a.items() if k != "__meta__"}
        self._t = ic.strings(a)
        self._a = a
        self._row = {s: i for i, s in enumerate(self._t[a["state"]].tolist())}
        self._made: dict[str, dict[str, Any]] = {}
        self.texts = _Texts(self._row, a["json_utf8"], a["json_end"]) if "json_utf8" in a else None

    def __getitem__(self, state: str) -> dict[str, Any]:
        d = self._made.get(state)
        if d is None:
            i = self._row[state]
            d = {k: int(self._a[k][i]) if k == "character_number" else self._t[self._a[k][i]] for k in _FIELDS}
            self._made[state] = d
        return d

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


class _Texts(Mapping[str, str]):
    """State -> JSON text, decoded from the file's UTF-8 blob (byte offsets) when asked."""

    def __init__(self, row: dict[str, int], blob: np.ndarray, off: np.ndarray) -> None:
        self._row, self._blob, self._off = row, blob, off.tolist()
        self._made: dict[str, str] = {}

    def __getitem__(self, state: str) -> str:
        t = self._made.get(state)
        if t is None:
            i = self._row[state]
            t = self._made[state] = self._blob[self._off[i]:self._off[i + 1]].tobytes().decode("utf-8", "surrogatepass")
        return t

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


def term_labels(store: Store, idx: PhenotypeIndex) -> dict[str, str]:
    """Term IRI -> label: the phenotype index's labels, every ``rdfs:label`` of an OBO term in the
    store, and the labels of post-composed classes (read once per store content: the key is every
    graph of the manifest, and kept beside the store)."""
    path = ic.path_for(store, "termlabels", ic.graphs_key(list_graphs(store), FORMAT))

    def read(got: dict[str, Any]) -> dict[str, str]:
        t = ic.strings(got)
        return dict(zip(t[got["k"]].tolist(), t[got["v"]].tolist()))

    def build() -> ic.Built[dict[str, str]]:
        out = read_term_labels(store, idx)
        if not (out and idx.phenotype_graphs):
            return ic.Built(out)
        st = ic.StringTable()
        return ic.Built(out, {"k": st.ids(out.keys()), "v": st.ids(out.values()), **st.arrays()})

    return ic.load_or_build(path, kind="termlabels", fmt=FORMAT, read=read, build=build)


def read_term_labels(store: Store, idx: PhenotypeIndex) -> dict[str, str]:
    out = dict(idx.labels)
    text = store.select_tsv("SELECT ?s ?l WHERE { GRAPH ?g { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } "
                            "FILTER(STRSTARTS(STR(?s), 'http://purl.obolibrary.org/obo/')) }")
    for line in text.split("\n")[1:]:  # the engine's TSV: no Python object per term (every label of every ontology)
        if line:
            s, lab = line.split("\t")
            out.setdefault(tsv_value(s), tsv_value(lab))
    todo = [c for c in idx.composed if c not in out]
    if todo:  # every post-composed class's expression in one read, not one query per class
        expressions: dict[str, str] = {}
        for q in store.quads(None, NamedNode(TKG + "expression"), None, None):
            expressions.setdefault(q.subject.value, q.object.value)
        for c in todo:
            out[c] = composed_label(expressions.get(c, c), out)
    return out


def composed_label(text: str, labels: dict[str, str]) -> str:
    """A post-composed class's expression (``UBERON:1 and BFO:0000050 some (UBERON:2)``) with its
    CURIEs replaced by their labels."""

    def sub(m: re.Match) -> str:
        try:
            return labels.get(expand(m.group(0)), m.group(0))
        except Exception:
            return m.group(0)

    return re.sub(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_]+", sub, text)
