"""The CARC and RARC lists the payers' codes come from, for worklists and people reading an ERA."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from openrcm_shared.codesets import CODESETS_VERSION, CodeEntry, all_carc, all_rarc, carc, is_valid_on, rarc
from openrcm_shared.http.openapi_docs import problem_responses
from openrcm_shared.http.problems import Problem
from openrcm_shared.security.authorization import requirement
from openrcm_shared.security.scopes import Scope

# Public code lists, no practice's data: any token with remittance:read may read them.
router = APIRouter(prefix="/v1/code-sets", tags=["code sets"], dependencies=[requirement(Scope.REMITTANCE_READ)])
_LISTS = {"carc": (carc, all_carc), "rarc": (rarc, all_rarc)}


class CodeOut(BaseModel):
    code: str
    description: str
    start_date: date | None
    stop_date: date | None
    status: str
    valid_today: bool


class CodeListOut(BaseModel):
    version: str
    items: list[CodeOut]


def _out(entry: CodeEntry) -> CodeOut:
    return CodeOut(code=entry.code, description=entry.description, start_date=entry.start_date,
                   stop_date=entry.stop_date, status=entry.status, valid_today=is_valid_on(entry, date.today()))


@router.get("/{code_list}", response_model=CodeListOut)
async def list_codes(code_list: Literal["carc", "rarc"],
                     search: Annotated[str | None, Query(max_length=100)] = None) -> CodeListOut:
    """Every code of the list (X12 code source 139 CARC, 411 RARC), or those whose code or
    description contains `search` (case-insensitive)."""
    entries = _LISTS[code_list][1]()
    if search:
        needle = search.casefold()
        entries = tuple(e for e in entries if needle in e.code.casefold() or needle in e.description.casefold())
    return CodeListOut(version=CODESETS_VERSION, items=[_out(e) for e in entries])


@router.get("/{code_list}/{code}", response_model=CodeOut, responses=problem_responses(404))
async def get_code(code_list: Literal["carc", "rarc"], code: str) -> CodeOut:
    entry = _LISTS[code_list][0](code)
    if entry is None:
        raise Problem(404, "Unknown code", f"{code!r} is not in the {code_list.upper()} list {CODESETS_VERSION}.",
                      type_="not-found")
    return _out(entry)
