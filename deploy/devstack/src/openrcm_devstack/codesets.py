"""`openrcm-stack codesets import|list`: CMS code-set files into the running claims service.

Each file is sent as it is (or CMS's zip of it) to `POST /v1/code-sets/files` with its name: the
claims service tells its kind and effective date from CMS's names (HCPC2026_JAN_ANWEB_v2.txt,
ccipra-v320r0-f1.txt, MCR_MUE_PractitionerServices_Eff_01-01-2026.csv, icd10cm_order_2027.txt…)
unless `kind` and `effective_date` say otherwise, parses it before storing it, and answers with
what its loader found.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx

_PIECE_BYTES = 1 << 20
_TIMEOUT = httpx.Timeout(30.0, read=600.0)  # a quarter's PTP part is parsed before the answer


class CodeSetImportFailed(RuntimeError):
    """The claims service refused a file (its problem+json detail, with the line at fault)."""


def demo_token(manifest: dict, client_id: str) -> str:
    """An access token from the running stack's issuer for one of its demo clients (client_secret_basic)."""
    auth = manifest.get("auth") or {}
    clients = {client["client_id"]: client for client in auth.get("clients", [])}
    client = clients.get(client_id)
    if client is None:
        raise SystemExit(f"unknown client {client_id!r}; demo clients: {', '.join(clients)}")
    response = httpx.post(auth["token_url"], data={"grant_type": "client_credentials"},
                          auth=(client["client_id"], client["client_secret"]), timeout=10)
    response.raise_for_status()
    return response.json()["access_token"]


def _pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(_PIECE_BYTES):
            yield piece


def _media_type(path: Path) -> str:
    return "application/zip" if path.suffix.lower() == ".zip" else "text/plain"


def _refusal(path: Path, response: httpx.Response) -> CodeSetImportFailed:
    try:
        problem = response.json()
    except ValueError:
        return CodeSetImportFailed(f"{path.name}: HTTP {response.status_code} {response.text[:200]}")
    lines = [f"{path.name}: {problem.get('title', response.status_code)}"]
    for error in problem.get("errors") or []:
        where = f" (line {error['line']})" if error.get("line") else ""
        lines.append(f"  {error.get('detail', '')}{where}")
    if not problem.get("errors") and problem.get("detail"):
        lines.append(f"  {problem['detail']}")
    return CodeSetImportFailed("\n".join(lines))


def import_file(path: Path, *, claims_url: str, token: str, kind: str | None = None,
                effective_date: date | None = None) -> dict:
    """Upload one file; the service's answer ({"files": [...]}), or CodeSetImportFailed."""
    params = {"filename": path.name}
    if kind:
        params["kind"] = kind
    if effective_date:
        params["effective_date"] = effective_date.isoformat()
    response = httpx.post(f"{claims_url}/v1/code-sets/files", params=params, content=_pieces(path),
                          headers={"Authorization": f"Bearer {token}", "Content-Type": _media_type(path),
                                   "Content-Length": str(path.stat().st_size)},
                          timeout=_TIMEOUT)
    if response.status_code >= 400:
        raise _refusal(path, response)
    return response.json()


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items())


def describe_import(answer: dict) -> list[str]:
    """One line per file: kind, effective date, counts, and whether it was new."""
    lines = []
    for stored in answer["files"]:
        state = "already imported" if stored["already_imported"] else "imported"
        lines.append(f"{state:<16} {stored['kind']:<17} from {stored['effective_date']}  {stored['file_name']}  "
                     f"({_counts_text(stored['counts'])}; file {stored['id']})")
    return lines


def list_code_sets(*, claims_url: str, token: str) -> dict:
    response = httpx.get(f"{claims_url}/v1/code-sets", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def describe_listing(listing: dict) -> list[str]:
    """Per kind, what is in force today and every version imported."""
    lines = [f"code sets as of {listing['as_of']}"]
    for kind in listing["kinds"]:
        if kind["in_force"]:
            in_force = f"in force from {kind['in_force']}"
        elif kind["environment_files"]:
            in_force = f"from the environment: {', '.join(kind['environment_files'])}"
        else:
            in_force = "none loaded"
        lines.append(f"{kind['kind']:<17} {kind['title']}: {in_force}")
        for version in kind["versions"]:
            for stored in version["files"]:
                lines.append(f"    {version['effective_date']}  {stored['status']:<10}  {stored['file_name']}  "
                             f"({_counts_text(stored['counts'])}; imported by {stored['imported_by']} at "
                             f"{stored['imported_at']}; file {stored['id']})")
    return lines
