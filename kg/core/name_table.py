"""The taxa a name resolver knows, as columns looked up by stable hashes.

A resolver answers a few thousand names a load from a universe of up to millions of taxa (2.78M
names on the 2.4M-tip store). Dicts over all of them cost ~7 s to build each time, and the taxa
as objects ~0.6 GB. :class:`NameTable` keeps the IRIs and names as two texts with offsets, the
ranks as codes, and two sorted tables of stable 64-bit hashes (:func:`kg.core.hashes.label_hashes`)
of the name keys and of the IRIs, each with the rows it was sorted from. A lookup finds the rows of
its hash by binary search and checks each against the text itself, so two strings with one hash
are told apart. The hash tables are kept in the joined names file (:mod:`kg.taxon_names`), so a
load maps them instead of building anything.

Its answers are those of dicts built over the taxa in order: a name key gives its taxa first seen
first; an IRI gives its last row (its name and rank); a genus key gives its first taxon of rank
genus (or without a rank and a one-word name).

>>> t = NameTable.from_taxa([TaxonName("http://x/Danio", "Danio", "genus"),
...                            TaxonName("http://x/Danio_rerio", "Danio  rerio", "species")])
>>> t.by_key("danio rerio"), t.genus("danio"), t.taxon("http://x/Danio_rerio").rank, len(t)
(['http://x/Danio_rerio'], 'http://x/Danio', 'species', 2)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kg.core.hashes import label_hashes

_WS = re.compile(r"[\s_]+")


def normalise_name(name: str) -> str:
    """Trim, fold underscores and runs of white space to one space (tree tips use ``Genus_species``)."""
    return _WS.sub(" ", name).strip()


def name_key(name: str) -> str:
    """What a name is matched by: normalised, case folded."""
    return normalise_name(name).casefold()


#: a blob of names joined by NUL in which some name is changed by :func:`normalise_name` (white space
#: other than single inner spaces, or an underscore)
_NOT_NORMAL = re.compile(r"[^\S ]|_|  |\0 | \0|^ | $")


def name_keys(names: list[str]) -> list[str]:
    """:func:`name_key` of many names: where none needs normalising, one ``casefold`` of them all
    (2.8M names of a full taxonomy: a fraction of a second instead of seconds).

    >>> name_keys(["Danio rerio", "ABC"]), name_keys(["Danio_rerio", " x "])
    (['danio rerio', 'abc'], ['danio rerio', 'x'])
    """
    blob = "\0".join(names)
    if names and blob.count("\0") == len(names) - 1 and not _NOT_NORMAL.search(blob):
        return blob.casefold().split("\0")
    return [name_key(n) for n in names]


@dataclass
class TaxonName:
    """One name of a resolver's universe: a taxon's IRI, its name and rank (``None``: unknown)."""

    iri: str
    name: str
    rank: str | None = None


#: the members of :meth:`NameTable.arrays` (``iri``/``name``/``ranks`` as packed strings)
_HASHED = ("key_hash", "key_rows", "iri_hash", "iri_rows")


def _pack(items: list[str]) -> tuple[str, np.ndarray]:
    off = np.zeros(len(items) + 1, dtype=np.int64)
    if items:
        np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=len(items)), out=off[1:])
    return "".join(items), off


def _aligned(a: np.ndarray) -> np.ndarray:
    """``a``, copied where its items are not aligned in memory (a member of a ``.npz`` mapped from its
    file starts where the zip header ends): numpy copies an unaligned array whole on every
    ``searchsorted`` (2 ms a name at 2.78M names), so it is copied once here (~30 ms)."""
    return a if a.flags.aligned else a.copy()


def _sorted(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.argsort(h, kind="stable")  # rows of one hash stay in their order
    return h[rows], rows.astype(np.int32 if len(h) < (1 << 31) else np.int64)


class NameTable:
    """A universe's taxa (``TaxonName`` rows, in order) with lookups by name key, IRI and genus.
    Iterating gives the rows as :class:`TaxonName`; two tables are equal when their rows are."""

    hashes = staticmethod(label_hashes)

    def __init__(self, iris: tuple[str, np.ndarray], names: tuple[str, np.ndarray], rank: np.ndarray,
                 ranks: list[str], hashed: dict[str, np.ndarray]) -> None:
        (self._iri, self._iri_off), (self._name, self._name_off) = iris, names
        self._rank, self._ranks = np.asarray(rank), [*ranks, None]  # code -1: no rank
        self._key_hash, self._key_rows = hashed["key_hash"], hashed["key_rows"]
        self._iri_hash, self._iri_rows = hashed["iri_hash"], hashed["iri_rows"]
        self._genus = {i for i, r in enumerate(ranks) if r == "genus"}
        self._n_taxa: int | None = None
        self._keys: list[str] | None = None

    @classmethod
    def from_taxa(cls, taxa: list[TaxonName]) -> NameTable:
        iris, names = [t.iri for t in taxa], [t.name for t in taxa]
        code: dict[str | None, int] = {None: -1}
        for t in taxa:
            if t.rank not in code:
                code[t.rank] = len(code) - 1
        rank = np.fromiter((code[t.rank] for t in taxa), dtype=np.int32, count=len(taxa))
        key_hash, key_rows = _sorted(cls.hashes(name_keys(names)))
        iri_hash, iri_rows = _sorted(cls.hashes(iris))
        return cls(_pack(iris), _pack(names), rank, [r for r in code if r is not None],
                   {"key_hash": key_hash, "key_rows": key_rows, "iri_hash": iri_hash, "iri_rows": iri_rows})

    def arrays(self) -> dict[str, np.ndarray]:
        """The table as arrays for an index file: IRIs, names and rank names as UTF-8 blobs with
        character offsets (what :func:`kg.indexcache.pack_strings` writes), rank codes, hash tables."""
        def packed(prefix: str, text: str, off: np.ndarray) -> dict[str, np.ndarray]:
            return {f"{prefix}_blob": np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8),
                    f"{prefix}_off": np.asarray(off, dtype=np.int64)}

        return {"rank": np.asarray(self._rank, dtype=np.int32), **packed("iri", self._iri, self._iri_off),
                **packed("name", self._name, self._name_off), **packed("ranks", *_pack(self._ranks[:-1])),
                **{m: np.asarray(getattr(self, f"_{m}")) for m in _HASHED}}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> NameTable:
        """The table :meth:`arrays` wrote; the hash tables are used as they are (mapped from the file).
        Raises ``KeyError``/``ValueError`` for a member missing or of the wrong length."""
        def text(prefix: str) -> tuple[str, np.ndarray]:
            return arrays[f"{prefix}_blob"].tobytes().decode("utf-8", "surrogatepass"), np.asarray(arrays[f"{prefix}_off"])

        iris, names, (rank_text, rank_off) = text("iri"), text("name"), text("ranks")
        n = len(arrays["rank"])
        if not (len(iris[1]) == len(names[1]) == n + 1 and all(len(arrays[m]) == n for m in _HASHED)):
            raise ValueError("the taxon table's members differ in length")
        ro = rank_off.tolist()
        return cls(iris, names, arrays["rank"], [rank_text[a:b] for a, b in zip(ro[:-1], ro[1:])],
                   {m: _aligned(arrays[m]) for m in _HASHED})

    # ---------------------------------------------------------------- rows

    def __len__(self) -> int:
        """The distinct taxa (IRIs); a taxon may have several rows (names, ranks)."""
        if self._n_taxa is None:
            h = np.asarray(self._iri_hash)
            n = int(np.count_nonzero(h[1:] != h[:-1])) + (len(h) > 0)
            same = np.flatnonzero(h[1:] == h[:-1])  # rows sharing a hash: the same IRI, or a collision
            if len(same):
                starts = np.unique(np.searchsorted(h, h[same]))
                n += sum(len({self._iri_at(r) for r in self._rows_of(self._iri_hash, self._iri_rows, int(h[s]))}) - 1
                         for s in starts.tolist())
            self._n_taxa = n
        return self._n_taxa

    @property
    def rows(self) -> int:
        return len(self._rank)

    def _iri_at(self, row: int) -> str:
        return self._iri[self._iri_off[row]:self._iri_off[row + 1]]

    def _name_at(self, row: int) -> str:
        return self._name[self._name_off[row]:self._name_off[row + 1]]

    def row(self, row: int) -> TaxonName:
        return TaxonName(self._iri_at(row), self._name_at(row), self._ranks[self._rank[row]])

    def __iter__(self) -> Iterator[TaxonName]:
        io, no = self._iri_off.tolist(), self._name_off.tolist()
        ranks = [self._ranks[c] for c in np.asarray(self._rank).tolist()]
        for i, rank in enumerate(ranks):
            yield TaxonName(self._iri[io[i]:io[i + 1]], self._name[no[i]:no[i + 1]], rank)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (NameTable, list)):
            return len(other) == self.rows and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # ---------------------------------------------------------------- lookups

    def _rows_of(self, table: np.ndarray, rows: np.ndarray, h: int) -> list[int]:
        return rows[np.searchsorted(table, h, "left"):np.searchsorted(table, h, "right")].tolist()

    def by_key(self, key: str) -> list[str] | None:
        """The taxa whose name has ``key`` (:func:`name_key`), first seen first, or ``None``."""
        rows = self._rows_of(self._key_hash, self._key_rows, int(self.hashes([key])[0]))
        got = [self._iri_at(r) for r in rows if name_key(self._name_at(r)) == key]
        return list(dict.fromkeys(got)) or None

    def taxon(self, iri: str) -> TaxonName | None:
        """The last row of ``iri`` (its name and rank), or ``None``."""
        rows = [r for r in self._rows_of(self._iri_hash, self._iri_rows, int(self.hashes([iri])[0]))
                if self._iri_at(r) == iri]
        return self.row(rows[-1]) if rows else None

    def genus(self, key: str) -> str | None:
        """The first taxon of rank genus (or without a rank and named in one word) whose key is ``key``."""
        for r in self._rows_of(self._key_hash, self._key_rows, int(self.hashes([key])[0])):
            code = int(self._rank[r])
            name = self._name_at(r)
            if (code in self._genus or (code == -1 and " " not in name)) and name_key(name) == key:
                return self._iri_at(r)
        return None

    def keys(self) -> list[str]:
        """Every distinct name key, first seen first (what a fuzzy search compares with)."""
        if self._keys is None:
            o = self._name_off.tolist()
            self._keys = list(dict.fromkeys(name_keys([self._name[a:b] for a, b in zip(o[:-1], o[1:])])))
        return self._keys


class Lookup:
    """A read-only mapping over a lookup of a :class:`NameTable` that gives ``None`` for a missing key:
    ``get``, ``in`` and ``[]``; ``len`` and iteration where the table gives them (``size``, ``keys``)."""

    def __init__(self, find: Callable[[str], Any], *, size: Callable[[], int] | None = None,
                 keys: Callable[[], list[str]] | None = None) -> None:
        self._find, self._size, self._keys = find, size, keys

    def get(self, key: str, default: Any = None) -> Any:
        got = self._find(key) if isinstance(key, str) else None
        return default if got is None else got

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def __getitem__(self, key: str) -> Any:
        got = self.get(key)
        if got is None:
            raise KeyError(key)
        return got

    def __len__(self) -> int:
        if self._size is None:
            raise TypeError("this lookup has no length")
        return self._size()

    def __iter__(self) -> Iterator[str]:
        if self._keys is None:
            raise TypeError("this lookup cannot list its keys")
        return iter(self._keys())

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((k, self[k]) for k in self)


__all__ = ["TaxonName", "NameTable", "Lookup", "normalise_name", "name_key", "name_keys"]
