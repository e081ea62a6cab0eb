"""Correcting a claim before it goes out again: held (fix the data) or rejected (fix and resubmit).

Every correction is a new version of the same claim (same patient control number, so the
payer's records line up); the new version is scrubbed, and a clean one goes out with the next
batch.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_history, claim_lines, claims
from openrcm_claims.domain.lifecycle import EDITABLE_STATUSES, WITH_PAYER_STATUSES, ClaimStatus
from openrcm_claims.entrypoints.schemas import MAX_ENCOUNTER_LINES, PAYER_RESPONSIBILITY_ORDER, EncounterIn
from openrcm_claims.service_layer.claim_locks import lock_claims
from openrcm_claims.service_layer.reference_data import invalid, require_payer, resolve_parties
from openrcm_claims.service_layer.scrubbing import scrub_and_record
from openrcm_claims.service_layer.submission import (
    check_payers, claim_data, claim_type, create_claim, insert_lines, split_lines,
)
from openrcm_shared.http.problems import Problem


async def locked_claim(conn: AsyncConnection, tenant_id: str, claim_id, *, nowait: bool = False):
    """The claim, locked; 404 if the practice has no such claim. `nowait`: see claim_locks.lock_claims_for."""
    locked = await lock_claims(conn, sa.select(claims).where(claims.c.id == claim_id, claims.c.tenant_id == tenant_id),
                               nowait=nowait)
    if not locked:
        raise Problem(404, "Claim not found", type_="not-found")
    return locked[0]


def _check_editable(claim) -> None:
    current = ClaimStatus(claim.status)
    if current not in EDITABLE_STATUSES:
        raise Problem(409, "Claim cannot be corrected now",
                      f"A {current.value} claim is with the payer; replace or void it instead.",
                      type_="claim-not-editable")


async def correct_claim(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    """A held, ready or rejected claim with corrected data (the payer has not got it)."""
    claim = await locked_claim(conn, tenant_id, claim_id)
    _check_editable(claim)
    encounter = await _for_claim(conn, tenant_id, claim, encounter)
    await new_version(conn, tenant_id, claim, encounter, frequency_code=encounter.frequency_code)


async def add_late_charges(conn: AsyncConnection, tenant_id: str, claim_id, lines: list) -> None:
    """Late charges join the claim while it has not gone out. Lines beyond what one claim carries
    (50 on an 837P) go into a further claim of the same encounter, as on intake."""
    claim = await locked_claim(conn, tenant_id, claim_id)
    _check_editable(claim)
    if claim.prior_claim_id is not None:
        raise Problem(409, "Late charges go on the first payer's claim",
                      "This claim bills a later payer for what an earlier one adjudicated.",
                      type_="claim-not-editable")
    document = dict(claim.encounter_document)
    earlier = len(document["lines"])
    document["lines"] = list(document["lines"]) + [line.model_dump(mode="json") for line in lines]
    try:
        encounter = EncounterIn.model_validate(document)
    except ValidationError:
        raise invalid([("/lines", f"the encounter would have more than {MAX_ENCOUNTER_LINES} lines")]) from None
    problems = _late_line_problems(encounter.consistency_errors(), earlier)
    if problems:
        raise invalid(problems)
    kept, *overflow = split_lines(encounter)
    await new_version(conn, tenant_id, claim, kept, frequency_code=claim.frequency_code)
    if overflow:
        await _further_parts(conn, tenant_id, claim, overflow)


def _late_line_problems(problems: list[tuple[str, str]], earlier: int) -> list[tuple[str, str]]:
    """Problems of the claim with its late charges, as pointers into the late charges sent."""
    shifted = []
    for pointer, message in problems:
        parts = pointer.split("/")
        if len(parts) > 2 and parts[1] == "lines" and parts[2].isdigit():
            if int(parts[2]) < earlier:
                continue  # a line already on the claim (it passed when it came in)
            parts[2] = str(int(parts[2]) - earlier)
        shifted.append(("/".join(parts), message))
    return shifted


async def _further_parts(conn: AsyncConnection, tenant_id: str, claim, parts: list[EncounterIn]) -> None:
    last_part = (await conn.execute(sa.select(sa.func.max(claims.c.split_part)).where(
        claims.c.tenant_id == tenant_id, claims.c.encounter_id == claim.encounter_id,
        claims.c.payer_responsibility == claim.payer_responsibility))).scalar_one()
    payer = await require_payer(conn, tenant_id, claim.payer_id, "/coverage/payer_id")
    for offset, part in enumerate(parts, start=1):
        await create_claim(conn, tenant_id, part, payer, split_part=last_part + offset,
                           received_detail={"split_from": str(claim.id), "late_charges": True})


async def _for_claim(conn: AsyncConnection, tenant_id: str, claim, encounter: EncounterIn) -> EncounterIn:
    """The corrected encounter for this claim: same encounter and setting, parties resolved, at
    most the lines one claim carries, and the coverage of this claim's payer position billed."""
    problems = []
    if encounter.encounter_id != claim.encounter_id:
        problems.append(("/encounter_id", "must be the claim's encounter id"))
    if claim_type(encounter) != claim.claim_type:
        problems.append(("/setting", f"this is a {claim.claim_type} claim; send a new encounter for another setting"))
    if len(encounter.lines) > encounter.max_lines_per_claim:
        problems.append((f"/lines/{encounter.max_lines_per_claim}",
                         f"a {claim.claim_type} claim carries at most {encounter.max_lines_per_claim} lines"))
    if problems:
        raise invalid(problems)
    encounter = await resolve_parties(conn, tenant_id, encounter)
    coverages = [encounter.coverage, *encounter.other_coverages]
    billed = next((c for c in coverages if c.payer_responsibility == claim.payer_responsibility), None)
    if billed is None:
        raise invalid([("/coverage", f"this claim bills the payer with responsibility {claim.payer_responsibility}; "
                                     "the encounter has no such coverage")])
    encounter = encounter.model_copy(update={
        "coverage": billed, "other_coverages": sorted(
            (c for c in coverages if c is not billed),
            key=lambda c: PAYER_RESPONSIBILITY_ORDER.index(c.payer_responsibility))})
    await check_payers(conn, tenant_id, encounter)
    return encounter


