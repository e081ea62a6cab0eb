"""Importing CMS code-set files: each file's kind and effective date decided (asked, or read from
CMS's name for it), the file parsed with the scrubber's loaders BEFORE anything is stored (a file
that is not the CMS layout is a 422 naming the line, and nothing of the import is kept), then
stored with its SHA-256 and the counts the loader found. The same bytes again are the file already
imported. Every claims process then loads what came into force (code_sets_in_force).

A zip (CMS publishes its files zipped) is opened here: the files in it named as CMS names them
are imported together, in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import IO

from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_claims.adapters import code_set_store
from openrcm_claims.domain.scrubber.codesets.cms_files import (
    KINDS, CodeSetFileInvalid, counts_of, detect_kind, effective_from_name, load_cms_file,
)
from openrcm_shared.http.problems import Problem, field_error

SPOOL_MEMORY_BYTES = 8 << 20
_COPY_BYTES = 1 << 20
# One import parses at a time in a process: a quarter's PTP part is tens of MB of edits in memory.
_IMPORTING = asyncio.Lock()


@dataclass
class Upload:
    """One file to import: its name, its bytes (a seekable file object), their SHA-256 and size."""

    file_name: str
    content: IO[bytes]
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class ImportedCodeSetFile:
    row: object  # the code_set_files row
    already_imported: bool


class Spooler:
    """Bytes arriving in pieces, spooled (memory up to a bound, then disk) and hashed on the way;
    `too_large()` is raised as soon as they pass max_bytes."""

    def __init__(self, file_name: str, *, max_bytes: int, too_large) -> None:  # noqa: ANN001
        self.file_name, self.max_bytes, self.too_large = file_name, max_bytes, too_large
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
        self._digest = hashlib.sha256()
        self._size = 0

    def write(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self.max_bytes:
            self._spool.close()
            raise self.too_large()
        self._digest.update(piece)
        self._spool.write(piece)

    def upload(self) -> Upload:
        self._spool.seek(0)
        return Upload(self.file_name, self._spool, self._digest.hexdigest(), self._size)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_bytes: int, too_large) -> Upload:  # noqa: ANN001
    spooler = Spooler(PurePosixPath(info.filename).name, max_bytes=max_bytes, too_large=too_large)
    with archive.open(info) as member:
        while piece := member.read(_COPY_BYTES):
            spooler.write(piece)
    return spooler.upload()


def unzipped(upload: Upload, *, kind: str | None, max_bytes: int, too_large) -> list[Upload]:  # noqa: ANN001
    """The files in a zip that CMS names as code-set files (of `kind` when given), each bounded by
    max_bytes however small the zip (a zip bomb stops at the bound)."""
    try:
        archive = zipfile.ZipFile(upload.content)
    except zipfile.BadZipFile:
        raise _refused("The upload is not a zip file", "not a readable zip archive", "/body") from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        wanted = [info for info in members if _named_as(PurePosixPath(info.filename).name, kind)]
        if not wanted:
            names = ", ".join(PurePosixPath(info.filename).name for info in members[:20]) or "nothing"
            raise _refused("No CMS code-set file in the zip",
                           f"the zip holds {names}; none is named as CMS names "
                           f"{'a ' + kind + ' file' if kind else 'its code-set files'}", "/body")
        try:
            return [_member(archive, info, max_bytes=max_bytes, too_large=too_large) for info in wanted]
        except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError) as broken:
            raise _refused("The zip cannot be read", f"{type(broken).__name__}: {broken}", "/body") from None


def _named_as(file_name: str, kind: str | None) -> bool:
    return KINDS[kind].matches(file_name) if kind else detect_kind(file_name) is not None


def _refused(title: str, detail: str, pointer: str, **extensions) -> Problem:
    return Problem(422, title, f"{detail}; nothing was stored.", type_="invalid-code-set-file",
                   errors=[{**field_error(pointer, detail), **extensions}])


@dataclass(frozen=True)
class _Planned:
    upload: Upload
    kind: str
    effective_date: date


def _plan(upload: Upload, kind: str | None, effective_date: date | None) -> _Planned:
    """The kind and effective date of one file: as asked, or from CMS's name for it."""
    kind = kind or detect_kind(upload.file_name)
    if kind is None:
        raise _refused("Which code set is this?",
                       f"{upload.file_name!r} is not named as CMS names its code-set files: give ?kind= "
                       f"({', '.join(KINDS)})", "/query/kind", file_name=upload.file_name)
    effective = effective_date or effective_from_name(kind, upload.file_name)
    if effective is None:
        raise _refused("From when is this code set in force?",
                       f"{upload.file_name!r} does not say when it takes effect: give ?effective_date=YYYY-MM-DD",
                       "/query/effective_date", file_name=upload.file_name)
    return _Planned(upload, kind, effective)


def _parse(planned: _Planned) -> dict[str, int]:
    """What the loader finds in the file (run in a thread); raises CodeSetFileInvalid or ValueError."""
    content = planned.upload.content
    content.seek(0)
    text = io.TextIOWrapper(content, encoding="latin-1", newline="")  # CMS files are Latin-1 text
    try:
        loaded = load_cms_file(planned.kind, text, label=planned.upload.file_name, effective=planned.effective_date)
        return counts_of(planned.kind, loaded)
    finally:
        text.detach()  # the spool stays open for storing


async def _counts(planned: _Planned) -> dict[str, int]:
    try:
        return await asyncio.to_thread(_parse, planned)
    except CodeSetFileInvalid as invalid:
        raise _refused(f"The file is not a CMS {KINDS[planned.kind].title} file", f"{planned.upload.file_name}: "
                       f"{invalid}", "/body", file_name=planned.upload.file_name, line=invalid.line) from None
    except ValueError as invalid:
        raise _refused(f"The file is not a CMS {KINDS[planned.kind].title} file",
                       f"{planned.upload.file_name}: {invalid}", "/body", file_name=planned.upload.file_name) from None


async def import_code_set_files(engine: AsyncEngine, uploads: list[Upload], *, kind: str | None,
                                effective_date: date | None, actor: str) -> list[ImportedCodeSetFile]:
    """Import the files, all or none: every new file parsed first, then all stored in one transaction.
    A file whose bytes were imported before is answered with that import (already_imported)."""
    planned = [_plan(upload, kind, effective_date) for upload in uploads]
    async with _IMPORTING:
        async with engine.connect() as conn:
            known = {p.upload.sha256: row for p in planned
                     if (row := await code_set_store.find_by_sha256(conn, p.upload.sha256)) is not None}
        counts = {p.upload.sha256: await _counts(p) for p in planned if p.upload.sha256 not in known}
        results = []
        async with engine.begin() as conn:
            for p in planned:
                if p.upload.sha256 in known:
                    results.append(ImportedCodeSetFile(known[p.upload.sha256], True))
                    continue
                row, created = await code_set_store.insert_file(
                    conn, p.upload.content, kind=p.kind, effective_date=p.effective_date, file_name=p.upload.file_name,
                    sha256=p.upload.sha256, size_bytes=p.upload.size_bytes, counts=counts[p.upload.sha256],
                    imported_by=actor)
                results.append(ImportedCodeSetFile(row, not created))
    return results
