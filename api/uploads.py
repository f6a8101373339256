"""Receiving an uploaded source: size-limited spooling, multipart parsing, the atomic load.

The body is counted while it streams in, so an oversized upload is refused (413) before it is
parsed; the saved file is removed again when the load fails, and the load itself is atomic
(:func:`loaders._base.ingest`), so a failed upload changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from api.deps import get_settings, writing
from api.errors import PayloadTooLarge, UnsupportedMediaType
from kg.core.errors import ValidationError

log = logging.getLogger(__name__)
FIELDS = ("name", "kind", "format", "version")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Upload:
    """A received upload: where its bytes are and the form fields that came with it."""

    path: Path
    filename: str
    fields: dict[str, str] = field(default_factory=dict)


def upload_dir(request: Request) -> Path:
    """Where uploads are kept (their path is the provenance ``source``): ``TRAITKG_UPLOAD_DIR``,
    else ``<store path>-uploads`` for an on-disk store, else a temporary directory."""
    settings = get_settings(request)
    if settings.upload_dir:
        return Path(settings.upload_dir)
    path = getattr(request.app.state.kg.store, "path", None)
    if path is not None:
        return Path(str(path) + "-uploads")
    return Path(tempfile.gettempdir()) / "traitkg-uploads"


async def receive_upload(request: Request) -> Upload:
    """Spool the multipart body (refusing it past the size limit) and save its ``file`` part."""
    limit = get_settings(request).max_upload
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"upload with Content-Type {ctype or '(none)'!r}; send multipart/form-data "
                                   "with a 'file' part (curl -F file=@data.ttl)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise PayloadTooLarge(f"upload of {int(declared)} bytes exceeds the limit of {limit} bytes "
                              "(TRAITKG_MAX_UPLOAD)", limit=limit)
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + 64 * 1024:  # multipart framing overhead allowed
            spool.close()
            raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes (TRAITKG_MAX_UPLOAD)", limit=limit)
        spool.write(chunk)
    spool.seek(0)

    async def replay() -> dict[str, Any]:
        data = spool.read(1 << 20)
        return {"type": "http.request", "body": data, "more_body": bool(data)}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise ValidationError("the upload has no 'file' part (multipart/form-data field named 'file')")
        filename = _SAFE.sub("_", Path(part.filename or "upload").name).strip("._") or "upload"
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v.strip()}
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ValidationError(f"unknown upload field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}")
        scratch = Path(tempfile.mkdtemp(prefix="traitkg-upload-"))
        try:  # the scratch copy goes whatever happens: a rejected upload leaves nothing behind
            tmp = scratch / filename
            h = hashlib.sha256()
            n = 0
            with open(tmp, "wb") as out:
                while block := await part.read(1 << 20):
                    n += len(block)
                    if n > limit:
                        raise PayloadTooLarge(f"file {filename!r} exceeds the limit of {limit} bytes "
                                              "(TRAITKG_MAX_UPLOAD)", limit=limit)
                    h.update(block)
                    out.write(block)
            if n == 0:
                raise ValidationError(f"the uploaded file {filename!r} is empty")
            final = upload_dir(request) / h.hexdigest()[:16] / filename
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(tmp), final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return Upload(final, filename, fields)
    finally:
        await form.close()
        spool.close()


def load_upload(request: Request, up: Upload) -> dict[str, Any]:
    """Load a received upload; on failure its saved file goes too (the store is unchanged). An
    ontology gets its closure, as ``traitkg load ontology`` gives it. Errors name the uploaded file
    as the client called it, never a path on the server."""
    from kg.core.errors import TraitKGError
    from kg.core.sources import Source
    from loaders import loader_for
    from ontologies.catalog import UnresolvedImport

    opts = {k: up.fields[k] for k in FIELDS if k in up.fields}
    existed_before = up.path.exists() and _loaded_elsewhere(request, up.path)
    try:
        try:
            mod = loader_for(opts.get("format"), extension=Source.resolve(up.path).format_hint, kind=opts.get("kind"))
            with writing(request) as kg:
                if mod.KIND == "ontology":  # with its closure; its imports never read the server's files
                    report = kg.load_ontology(up.path, name=opts.get("name"), version=opts.get("version"),
                                              local_imports=False,
                                              offline=None if get_settings(request).upload_fetch_imports else True)
                else:
                    report = kg.load(up.path, **opts)
        except UnresolvedImport as exc:
            iri = getattr(exc, "iri", None) or str(exc).split("<", 1)[-1].split(">", 1)[0]
            raise ValidationError(
                f"owl:imports <{iri}> was not resolved: an upload's imports resolve only from the server's ontology "
                "cache (never from files on the server, and URLs are fetched only with TRAITKG_UPLOAD_FETCH_IMPORTS=1); "
                "ask the operator to place it there, or upload an ontology without that import") from None
        except TraitKGError as exc:
            _hide_paths(exc, up)
            raise
    except BaseException:
        if not existed_before:
            up.path.unlink(missing_ok=True)
            try:
                up.path.parent.rmdir()
            except OSError:
                pass
        raise
    out = report.to_dict()
    out["source"] = up.filename
    return out


def _hide_paths(exc: BaseException, up: Upload) -> None:
    """Put the client's file name where an error names the server's copy (or its directories)."""
    files = {str(up.path.resolve()), str(up.path)}
    dirs = sorted({str(up.path.parent.resolve()), str(up.path.parent)}, key=len, reverse=True)

    def clean(text: str) -> str:
        for f in files:
            text = text.replace(f, up.filename)
        for d in dirs:
            text = text.replace(d, "<upload>")
        return text

    exc.args = tuple(clean(a) if isinstance(a, str) else a for a in exc.args)
    for attr in ("source", "message"):
        if isinstance(getattr(exc, attr, None), str):
            setattr(exc, attr, clean(getattr(exc, attr)))


def _loaded_elsewhere(request: Request, path: Path) -> bool:
    """Whether a graph already records this file as its source (then a failed reload keeps it)."""
    origin = str(path.resolve())
    return any(g.source == origin for g in request.app.state.kg.graphs())
