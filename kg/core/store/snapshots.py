"""Consistent read-only copies of an embedded store, for readers beside its one writer.

One process owns an embedded store. A server that writes (uploads) reads from snapshots: a RocksDB
checkpoint of the store taken after each write (``Store.backup``: hard links to the immutable data
files, so it is cheap), opened read-only by the server's request threads and by its query worker
processes. Nobody writes a snapshot, so opening it read-only in several processes is what the engine
supports (never ``read_only`` beside a writer), and every reader sees the store as it was before or
after a write, never half of one. A snapshot's directory goes when its last reader lets go of it.

>>> import tempfile, pathlib
>>> from kg.core.store import OxigraphStore
>>> st = OxigraphStore(pathlib.Path(tempfile.mkdtemp()) / "s")
>>> snaps = Snapshots(st)
>>> reader = snaps.reader(snaps.take())
>>> reader.read_only, reader.path == st.path
(True, True)
"""

from __future__ import annotations

import logging
import shutil
import threading
import weakref
from pathlib import Path

from kg.core.store.embedded import OxigraphStore

log = logging.getLogger(__name__)


class Snapshot:
    """One checkpoint directory and how many readers hold it."""

    def __init__(self, directory: Path, generation: int, owner: Snapshots) -> None:
        self.directory = directory
        self.generation = generation
        self._owner = owner
        self._holders = 0
        self._lock = threading.Lock()

    def hold(self) -> Snapshot:
        with self._lock:
            self._holders += 1
        return self

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            free = self._holders <= 0
        if free:
            self._owner._maybe_remove(self)

    @property
    def holders(self) -> int:
        return self._holders

    def __repr__(self) -> str:
        return f"Snapshot({str(self.directory)!r}, holders={self._holders})"


class Snapshots:
    """The snapshots of one embedded on-disk store, kept in ``<store path>.snapshots/``."""

    def __init__(self, store: OxigraphStore) -> None:
        if store.path is None or store.read_only:
            raise ValueError("snapshots need an embedded on-disk store opened for writing")
        self.store = store
        self.root = Path(str(store.path) + ".snapshots")
        shutil.rmtree(self.root, ignore_errors=True)  # left by an earlier owner of the store
        self.root.mkdir(parents=True)
        self._generation = 0
        self._lock = threading.Lock()
        self.current: Snapshot | None = None

    def take(self) -> Snapshot:
        """A new snapshot of the store as it is now (call it between writes); it becomes current."""
        with self._lock:
            self._generation += 1
            directory = self.root / f"{self._generation:06d}"
            self.store.backup(directory)
            snap = Snapshot(directory, self._generation, self).hold()  # held while current
            old, self.current = self.current, snap
        if old is not None:
            old.release()
        return snap

    def reader(self, snap: Snapshot) -> OxigraphStore:
        """The snapshot opened read-only, reporting the live store's path (for its caches and
        uploads); the snapshot is held until the returned store is collected."""
        reader = OxigraphStore(snap.directory, read_only=True, snapshot_of=self.store.path)
        snap.hold()
        weakref.finalize(reader, snap.release)
        return reader

    def _maybe_remove(self, snap: Snapshot) -> None:
        if snap is not self.current and snap.holders <= 0:
            shutil.rmtree(snap.directory, ignore_errors=True)

    def close(self) -> None:
        """Forget the current snapshot (removed once its readers let go)."""
        with self._lock:
            old, self.current = self.current, None
        if old is not None:
            old.release()


__all__ = ["Snapshot", "Snapshots"]
