"""What a load returns instead of log lines: counts, problems with positions, the graph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Problem:
    """One thing wrong with the input: where (line/row), what, and the offending value."""

    message: str
    line: int | None = None
    value: str | None = None
    severity: str = "warning"  # warning | error

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        val = f" ({self.value!r})" if self.value is not None else ""
        return f"{self.severity}: {where}{self.message}{val}"


@dataclass
class LoadReport:
    """The outcome of one load. ``status`` is ``loaded`` or ``unchanged`` (identical bytes)."""

    source: str
    kind: str
    graph: str = ""
    name: str = ""
    version: str = ""
    status: str = "loaded"
    triples: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def warn(self, message: str, *, line: int | None = None, value: str | None = None) -> None:
        self.problems.append(Problem(message, line, value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        head = f"{self.status}: {self.kind}/{self.name}/{self.version} <{self.graph}>"
        rate = f" in {self.seconds:.2f}s" if self.seconds else ""
        probs = f"; {len(self.problems)} problem(s)" if self.problems else ""
        return f"{head} — {self.triples} triples{rate}{(', ' + extra) if extra else ''}{probs}"
