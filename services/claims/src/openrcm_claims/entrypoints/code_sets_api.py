"""CMS code sets the scrubber checks against: import a file, list the versions and which is in force,
withdraw a file imported by mistake. The files are CMS reference data shared by every practice."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from email.message import Message
from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from openrcm_claims.adapters import code_set_store
from openrcm_claims.domain.scrubber.codesets.cms_files import (
    ICD10CM_ORDER, KINDS, ImportedFile, files_in_force, version_status,
)
from openrcm_claims.service_layer.code_set_imports import Spooler, import_code_set_files, unzipped
from openrcm_claims.service_layer.code_sets_in_force import IN_FORCE
from openrcm_claims.settings import CodeSetSettings
from openrcm_shared.http.bounds import PositiveInt8
from openrcm_shared.http.openapi_docs import problem_doc
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.security.context import current_caller
from openrcm_shared.security.practice import ClaimsRead, CodeSetsAdmin

router = APIRouter(prefix="/v1", tags=["code sets"])

Kind = Literal["hcpcs", "ptp_practitioner", "ptp_hospital", "mue_practitioner", "mue_hospital", "icd10cm_order"]
assert set(Kind.__args__) == set(KINDS)  # noqa: S101 - the API names every kind the loaders know
_RAW_TYPES = frozenset({"text/plain", "text/csv", "application/octet-stream"})
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})


class CodeSetFileOut(BaseModel):
    id: int
    kind: Kind
    effective_date: date
    file_name: str
    sha256: str
    size_bytes: int
    counts: dict[str, int]  # what the loader found: codes, modifiers, edits, billable_codes, headers
    imported_by: str
    imported_at: datetime
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None


class ImportedFileOut(CodeSetFileOut):
    already_imported: bool  # these bytes were imported before: nothing new was stored


class CodeSetImportOut(BaseModel):
    files: list[ImportedFileOut]


class ListedFileOut(CodeSetFileOut):
    status: Literal["in_force", "scheduled", "superseded"]


class CodeSetVersionOut(BaseModel):
    effective_date: date
    status: Literal["in_force", "scheduled", "superseded"]
    files: list[ListedFileOut]


class CodeSetKindOut(BaseModel):
    kind: Kind
    title: str
    # The version the scrubber uses today (ICD-10-CM: the release for today's dates of service;
    # each earlier one still serves its own dates of service).
    in_force: date | None
    environment_files: list[str]  # configured by OPENRCM_CLAIMS_* files: used while nothing is imported
    versions: list[CodeSetVersionOut]  # newest effective date first


class CodeSetsOut(BaseModel):
    as_of: date
    kinds: list[CodeSetKindOut]


def _file_out(row, model: type[CodeSetFileOut] = CodeSetFileOut, **extra) -> CodeSetFileOut:  # noqa: ANN001
    return model(**{name: getattr(row, name) for name in CodeSetFileOut.model_fields}, **extra)


# -- import -------------------------------------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _file_name(request: Request, filename: str | None) -> str | None:
    """The uploaded file's name: ?filename=, else Content-Disposition's filename (RFC 6266, with
    RFC 8187 filename*), its last path segment only."""
    if not filename and (disposition := request.headers.get("content-disposition")):
        header = Message()
        header["content-disposition"] = disposition
        filename = header.get_filename()
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    return name[:255] or None


def _too_large(max_bytes: int):  # noqa: ANN202
    def problem() -> Problem:
        return Problem(413, "Code-set file too large", f"At most {max_bytes // (1024 * 1024)} MiB per file "
                       "(OPENRCM_CLAIMS_CODE_SET_MAX_UPLOAD_BYTES).", type_="payload-too-large")
    return problem


async def _received(request: Request, file_name: str, max_bytes: int) -> Spooler:
    too_large = _too_large(max_bytes)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large()
    spooler = Spooler(file_name, max_bytes=max_bytes, too_large=too_large)
    async for piece in request.stream():
        spooler.write(piece)
    return spooler


_BODY_DOC = {"requestBody": {"required": True, "content": {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in ("text/plain", "text/csv", "application/octet-stream", "application/zip")}}}


@router.post("/code-sets/files", status_code=201, response_model=CodeSetImportOut, openapi_extra=_BODY_DOC,
             responses={200: {"description": "Every file was imported before (same SHA-256): nothing new stored",
                              "model": CodeSetImportOut},
                        413: problem_doc(413, "Larger than OPENRCM_CLAIMS_CODE_SET_MAX_UPLOAD_BYTES"),
                        415: problem_doc(415, "Not text/plain, text/csv, application/octet-stream or application/zip"),
                        422: problem_doc(422, "The kind or effective date cannot be told, or the file is not the "
                                              "CMS layout (naming the file and line); nothing stored")})
async def import_code_set_file(
        request: Request, tenant_id: CodeSetsAdmin,
        kind: Annotated[Kind | None, Query(description="which code set; default: from CMS's file name")] = None,
        effective_date: Annotated[date | None, Query(description="first day in force; default: from the file name")] = None,
        filename: Annotated[str | None, Query(max_length=255, description="default: Content-Disposition's")] = None,
) -> JSONResponse:
    """Import a CMS code-set file (the file as CMS publishes it, or CMS's zip of it) for every
    practice's claims. It is parsed before anything is stored; the scrubbers of every claims
    process use it from the next claim (within OPENRCM_CLAIMS_CODE_SET_REFRESH_SECONDS) once its
    effective date has come. The same bytes again are answered with the earlier import."""
    media_type = _media_type(request)
    if media_type not in _RAW_TYPES | _ZIP_TYPES:
        raise Problem(415, "Unsupported media type", "Send the file as text/plain, text/csv or application/octet-stream, "
                      "or CMS's zip as application/zip.", type_="unsupported-media-type",
                      errors=[field_error("/header/Content-Type", "not a code-set file type")])
    max_bytes = CodeSetSettings().code_set_max_upload_bytes
    name = _file_name(request, filename)
    received = (await _received(request, name or "upload", max_bytes)).upload()
    try:
        if media_type in _ZIP_TYPES or (name or "").lower().endswith(".zip"):
            uploads = await asyncio.to_thread(unzipped, received, kind=kind, max_bytes=max_bytes,
                                              too_large=_too_large(max_bytes))
        else:
            uploads = [received]
        try:
            results = await import_code_set_files(request.app.state.runtime.engine, uploads, kind=kind,
                                                  effective_date=effective_date, actor=current_caller().actor)
        finally:
            for upload in uploads:
                upload.content.close()
    finally:
        received.content.close()
    if any(not result.already_imported for result in results):
        IN_FORCE.wake()
    body = CodeSetImportOut(files=[_file_out(result.row, ImportedFileOut, already_imported=result.already_imported)
                                   for result in results])
    created = any(not result.already_imported for result in results)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


# -- listing and withdrawing --------------------------------------------------------------------------


def _versions(rows: list, in_force: dict[str, tuple[int, ...]], today: date) -> list[CodeSetVersionOut]:
    by_date: dict[date, list[ListedFileOut]] = {}
    for row in rows:  # newest effective date first, then newest import
        status = version_status(ImportedFile(row.id, row.kind, row.effective_date, row.file_name), in_force, today)
        by_date.setdefault(row.effective_date, []).append(_file_out(row, ListedFileOut, status=status))
    versions = []
    for effective, files in by_date.items():
        statuses = {f.status for f in files}
        status = next(s for s in ("in_force", "scheduled", "superseded") if s in statuses)
        versions.append(CodeSetVersionOut(effective_date=effective, status=status, files=files))
    return versions


def _in_force_today(kind: str, versions: list[CodeSetVersionOut], today: date) -> date | None:
    used = [v.effective_date for v in versions if v.status == "in_force" and v.effective_date <= today]
    if not used:
        return None
    return max(used) if kind == ICD10CM_ORDER else used[0]


@router.get("/code-sets", response_model=CodeSetsOut)
async def list_code_sets(request: Request, tenant_id: ClaimsRead) -> CodeSetsOut:
    """Per kind, the versions imported (newest first, with their files, counts and who imported
    them) and the one in force today."""
    today = date.today()
    async with request.app.state.runtime.engine.connect() as conn:
        rows = await code_set_store.listed_files(conn)
    in_force = files_in_force([ImportedFile(r.id, r.kind, r.effective_date, r.file_name) for r in rows], today)
    environment = IN_FORCE.environment_files()
    kinds = []
    for kind, spec in KINDS.items():
        versions = _versions([row for row in rows if row.kind == kind], in_force, today)
        kinds.append(CodeSetKindOut(kind=kind, title=spec.title, in_force=_in_force_today(kind, versions, today),
                                    environment_files=environment.get(kind, []), versions=versions))
    return CodeSetsOut(as_of=today, kinds=kinds)


@router.delete("/code-sets/files/{file_id}", response_model=CodeSetFileOut,
               responses={404: problem_doc(404, "No such imported file")})
async def withdraw_code_set_file(file_id: Annotated[PositiveInt8, Path()], request: Request,
                                 tenant_id: CodeSetsAdmin) -> CodeSetFileOut:
    """Withdraw a file imported by mistake: every claims process stops using it (the version it
    replaced is in force again); the record of the import stays, its bytes are dropped."""
    async with request.app.state.runtime.engine.begin() as conn:
        row = await code_set_store.withdraw(conn, file_id, current_caller().actor)
    if row is None:
        raise Problem(404, "Code-set file not found", type_="not-found")
    IN_FORCE.wake()
    return _file_out(row)
