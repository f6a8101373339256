"""The traitkg error tree.

Every error a user can cause is a :class:`TraitKGError`; each subclass also derives from the
matching builtin so callers that catch ``ValueError`` or ``FileNotFoundError`` keep working.
Messages say what was wrong, where (file, line, value) and what was expected.
"""

from __future__ import annotations

#: The longest excerpt of a user's value an error message quotes (see :func:`excerpt`).
EXCERPT = 80


def excerpt(value: object, limit: int = EXCERPT) -> str:
    """A value as an error message may quote it: its repr, cut to ``limit`` characters with an
    ellipsis and the full length when longer, so a message never echoes a whole input.

    >>> excerpt("Danio rerio")
    "'Danio rerio'"
    >>> excerpt("x" * 100, 10)
    "'xxxxxxxxx… (100 characters)"
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{repr(text[: limit - 1])[:-1]}… ({len(text):,} characters)"


def one_line(message: str, limit: int = 400) -> str:
    r"""A message as one line (newlines become spaces), cut to ``limit`` characters.

    >>> one_line("bad\n  row 2", 20)
    'bad row 2'
    """
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TraitKGError(Exception):
    """Base class of every error traitkg raises on purpose."""


class UnknownStoreScheme(TraitKGError, ValueError):
    """A store selector names a scheme no backend handles."""


class StoreUnavailable(TraitKGError, ConnectionError):
    """A store (e.g. a remote SPARQL endpoint) could not be reached or answered an error."""


class StoreBusy(StoreUnavailable):
    """An embedded store is owned by another process (one process owns it: see design.md)."""


class AnswerTruncated(StoreUnavailable):
    """A remote endpoint gave part of an answer (its row or time limit) as if whole; it was not used."""


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
        self.value = value if value is None or len(value) <= 4 * EXCERPT else value[: 4 * EXCERPT] + "…"
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