async def _with_payer(conn: AsyncConnection, tenant_id: str, claim_id, action: str):
    """The claim, if the payer has it under a control number and takes replacements and voids."""
    claim = await locked_claim(conn, tenant_id, claim_id)
    current = ClaimStatus(claim.status)
    if current not in WITH_PAYER_STATUSES or not claim.payer_claim_control_number:
        raise Problem(409, f"Claim cannot be {action}d now",
                      f"Only a claim the payer accepted (with its payer claim control number) can be {action}d; "
                      f"this one is {current.value}.", type_="claim-not-with-payer")
    payer = await require_payer(conn, tenant_id, claim.payer_id, "/coverage/payer_id")
    if not payer.replacement_claims_accepted:
        # Medicare and others take corrections only as new claims (frequency 1).
        raise Problem(422, f"Payer does not accept {action}s",
                      f"Payer {claim.payer_id} takes corrections as new claims (frequency 1), not frequency 7 or 8.",
                      type_="payer-refuses-replacements")
    return claim


async def replace_claim(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    """Frequency 7: the corrected claim replaces the one the payer has (REF*F8 names it)."""
    claim = await _with_payer(conn, tenant_id, claim_id, "replace")
    encounter = await _for_claim(conn, tenant_id, claim, encounter)
    await new_version(conn, tenant_id, claim, encounter, frequency_code="7")


async def void_claim(conn: AsyncConnection, tenant_id: str, claim_id) -> None:
    """Frequency 8: the payer's claim is cancelled; the same data goes out once more as a void."""
    claim = await _with_payer(conn, tenant_id, claim_id, "void")
    encounter = EncounterIn.model_validate(claim.encounter_document)
    await new_version(conn, tenant_id, claim, encounter, frequency_code="8")


_KINDS = {"7": "replaced", "8": "voided"}


async def new_version(conn: AsyncConnection, tenant_id: str, claim, encounter: EncounterIn, *,
                      frequency_code: str, kind: str | None = None, prior_adjudications: list[dict] | None = None,
                      detail: dict | None = None) -> None:
    """Write the encounter as the claim's next version (same claim id and patient control number,
    so the payer's records line up) and scrub it again; the caller holds the row lock."""
    current = ClaimStatus(claim.status)
    claim_id = claim.id
    payer = await require_payer(conn, tenant_id, encounter.coverage.payer_id, "/coverage/payer_id")
    data = claim_data(encounter, payer)
    version = claim.version + 1
    now = datetime.now(timezone.utc)
    adjudications = claim.prior_payer_adjudications if prior_adjudications is None else prior_adjudications
    await conn.execute(claims.update().where(claims.c.id == claim_id)
                       .values(version=version, updated_at=now, frequency_code=frequency_code,
                               prior_payer_adjudications=adjudications, **data["columns"]))
    await conn.execute(claim_lines.delete().where(claim_lines.c.claim_id == claim_id))
    await insert_lines(conn, tenant_id, claim_id, encounter)
    await conn.execute(claim_history.insert().values(
        claim_id=claim_id, tenant_id=tenant_id, occurred_at=now,
        kind=kind or _KINDS.get(frequency_code, "corrected"), from_status=current, to_status=None, event_id=None,
        detail={"version": version, "frequency_code": frequency_code, "total_charge": str(data["total_charge"]),
                **(detail or {})}))
    await scrub_and_record(conn, tenant_id=tenant_id, claim_id=claim_id, version=version, from_status=current,
                           encounter=encounter, patient_control_number=claim.patient_control_number,
                           total_charge=data["total_charge"], payer=payer, prior_adjudications=adjudications)
