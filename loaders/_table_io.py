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
from collections.abc import Iterable, Iterator

import pandas as pd

from kg.core.errors import ParseError
from kg.core.sources import Source

DEFAULT_ENCODING = "utf-8"
MAX_ID = 2048  # characters: an image id (a file name, an ARK, a URL) longer than this is a broken line
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
    parts = list(iter_table(src, fmt, delimiter=delimiter, encoding=encoding, chunk=None))
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def iter_table(src: Source, fmt: str, *, delimiter: str | None = None, encoding: str | None = None,
               chunk: int | None = None) -> Iterator[pd.DataFrame]:
    """:func:`read_table` in frames of ``chunk`` records (``None``: one frame), read as they are
    used; the first frame holds the header even when the table has no records. The frames'
    index counts records from 0 across the whole table."""
    if fmt == "parquet":
        yield from _parquet_chunks(src, chunk)
        return
    enc = encoding_name(encoding)
    if enc.replace("_", "-").lower() in ("utf-8", "utf8"):
        enc = "utf-8-sig"  # a byte-order mark is not part of the first column's name
    with src.open() as fh:
        first = True
        try:
            reader = pd.read_csv(fh, sep=_delimiter(fmt, delimiter), dtype=object, keep_default_na=False,
                                 na_filter=False, engine="c", encoding=enc, encoding_errors="surrogateescape",
                                 chunksize=chunk)
            parts = [reader] if chunk is None else reader
            rows = width = 0
            for df in parts:
                if first:
                    width = df.shape[1]
                    if chunk is None:  # the whole table is read: refuse a truncated one before any use
                        _check_complete(src, fmt, len(df), width, delimiter=delimiter, encoding=enc)
                first = False
                rows += len(df)
                yield df
            if chunk is not None and not first:  # after the last records, before the reader's caller ends its pass
                _check_complete(src, fmt, rows, width, delimiter=delimiter, encoding=enc)
        except pd.errors.EmptyDataError as exc:
            raise ParseError("empty table (no header)", source=src.origin, line=1) from exc
        except pd.errors.ParserError as exc:
            text = " ".join(str(exc).split())
            m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
            if m:
                raise ParseError(f"malformed {fmt.upper()}: line {m.group(2)} has {m.group(3)} fields, not {m.group(1)} "
                                 f"as the header (a {_delimiter(fmt, delimiter)!r} inside an unquoted cell, or not a "
                                 f"{fmt.upper()} file?)", source=src.origin, line=int(m.group(2))) from exc
            m = re.search(r"line (\d+)", text)
            raise ParseError(f"malformed {fmt.upper()} ({text[:300]})", source=src.origin,
                             line=int(m.group(1)) if m else None) from exc
        except UnicodeError as exc:  # a multi-byte codec (utf-16) that cannot even split the text
            raise ParseError(f"not {enc} text ({exc.reason}); name the file's encoding with --encoding",
                             source=src.origin) from exc
    if first:  # a header and no records: pandas' chunked reader yields no frame
        with src.open() as fh:
            yield pd.read_csv(fh, sep=_delimiter(fmt, delimiter), dtype=object, keep_default_na=False, nrows=0,
                              engine="c", encoding=enc, encoding_errors="surrogateescape")


def _parquet_chunks(src: Source, chunk: int | None) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if chunk is None:
            yield pd.read_parquet(src.path)
            return
        pf = pq.ParquetFile(src.path)
        start = 0
        for b in pf.iter_batches(batch_size=chunk):
            df = pa.Table.from_batches([b]).to_pandas()
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df
        if not start:
            yield pf.schema_arrow.empty_table().to_pandas()
    except ParseError:
        raise
    except Exception as exc:  # pyarrow raises many kinds on a file that is not Parquet
        raise ParseError(f"not a readable Parquet file ({' '.join(str(exc).split())[:300]})",
                         source=src.origin) from exc


def _check_complete(src: Source, fmt: str, rows: int, width: int, *, delimiter: str | None, encoding: str) -> None:
    """Refuse a file that ends in the middle of a record (a truncated download or copy): its last
    line has no line break and its last record fewer fields than the header. (A short record is
    otherwise read with empty cells, as every CSV reader does.)"""
    with src.open() as fh:
        if not src.gzipped:
            size = src.path.stat().st_size
            fh.seek(max(0, size - 1))
        last = b""
        for block in iter(lambda: fh.read(1 << 20), b""):
            last = block
    if not last or last.endswith((b"\n", b"\r")) or not rows:
        return
    if csv.field_size_limit() < sys.maxsize // 2:
        csv.field_size_limit(2**31 - 1)
    with src.open() as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=_delimiter(fmt, delimiter))
        rec: list[str] = []
        start = line = 1
        try:
            for r in reader:
                rec, start, line = r, line, reader.line_num + 1
        except csv.Error:
            rec = []
    if len(rec) < width:
        raise ParseError(f"the file ends in the middle of row {rows} (line {start}): {len(rec)} of the header's "
                         f"{width} fields and no line break; is it truncated?", source=src.origin, line=start)


