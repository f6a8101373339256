"""Reading delimited and Parquet tables as people publish them (the prediction and image loaders).

CSV/TSV are read as text in a named encoding (UTF-8 by default; a UTF-8 byte-order mark is
skipped). Bytes that do not decode are kept (Python's ``surrogateescape``) instead of failing the
whole file, so a column nobody uses may hold them; :func:`check_decoded` then refuses, in one line,
a used column that holds such bytes, naming the file, row, line, column and the bytes.

Row numbers are data records counted from 1 (the header is not counted, nor are blank lines);
:func:`physical_lines` gives the line each row starts on (quoted fields may span lines).

>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()
>>> p = pathlib.Path(tmp.name) / "t.csv"
>>> _ = p.write_bytes("name,place\\nA,S\\u00e3o Paulo\\nB,Ribeir".encode() + b"\\xe3o Preto\\n")
>>> src = Source.resolve(p)
>>> df = read_table(src, "csv")
>>> check_decoded(df, ["name"], src, "csv")  # the bad bytes are in a column nobody uses
>>> try:
...     check_decoded(df, ["place"], src, "csv")
... except ParseError as e:
...     print(e.message)
row 2 (line 3), column 'place': byte b'\\xe3' is not valid utf-8 in 'Ribeir\\\\xe3o Preto' (1 row(s) in this column); name the file's encoding with --encoding (e.g. cp1252)
>>> tmp.cleanup()
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Iterable

import pandas as pd

from kg.core.errors import ParseError
from kg.core.sources import Source

DEFAULT_ENCODING = "utf-8"
_BAD = re.compile("[\udc80-\udcff]+")


def encoding_name(encoding: str | None) -> str:
    """A codec name Python knows (``utf-8`` by default); an unknown one is a one-line error."""
    enc = (encoding or DEFAULT_ENCODING).strip()
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise ParseError(f"unknown text encoding {enc!r} (e.g. utf-8, cp1252, latin-1, utf-16)", value=enc) from exc
    return enc


def table_format(src: Source, fmt: str | None) -> str:
    """``csv``, ``tsv`` or ``parquet``: the one asked for, else from the file's extension."""
    if fmt:
        return fmt.lower()
    hint = src.format_hint
    return {"tsv": "tsv", "tab": "tsv", "txt": "tsv", "parquet": "parquet", "pq": "parquet"}.get(hint, "csv")


def _delimiter(fmt: str, delimiter: str | None) -> str:
    return delimiter or ("\t" if fmt == "tsv" else ",")


def read_table(src: Source, fmt: str, *, delimiter: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """The table: CSV/TSV as Python strings (empty cells as ''; undecodable bytes escaped, see the
    module docstring), Parquet as stored."""
    if fmt == "parquet":
        try:
            return pd.read_parquet(src.path)
        except Exception as exc:  # pyarrow raises many kinds on a file that is not Parquet
            raise ParseError(f"not a readable Parquet file ({exc})", source=src.origin) from exc
    enc = encoding_name(encoding)
    if enc.replace("_", "-").lower() in ("utf-8", "utf8"):
        enc = "utf-8-sig"  # a byte-order mark is not part of the first column's name
    try:
        with src.open() as fh:
            return pd.read_csv(fh, sep=_delimiter(fmt, delimiter), dtype=object, keep_default_na=False,
                               na_filter=False, engine="c", encoding=enc, encoding_errors="surrogateescape")
    except pd.errors.EmptyDataError as exc:
        raise ParseError("empty table (no header)", source=src.origin, line=1) from exc
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ParseError(f"malformed {fmt.upper()} ({exc})", source=src.origin,
                         line=int(m.group(1)) if m else None) from exc
    except UnicodeError as exc:  # a multi-byte codec (utf-16) that cannot even split the text
        raise ParseError(f"not {enc} text ({exc.reason}); name the file's encoding with --encoding",
                         source=src.origin) from exc


def escaped(text: str) -> str:
    """A value with undecodable bytes shown as ``\\xNN`` (printable, one line)."""
    return _BAD.sub(lambda m: "".join(f"\\x{ord(c) - 0xDC00:02x}" for c in m.group()), text)


def check_decoded(df: pd.DataFrame, columns: Iterable[str], src: Source, fmt: str, *,
                  delimiter: str | None = None, encoding: str | None = None) -> None:
    """Refuse the table when one of ``columns`` (the ones the load uses) holds bytes that are not
    text in the encoding: one line with the first such cell and how many rows have them."""
    if fmt == "parquet":
        return
    enc = encoding_name(encoding)
    for col in columns:
        s = df[col]
        if s.dtype != object:
            continue
        bad = s.map(lambda v: isinstance(v, str) and _BAD.search(v) is not None).to_numpy()
        if not bad.any():
            continue
        i = int(bad.argmax())
        value = str(s.iat[i])
        raw = _BAD.search(value).group().encode("utf-8", "surrogateescape")  # type: ignore[union-attr]
        row = i + 1
        line = physical_lines(src, fmt, [row], delimiter=delimiter, encoding=enc).get(row)
        where = f"row {row}" + (f" (line {line})" if line else "")
        plural = "bytes" if len(raw) > 1 else "byte"
        hint = " (e.g. cp1252)" if enc.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else ""
        raise ParseError(f"{where}, column {col!r}: {plural} {raw!r} is not valid {enc} in {escaped(value)!r} "
                         f"({int(bad.sum())} row(s) in this column); name the file's encoding with --encoding{hint}",
                         source=src.origin, line=line, value=escaped(value))


def physical_lines(src: Source, fmt: str, rows: Iterable[int], *, delimiter: str | None = None,
                   encoding: str | None = None) -> dict[int, int]:
    """Row number -> the physical line it starts on, for the rows asked for (CSV/TSV only)."""
    want = set(rows)
    out: dict[int, int] = {}
    if fmt == "parquet" or not want:
        return out
    if csv.field_size_limit() < sys.maxsize // 2:
        csv.field_size_limit(2**31 - 1)  # a cell may be as long as the file
    enc = encoding_name(encoding)
    with src.open() as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig" if enc.lower() in ("utf-8", "utf8") else enc,
                                errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=_delimiter(fmt, delimiter))
        next(reader, None)
        start, i = reader.line_num + 1, 0
        top = max(want)
        try:
            for rec in reader:
                if rec:  # blank lines are no records (as pandas reads them)
                    i += 1
                    if i in want:
                        out[i] = start
                    if i >= top:
                        break
                start = reader.line_num + 1
        except csv.Error:
            pass  # the lines found so far stand; the table itself was read by pandas
    return out


__all__ = ["read_table", "table_format", "check_decoded", "physical_lines", "encoding_name", "escaped",
           "DEFAULT_ENCODING"]
