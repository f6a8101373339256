"""OBO 1.4 flat-file ontologies: a fast line parser and the OBO -> OWL mapping.

``parse(path)`` is pure: it returns an :class:`OboDocument` (header clauses and stanzas, every
clause with its line number) or raises :class:`kg.core.errors.ParseError` naming file and line.
``to_owl(doc)`` (in :mod:`loaders._obo_owl`) maps a document to OWL triples as the OBO 1.4
spec does. Loading OBO files into the store is the ontology loader's job (:mod:`loaders.ontology`).

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.obo"
>>> _ = p.write_text('ontology: t\\n\\n[Term]\\nid: T:1\\nname: root ! a comment\\n')
>>> doc = parse(p)
>>> doc.ontology, doc.stanzas[0].id, doc.stanzas[0].first("name")
('t', 'T:1', 'root')
>>> tmp.cleanup()
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kg.core.errors import ParseError
from kg.core.sources import Source

STANZA_TYPES = ("Term", "Typedef", "Instance")
_TAG = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*:(.*)$")
_ESC = {"n": "\n", "t": "\t", "W": " ", '"': '"', "\\": "\\", "!": "!", "{": "{", "}": "}", ":": ":", ",": ","}


@dataclass
class Clause:
    """One ``tag: value`` line; ``value`` has its trailing comment and qualifier block removed."""

    tag: str
    value: str
    line: int
    qualifiers: str = ""


@dataclass
class Stanza:
    """A ``[Term]``, ``[Typedef]`` or ``[Instance]`` block."""

    type: str
    line: int
    clauses: list[Clause] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.first("id") or ""

    def first(self, tag: str) -> str | None:
        for c in self.clauses:
            if c.tag == tag:
                return c.value
        return None

    def all(self, tag: str) -> list[Clause]:
        return [c for c in self.clauses if c.tag == tag]


@dataclass
class OboDocument:
    """A parsed OBO file: header clauses, stanzas, and the file it came from."""

    path: str
    header: list[Clause] = field(default_factory=list)
    stanzas: list[Stanza] = field(default_factory=list)

    def header_values(self, tag: str) -> list[str]:
        return [c.value for c in self.header if c.tag == tag]

    @property
    def ontology(self) -> str | None:
        v = self.header_values("ontology")
        return v[0] if v else None

    @property
    def data_version(self) -> str | None:
        v = self.header_values("data-version")
        return v[0] if v else None

    @property
    def imports(self) -> list[str]:
        return self.header_values("import")


#: a ``!`` that starts a comment: at the start or after a blank
_BANG = re.compile(r"(?:^|(?<=[ \t]))!")


def _strip(raw: str) -> tuple[str, str]:
    """Remove a trailing ``! comment`` and ``{qualifiers}`` outside quotes; return (value, qualifiers)."""
    if '"' not in raw and "\\" not in raw:  # no quotes or escapes: the comment starts at the first ``!``
        m = _BANG.search(raw)
        value = (raw[:m.start()] if m else raw).rstrip()
        j = value.rfind("{") if value.endswith("}") else -1
        if j < 0:
            return value.strip(), ""
        return value[:j].rstrip().strip(), value[j + 1:-1].strip()
    return _strip_scan(raw)


def _strip_scan(raw: str) -> tuple[str, str]:
    """:func:`_strip` character by character (quotes and escapes)."""
    in_q = False
    i, n = 0, len(raw)
    cut = n
    while i < n:
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            in_q = not in_q
        elif c == "!" and not in_q and (i == 0 or raw[i - 1] in " \t"):
            cut = i
            break
        i += 1
    value = raw[:cut].rstrip()
    quals = ""
    if value.endswith("}") and not in_q:
        depth_q = False
        j = len(value) - 1
        while j >= 0:
            c = value[j]
            if c == '"' and (j == 0 or value[j - 1] != "\\"):
                depth_q = not depth_q
            elif c == "{" and not depth_q:
                quals = value[j + 1:-1].strip()
                value = value[:j].rstrip()
                break
            j -= 1
    return value.strip(), quals


def unquote(text: str, *, path: str = "", line: int | None = None) -> tuple[str, str]:
    """Split ``"quoted text" rest`` into (unescaped text, rest). Raises ParseError if unquoted.

    >>> unquote('"a \\\\"b\\\\"" EXACT []')
    ('a "b"', 'EXACT []')
    """
    if not text.startswith('"'):
        raise ParseError(f"expected a quoted string, got {text[:60]!r}", source=path, line=line, value=text)
    end = text.find('"', 1)
    if end > 0 and "\\" not in text[1:end]:  # no escapes before the closing quote
        return text[1:end], text[end + 1:].strip()
    return _unquote_scan(text, path, line)


def _unquote_scan(text: str, path: str, line: int | None) -> tuple[str, str]:
    """:func:`unquote` character by character (escapes)."""
    out: list[str] = []
    i, n = 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.append(_ESC.get(text[i + 1], text[i + 1]))
            i += 2
            continue
        if c == '"':
            return "".join(out), text[i + 1:].strip()
        out.append(c)
        i += 1
    raise ParseError("unterminated quoted string", source=path, line=line, value=text[:80])


def parse_lines(lines: list[str], path: str = "<string>") -> OboDocument:
    """Parse OBO text already split into lines (see :func:`parse`)."""
    doc = OboDocument(path)
    current: Stanza | None = None
    pending = ""
    start = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if pending:
            line = pending + line
            pending = ""
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            start = start or lineno
            continue
        at = start or lineno
        start = 0
        s = line.strip()
        if not s or s.startswith("!"):
            continue
        if s.startswith("["):
            if not s.endswith("]"):
                raise ParseError(f"malformed stanza header {s!r}; expected [Term], [Typedef] or [Instance]",
                                 source=path, line=at, value=s)
            kind = s[1:-1].strip()
            if kind not in STANZA_TYPES:
                raise ParseError(f"unknown stanza type [{kind}]; expected one of "
                                 f"{', '.join('[' + t + ']' for t in STANZA_TYPES)}", source=path, line=at, value=s)
            if current is not None:
                _finish(current, path)
            current = Stanza(kind, at)
            doc.stanzas.append(current)
            continue
        m = _TAG.match(s)
        if not m:
            raise ParseError(f"malformed line {s[:80]!r}; expected 'tag: value'", source=path, line=at, value=s[:80])
        value, quals = _strip(m.group(2).strip())
        clause = Clause(m.group(1), value, at, quals)
        (current.clauses if current is not None else doc.header).append(clause)
    if pending:
        raise ParseError("file ends inside a continued line", source=path, line=len(lines))
    if current is not None:
        _finish(current, path)
    return doc


def _finish(st: Stanza, path: str) -> None:
    ids = st.all("id")
    if not ids:
        raise ParseError(f"[{st.type}] stanza has no id", source=path, line=st.line)
    if len(ids) > 1:
        raise ParseError(f"[{st.type}] stanza has {len(ids)} id clauses ({', '.join(c.value for c in ids)}); "
                         "expected exactly one", source=path, line=ids[1].line, value=ids[1].value)
    if not ids[0].value or " " in ids[0].value:
        raise ParseError(f"invalid id {ids[0].value!r}; expected PREFIX:LOCAL or a bare identifier",
                         source=path, line=ids[0].line, value=ids[0].value)
    for c in st.clauses:
        if c.tag in ("is_a", "relationship", "intersection_of", "union_of", "disjoint_from", "replaced_by",
                     "consider", "equivalent_to", "inverse_of", "transitive_over", "holds_over_chain",
                     "domain", "range", "subset", "namespace", "alt_id", "instance_of") and not c.value:
            raise ParseError(f"empty {c.tag}: clause in {st.id or '[' + st.type + ']'}; expected an identifier",
                             source=path, line=c.line)
        if c.tag == "relationship" and len(c.value.split()) != 2:
            raise ParseError(f"relationship: expects 'RELATION TARGET', got {c.value!r}",
                             source=path, line=c.line, value=c.value)
        if c.tag in ("def", "synonym"):
            unquote(c.value, path=path, line=c.line)


def parse(path: str | Path | Source) -> OboDocument:
    """Parse an OBO file (``.gz`` transparently). Pure: no store involved."""
    src = path if isinstance(path, Source) else Source.resolve(path)
    text = src.read_text()
    doc = parse_lines(text.splitlines(), str(src.path))
    if not doc.stanzas:
        raise ParseError("no [Term], [Typedef] or [Instance] stanza: the file is empty or not an OBO ontology",
                         source=str(src.path), line=1)
    return doc

