"""Server settings, read from the environment (``TRAITKG_*``) or given explicitly.

>>> s = Settings.from_env({"TRAITKG_STORE": "oxigraph:", "TRAITKG_CORS_ORIGINS": "http://a, http://b"})
>>> s.store, s.cors_origins
('oxigraph:', ['http://a', 'http://b'])
>>> Settings.from_env({"TRAITKG_QUERY_TIMEOUT": "soon"})
Traceback (most recent call last):
...
kg.core.errors.ValidationError: TRAITKG_QUERY_TIMEOUT='soon': expected a number of seconds
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from kg.core.errors import ValidationError
from kg.core.store import DEFAULT_SELECTOR


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    """Everything the server can be told. Environment names are ``TRAITKG_`` + upper-case field."""

    store: str = DEFAULT_SELECTOR
    #: Bearer token for writes (uploads, drops, SPARQL update). None: writes are refused (403).
    api_token: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    #: Seconds a SPARQL query may run before it is stopped and answered with 503.
    query_timeout: float = 30.0
    #: Most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) one SPARQL answer carries.
    result_limit: int = 10_000
    #: SERVICE IRIs (prefixes) a federated query may call; empty: SERVICE is refused.
    service_allowlist: list[str] = field(default_factory=list)
    #: Largest accepted upload, in bytes.
    max_upload: int = 200 * 1024 * 1024
    #: Accept SPARQL updates on /sparql (still only with the bearer token).
    sparql_update: bool = False
    #: Worker processes kept warm to run SPARQL queries for an on-disk store (stoppable on timeout).
    query_workers: int = 2
    #: Most SPARQL queries running at once (more workers start for a burst, up to this many).
    max_queries: int = 8
    #: Seconds a query waits for a free slot when ``max_queries`` are running, then 503.
    queue_wait: float = 5.0
    #: Open the store read-only; writes answer 403. ``traitkg serve --workers N`` (N > 1) sets it and
    #: points the workers at a snapshot while its own process keeps the store; set by hand, it is a
    #: promise that no process writes the store meanwhile (read-only beside a writer is undefined).
    read_only: bool = False
    #: Build the derived views (tree indices, term index, trait calls) at start-up, before serving.
    warm: bool = False
    #: The store a read-only ``store`` is a snapshot of (``traitkg serve --workers N`` sets it): the
    #: workers read and write the index files kept beside that store (``<store>.cache/``), so they
    #: are built once per graph version, not once per snapshot.
    snapshot_of: str | None = None
    #: Let an uploaded ontology's owl:imports be downloaded (otherwise only imports already in the
    #: ontology cache resolve: the server fetches no URL a client names). ``file:`` imports never are.
    upload_fetch_imports: bool = False
    #: Hypotheses runs (``POST /api/v1/hypotheses/runs``) that may wait while one runs; more: 429.
    max_queued_jobs: int = 4
    #: Where uploaded sources are kept (their path is recorded as provenance); default beside the store.
    upload_dir: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``TRAITKG_*`` variables (default: ``os.environ``)."""
        env = os.environ if env is None else env
        kw: dict[str, object] = {}
        for f in fields(cls):
            key = "TRAITKG_" + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            try:
                if f.name in ("cors_origins", "service_allowlist"):
                    kw[f.name] = _list(raw)
                elif f.name in ("sparql_update", "read_only", "warm", "upload_fetch_imports"):
                    kw[f.name] = _bool(raw)
                elif f.name in ("query_timeout", "queue_wait"):
                    kw[f.name] = float(raw)
                elif f.name in ("result_limit", "max_upload", "query_workers", "max_queries", "max_queued_jobs"):
                    kw[f.name] = int(raw)
                else:
                    kw[f.name] = (raw or None) if f.name in ("api_token", "upload_dir", "snapshot_of") else raw
            except ValueError:
                what = "a number of seconds" if f.name in ("query_timeout", "queue_wait") else "an integer"
                raise ValidationError(f"{key}={raw!r}: expected {what}") from None
        s = cls(**kw)  # type: ignore[arg-type]
        s.check()
        return s

    def check(self) -> None:
        """Reject impossible values with a message naming the setting."""
        if self.query_timeout <= 0:
            raise ValidationError(f"query_timeout={self.query_timeout}: expected a positive number of seconds")
        if self.queue_wait < 0:
            raise ValidationError(f"queue_wait={self.queue_wait}: expected a number of seconds, 0 or more")
        for name in ("result_limit", "max_upload", "query_workers", "max_queries"):
            if getattr(self, name) < 1:
                raise ValidationError(f"{name}={getattr(self, name)}: expected a positive integer")
        if self.max_queued_jobs < 0:
            raise ValidationError(f"max_queued_jobs={self.max_queued_jobs}: expected an integer, 0 or more")
