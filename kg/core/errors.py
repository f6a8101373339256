"""The traitkg error tree.

Every error a user can cause is a :class:`TraitKGError`; each subclass also derives from the
matching builtin so callers that catch ``ValueError`` or ``FileNotFoundError`` keep working.
Messages say what was wrong, where (file, line, value) and what was expected.
"""

from __future__ import annotations


class TraitKGError(Exception):
    """Base class of every error traitkg raises on purpose."""


class UnknownStoreScheme(TraitKGError, ValueError):
    """A store selector names a scheme no backend handles."""


class StoreUnavailable(TraitKGError, ConnectionError):
    """A store (e.g. a remote SPARQL endpoint) could not be reached or answered an error."""


class StoreBusy(StoreUnavailable):
    """An embedded store is owned by another process (one process owns it: see design.md)."""


class QueryError(TraitKGError, ValueError):
    """A SPARQL query or update is malformed or failed to evaluate."""


class SourceNotFound(TraitKGError, FileNotFoundError):
    """A source file or URL does not exist."""


class UnknownFormat(TraitKGError, ValueError):
    """A source's format cannot be determined or is not supported."""


class ParseError(TraitKGError, ValueError):
    """A source file is malformed. Carries the file, line and column when known."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 column: int | None = None, value: str | None = None) -> None:
        self.message = message  # without the file:line prefix
        self.source = source
        self.line = line
        self.column = column
        self.value = value
        where = source or ""
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}" if where else message)


class ValidationError(TraitKGError, ValueError):
    """Input parsed but violates a rule (unknown term, dangling reference, ...)."""


class GraphNotFound(TraitKGError, KeyError):
    """A named graph is not in the store's manifest."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class IntegrityError(TraitKGError, ValueError):
    """A KG release (export directory) does not match its own manifest."""


class UnknownPrefix(TraitKGError, ValueError):
    """A CURIE uses a prefix not in the prefix map."""


class NotFound(TraitKGError, LookupError):
    """A term, taxon, tree or node asked for does not exist in the store."""


class ReasonerError(TraitKGError, RuntimeError):
    """An OWL reasoner could not run (no Java, or the ontology is outside what it accepts)."""
