"""Identification keys in the graph (the facade's ``kg.keys``): list, show, validate, identify
(interactive and batch), generate from a character matrix, link to ontology terms and taxa.

>>> from kg import KnowledgeGraph
>>> from pathlib import Path
>>> g = KnowledgeGraph.open("oxigraph:")
>>> _ = g.load_key(Path(__file__).parent.parent / "sample" / "key-fish-orders.tsv")
>>> g.keys.identify("key-fish-orders", ["1a", "2a"]).result
'Siluriformes'
"""

from __future__ import annotations

from typing import Any

from kg.core.store import Store
from kg.keys.identify import BatchResult, WalkState, batch, lead_dict, walk
from kg.keys.read import KeyInfo, StoredKey, list_keys, locate, read_key
from loaders.keymodel import KeyProblem, validate

__all__ = ["Keys", "KeyInfo", "StoredKey", "WalkState", "BatchResult"]


class Keys:
    """Key queries over one store; read keys are cached with the facade's cache."""

    def __init__(self, store: Store, cache: dict[Any, Any] | None = None) -> None:
        self.store = store
        self._cache = cache if cache is not None else {}

    def list(self) -> list[KeyInfo]:
        """Every loaded key (latest version of each key graph)."""
        if "keys:list" not in self._cache:
            self._cache["keys:list"] = list_keys(self.store)
        return self._cache["keys:list"]

    def info(self, ref: str) -> KeyInfo:
        return self.get(ref).info

    def get(self, ref: str) -> StoredKey:
        """A key read back from the store (``project/id``, a key id, a one-key project or a title).
        Finding and reading it binds the key (and its graph): its cost does not depend on how many
        other keys are loaded."""
        where = self._cache.get(("keyref", ref))
        if where is None:
            where = self._cache[("keyref", ref)] = locate(self.store, ref, self.list)
        ck = ("key", *where)
        if ck not in self._cache:
            self._cache[ck] = read_key(self.store, *where)
        return self._cache[ck]

    def _resolve(self, ref: str) -> tuple[str, Any, dict[str, list[str]]]:
        sk = self.get(ref)
        return sk.info.ref, sk.key, sk.subkeys

    def show(self, ref: str, couplet: str | None = None) -> dict[str, Any]:
        """A key's metadata and one couplet (default: the first) with its leads."""
        sk = self.get(ref)
        couplets = sk.key.couplets()
        c = couplet or sk.key.first
        if c not in couplets:
            from kg.core.errors import NotFound

            raise NotFound(f"key {sk.info.ref!r} has no couplet {c!r}; it has couplets "
                           f"{', '.join(list(couplets)[:20])}{' ...' if len(couplets) > 20 else ''}")
        return {**sk.info.to_dict(), "first": sk.key.first, "couplets": len(couplets),
                "description": sk.key.metadata.get("description") or None, "media": sk.key.media,
                "couplet": c, "question": sk.key.questions.get(c),
                "leads_of_couplet": [lead_dict(x, sk.subkeys) for x in couplets[c]]}

    def validate(self, ref: str) -> list[KeyProblem]:
        """KeyBase's problem classes for a stored key (see :func:`loaders.keymodel.validate`)."""
        return validate(self.get(ref).key)

    def identify(self, ref: str, answers: list[str] | None = None) -> WalkState:
        """Interactive walk: the answers so far -> the next couplet or the result, with the path
        (continuing into the sub-keys the leads hand over to)."""
        sk = self.get(ref)
        st = walk(sk.key, list(answers or []), subkeys=sk.subkeys, resolve=self._resolve)
        st.key = sk.info.ref
        return st

    def link(self, ref: str | None = None, *, name: str | None = None) -> Any:
        """Link one key (or every key) to ontology terms (hypotheses), taxa and phenotype calls;
        written to a derived ``keylinks`` graph. Returns a :class:`kg.keys.link.LinkResult`."""
        from dataclasses import replace

        from kg.keys.link import link_keys
        from kg.taxon_names import store_resolver
        from kg.terms import TermIndex
        from kg.traits import Traits

        infos = [self.info(ref)] if ref else self.list()
        keys = [(i.graph, i.ref.split("/", 1)[0], replace(self.get(i.ref).key, id=i.ref.split("/", 1)[1]))
                for i in infos]
        if "terms" not in self._cache:
            self._cache["terms"] = TermIndex.build(self.store)
        if ("resolver", None) not in self._cache:
            self._cache[("resolver", None)] = store_resolver(self.store)
        res = link_keys(self.store, keys, terms=self._cache["terms"], resolver=self._cache[("resolver", None)],
                        traits=Traits(self.store, self._cache),
                        name=name or (infos[0].ref.replace("/", "-") if ref else "all-keys"))
        self._cache.pop("keys:list", None)
        return res

    def batch(self, ref: str, observations: list[str], **kw: Any) -> BatchResult:
        """Batch mode: observed traits -> candidate taxa and the couplets still open."""
        sk = self.get(ref)
        res = batch(sk.key, observations, resolve=self._resolve, **kw)
        res.key = sk.info.ref
        return res