def id_problems(ids: pd.Series) -> pd.Series:
    """Per id, why it cannot name an image ('' when it can): too long, or control characters
    (a binary or broken file, not an id)."""
    out = pd.Series("", index=ids.index, dtype=object)
    control = ids.str.contains(r"[\x00-\x1f\x7f]", regex=True)
    out[control.to_numpy(dtype=bool)] = "holds a control character (not an image id)"
    lengths = ids.str.len().to_numpy()
    long = lengths > MAX_ID
    if long.any():
        out[long] = [f"is {n} characters long; an image id has at most {MAX_ID}" for n in lengths[long]]
    return out


def shown(value: str, limit: int = 80) -> str:
    """A value as a message shows it: undecodable bytes escaped, cut to ``limit`` characters."""
    text = escaped(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def escaped(text: str) -> str:
    """A value with undecodable bytes shown as ``\\xNN`` (printable, one line)."""
    return _BAD.sub(lambda m: "".join(f"\\x{ord(c) - 0xDC00:02x}" for c in m.group()), text)


def check_decoded(df: pd.DataFrame, columns: Iterable[str], src: Source, fmt: str, *,
                  delimiter: str | None = None, encoding: str | None = None) -> None:
    """Refuse the table when one of ``columns`` (the ones the load uses) holds bytes that are not
    text in the encoding: one line with the first such cell and how many rows have them."""
    for col, (i, value, n) in undecoded(df, columns, fmt).items():
        refuse_undecoded(col, i + 1, value, n, src, fmt, delimiter=delimiter, encoding=encoding)


def undecoded(df: pd.DataFrame, columns: Iterable[str], fmt: str) -> dict[str, tuple[int, str, int]]:
    """Per column of ``columns`` holding bytes that did not decode: (the frame index of its first
    such cell, the cell, how many cells) (a chunk's index counts from the table's first record)."""
    out: dict[str, tuple[int, str, int]] = {}
    if fmt == "parquet":
        return out
    for col in columns:
        s = df[col]
        if s.dtype != object or _encodes(_text_of(s)):
            continue  # one pass over the column's text; cells are looked at only when it holds bad bytes
        bad = s.map(lambda v: isinstance(v, str) and _BAD.search(v) is not None).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            out[col] = (int(df.index[i]), str(s.iat[i]), int(bad.sum()))
    return out


def refuse_undecoded(col: str, row: int, value: str, count: int, src: Source, fmt: str, *,
                     delimiter: str | None = None, encoding: str | None = None) -> None:
    """The one-line refusal of :func:`check_decoded` (``row`` counted from 1, ``count`` cells)."""
    enc = encoding_name(encoding)
    raw = _BAD.search(value).group().encode("utf-8", "surrogateescape")  # type: ignore[union-attr]
    line = physical_lines(src, fmt, [row], delimiter=delimiter, encoding=enc).get(row)
    where = f"row {row}" + (f" (line {line})" if line else "")
    plural = "bytes" if len(raw) > 1 else "byte"
    hint = " (e.g. cp1252)" if enc.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else ""
    raise ParseError(f"{where}, column {col!r}: {plural} {raw[:16]!r} is not valid {enc} in {shown(value)!r} "
                     f"({count} row(s) in this column); name the file's encoding with --encoding{hint}",
                     source=src.origin, line=line, value=shown(value, 200))


def _text_of(s: pd.Series) -> str:
    values = s.tolist()
    try:
        return "\n".join(values)
    except TypeError:  # a cell that is not text: only the text cells can hold bytes
        return "\n".join(v for v in values if isinstance(v, str))


def _encodes(text: str) -> bool:
    """Whether text holds no escaped bytes (lone surrogates do not encode as UTF-8; the codec's
    C loop checks that faster than a pattern search)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


__all__ = ["read_table", "iter_table", "table_format", "check_decoded", "undecoded", "refuse_undecoded", "physical_lines", "encoding_name", "escaped", "shown",
           "id_problems", "DEFAULT_ENCODING", "MAX_ID"]
