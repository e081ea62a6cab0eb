"""Claims out the door: ready claims become 837 files, files go to the clearinghouse.

Two steps, like the event outbox:
1. `build_batches`, in one transaction per file (one file per practice, payer and claim type:
   837P and 837I files are separate): take ready claims (SKIP LOCKED, so two
   replicas never take the same claim), allocate ISA/GS/ST control numbers from sequences that
   never cycle, render the 837, store it byte for byte, move each claim to `submitted` and
   stage ClaimSubmitted. Either all of that commits or none of it.
2. `send_pending`: hand each stored file to the clearinghouse with its submission id as the
   idempotency key, and mark it sent. Each pending file is claimed under its row lock
   (SKIP LOCKED: two workers never send the same file at once), oldest first. An unavailable
   clearinghouse leaves it pending for the next round; a file the clearinghouse refuses (a 4xx)
   is marked refused and its claims are held with the reason, and the files after it go on. A
   crash between the clearinghouse taking a file and our marking it sent leaves it pending: the
   next round sends it again with the same idempotency key and the clearinghouse answers with
   the batch it already has.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_claims.adapters.clearinghouse import Clearinghouse, ClearinghouseRefused, ClearinghouseUnavailable
from openrcm_claims.adapters.tables import claim_history, claim_lines, claim_submissions, claims, submissions
from openrcm_claims.adapters.x12_claims import build_claim
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.service_layer.claim_locks import lock_claims
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_claims.domain.scrubber.codesets.hcpcs import HcpcsCodeSet
from openrcm_claims.service_layer.code_sets_in_force import IN_FORCE
from openrcm_claims.service_layer.holds import GENERATOR_RULE_SET, record_scrub
from openrcm_claims.service_layer.reference_data import payer_names
from openrcm_claims.service_layer.transitions import ClaimMove, move_claims
from openrcm_claims.settings import SubmissionSettings
from openrcm_shared.contracts.claims import ClaimHeld, ClaimSubmitted, SubmittedClaimLine
from openrcm_shared.x12 import claim_837 as x12

log = logging.getLogger(__name__)
MAX_CLAIMS_PER_TRANSACTION = 5000
# The hold reason of claims whose file the clearinghouse refused (ClaimHeld.rule_ids).
REFUSED_RULE_ID = "CLEARINGHOUSE.FILE_REFUSED"


async def _next_values(conn: AsyncConnection, sequence: str, count: int) -> list[int]:
    if count == 0:
        return []
    rows = await conn.execute(sa.text(f"SELECT nextval('{sequence}') FROM generate_series(1, :n)"), {"n": count})
    return [row[0] for row in rows]


def _parties(settings: SubmissionSettings) -> tuple[x12.Submitter, x12.Receiver]:
    return (x12.Submitter(name=settings.submitter_name, identifier=settings.submitter_id,
                          contact_name=settings.submitter_contact_name,
                          contact_phone=settings.submitter_contact_phone),
            x12.Receiver(name=settings.receiver_name, identifier=settings.receiver_id))


# The encounter document as JSON text: pydantic parses and validates it in one pass (build_claim),
# instead of the driver decoding it into Python objects that are then validated.
_READY_CLAIM_COLUMNS = (*(column for column in claims.c if column.name != "encounter_document"),
                        sa.cast(claims.c.encounter_document, sa.Text).label("encounter_document"))


async def build_batches(engine: AsyncEngine, settings: SubmissionSettings) -> list[UUID]:
    """Turn the ready claims into stored 837 files, one per practice, payer and claim type."""
    async with engine.begin() as conn:
        ready = (await conn.execute(
            # Oldest first, not in id order (service_layer.claim_locks): SKIP LOCKED never waits.
            sa.select(*_READY_CLAIM_COLUMNS).where(claims.c.status == ClaimStatus.READY)
            .order_by(claims.c.created_at).limit(settings.max_claims_per_batch)
            .with_for_update(skip_locked=True))).all()
        if not ready:
            return []
        lines_by_claim = defaultdict(list)
        for line in (await conn.execute(sa.select(claim_lines).where(
                claim_lines.c.claim_id.in_([c.id for c in ready])).order_by(claim_lines.c.line_number))).all():
            lines_by_claim[line.claim_id].append(line)
        groups = defaultdict(list)
        for claim in ready:
            groups[(claim.tenant_id, claim.payer_id, claim.claim_type)].append(claim)
        created = []
        names_by_tenant: dict[str, dict[str, str]] = {}
        for (tenant_id, payer_id, claim_type), group in groups.items():
            if tenant_id not in names_by_tenant:
                names_by_tenant[tenant_id] = await payer_names(conn, tenant_id)
            rendered = await _render_or_hold(conn, group, lines_by_claim, names_by_tenant[tenant_id])
            submission_id = await _submit_group(conn, settings, tenant_id, payer_id, claim_type, rendered,
                                                lines_by_claim)
            if submission_id:
                created.append(submission_id)
        return created


async def _render_or_hold(conn, group, lines_by_claim, names: dict[str, str]) -> list[tuple]:
    """(claim row, 837 model) for each claim the mapping accepts; the others are held with the
    reason, so one bad claim never blocks a file."""
    rendered = []
    for claim in group:
        try:
            rendered.append((claim, build_claim(claim, lines_by_claim[claim.id], names)))
        except ValueError as refused:  # X12ContentError included
            await _hold_for_x12(conn, claim, refused)
    return rendered


async def _hold_for_x12(conn, claim, refused: Exception) -> None:
    await record_scrub(conn, tenant_id=claim.tenant_id, claim_id=claim.id, version=claim.version,
                       from_status=ClaimStatus.READY, rule_set_version=GENERATOR_RULE_SET,
                       hits=[{"rule_id": "X12.CONTENT", "severity": "block", "pointer": "",
                              "message": str(refused)[:300]}])


_CLAIM_INDEX = re.compile(r"^claims\[(\d+)\]")


async def _submit_group(conn, settings, tenant_id, payer_id, claim_type, rendered, lines_by_claim) -> UUID | None:
    """Render and store one file. A claim the generator refuses (its error names `claims[i]`) is
    held and the file rendered again without it."""
    submitter, receiver = _parties(settings)
    while rendered:
        batch = x12.ClaimBatch(submitter=submitter, receiver=receiver, claims=tuple(m for _, m in rendered))
        try:
            return await _store_submission(conn, settings, tenant_id, payer_id, claim_type, batch, rendered,
                                           lines_by_claim)
        except x12.X12ContentError as refused:
            match = _CLAIM_INDEX.match(refused.field)
            if match is None:
                raise
            claim, _ = rendered.pop(int(match.group(1)))
            await _hold_for_x12(conn, claim, refused)
    return None


async def _store_submission(conn, settings, tenant_id, payer_id, claim_type, batch, rendered,
                            lines_by_claim) -> UUID:
    group = [claim for claim, _ in rendered]
    now = datetime.now(timezone.utc)
    # Rendered before control numbers are drawn: a refused claim must not burn any.
    prepared = x12.prepare_837(batch, created_at=now, usage_indicator=settings.usage_indicator,
                               max_claims_per_transaction=MAX_CLAIMS_PER_TRANSACTION)
    [interchange] = await _next_values(conn, "interchange_control_number_seq", 1)
    group_numbers = await _next_values(conn, "group_control_number_seq", prepared.group_count)
    transaction_numbers = await _next_values(conn, "transaction_set_control_number_seq",
                                             prepared.transaction_set_count)
    rendered_x12 = prepared.render(interchange_control_number=interchange, group_control_numbers=group_numbers,
                                   transaction_set_control_numbers=transaction_numbers)
    submission_id = uuid4()
    await conn.execute(submissions.insert().values(
        id=submission_id, tenant_id=tenant_id, payer_id=payer_id, claim_type=claim_type,
        interchange_control_number=interchange, group_control_number=group_numbers[0],
        raw_x12=rendered_x12.encode("ascii"), status="pending", created_at=now))
    sent_in = [transaction_numbers[index // MAX_CLAIMS_PER_TRANSACTION] for index in range(len(group))]
    await conn.execute(claim_submissions.insert(), [
        {"submission_id": submission_id, "claim_id": claim.id, "tenant_id": tenant_id, "version": claim.version,
         "transaction_set_control_number": transaction_set, "frequency_code": claim.frequency_code}
        for claim, transaction_set in zip(group, sent_in)])
    await _mark_submitted(conn, rendered, lines_by_claim, submission_id, now,
                          envelope=[(interchange, transaction_set) for transaction_set in sent_in])
    return submission_id


def _as_billed(units: Decimal) -> Decimal:
    """NUMERIC(9, 3) units without the column's trailing zeros: 1.000 -> 1, 1.500 -> 1.5."""
    return units.quantize(Decimal(1)) if units == units.to_integral_value() else units.normalize()


def provider_name(billed) -> str:
    """The provider a patient statement names: the rendering (837P 2310B) or attending (837I 2310A)
    provider as registered, else the billing provider (2010AA), whose name every claim carries."""
    person = getattr(billed, "rendering_provider", None) or getattr(billed, "attending_provider", None)
    if person is None:
        return billed.billing_provider.name
    return " ".join(part for part in (person.first_name, person.middle_name, person.last_name) if part)


def line_description(hcpcs: HcpcsCodeSet | None, procedure_code: str | None) -> str | None:
    """A line's procedure in words: the HCPCS Level II description from the CMS file loaded here.
    CPT (Level I) descriptions are the AMA's and not public, so a CPT code gets none and the
    statement words it itself (by its CPT family)."""
    if hcpcs is None or not procedure_code:
        return None
    return hcpcs.description(procedure_code)


def _billed_facts(billed, interchange: int, transaction_set: int) -> dict:
    """What the 837 said about the claim beyond its lines, for ClaimSubmitted: where it went (ISA13,
    ST02), the parties an appeal letter names (see the contract) and the provider a statement names."""
    patient = billed.patient or billed.subscriber
    diagnoses = getattr(billed, "diagnosis_codes", None) or (getattr(billed, "principal_diagnosis", None),)
    return {"provider_name": provider_name(billed),
            "interchange_control_number": f"{interchange:09d}",
            "transaction_set_control_number": f"{transaction_set:04d}",
            "frequency_code": billed.frequency_code,
            "patient_name": " ".join(part for part in (patient.first_name, patient.last_name) if part),
            "member_id": billed.subscriber.member_id, "payer_name": billed.payer.name,
            "billing_provider_name": billed.billing_provider.name, "billing_provider_npi": billed.billing_provider.npi,
            "diagnosis_codes": [code for code in diagnoses if code]}


async def _mark_submitted(conn, rendered, lines_by_claim, submission_id: UUID, now: datetime, *,
                          envelope: list[tuple[int, int]]) -> None:
    group = [claim for claim, _ in rendered]
    ids = [claim.id for claim in group]
    hcpcs = IN_FORCE.current.hcpcs if IN_FORCE.current is not None else None  # the code sets this process has
    await conn.execute(claims.update().where(claims.c.id.in_(ids))
                       .values(status=ClaimStatus.SUBMITTED, updated_at=now))
    events = [ClaimSubmitted(
        tenant_id=claim.tenant_id, claim_id=claim.id, encounter_id=claim.encounter_id, patient_id=claim.patient_id,
        payer_id=claim.payer_id, patient_control_number=claim.patient_control_number, total_charge=claim.total_charge,
        service_date_from=claim.service_date_from, service_date_to=claim.service_date_to, submitted_at=now,
        claim_type=claim.claim_type, payer_responsibility=claim.payer_responsibility,
        rendering_provider_npi=claim.rendering_npi,
        claim_filing_indicator=billed.subscriber.claim_filing_indicator,
        lines=[SubmittedClaimLine(line_number=l.line_number, procedure_code=l.procedure_code or "",
                                  revenue_code=l.revenue_code, modifiers=list(l.modifiers), units=math.ceil(l.units),
                                  quantity=_as_billed(l.units),
                                  charge_amount=l.charge_amount, service_date=l.service_date,
                                  description=line_description(hcpcs, l.procedure_code))
               for l in lines_by_claim[claim.id]],
        **_billed_facts(billed, *sent_in))
        for (claim, billed), sent_in in zip(rendered, envelope)]
    envelopes = await stage_claim_events(conn, events)
    await conn.execute(claim_history.insert(), [
        {"claim_id": claim.id, "tenant_id": claim.tenant_id, "occurred_at": now, "kind": "submitted",
         "from_status": ClaimStatus.READY, "to_status": ClaimStatus.SUBMITTED, "event_id": envelope.id,
         "detail": {"submission_id": str(submission_id), "version": claim.version}}
        for claim, envelope in zip(group, envelopes)])


async def send_pending(engine: AsyncEngine, clearinghouse: Clearinghouse, *, limit: int = 100) -> int:
    """Send stored files the clearinghouse has not taken yet (at most `limit` this round); returns
    how many were taken."""
    sent = 0
    for _ in range(limit):
        async with engine.begin() as conn:
            # Locked while it is sent and marked: another worker skips it and takes the next.
            submission = (await conn.execute(
                sa.select(submissions.c.id, submissions.c.raw_x12).where(submissions.c.status == "pending")
                .order_by(submissions.c.created_at).limit(1).with_for_update(skip_locked=True))).first()
            if submission is None:
                break
            try:
                batch_id = await clearinghouse.submit(submission.id, submission.raw_x12)
            except ClearinghouseUnavailable as exc:
                log.warning("clearinghouse unavailable; file stays pending", extra={"error_class": str(exc)})
                break
            except ClearinghouseRefused as refused:
                log.warning("clearinghouse refused a file", extra={"submission_id": str(submission.id),
                                                                   "http_status": refused.status})
                await _refuse(conn, submission.id, refused)
                continue
            await conn.execute(submissions.update().where(submissions.c.id == submission.id).values(
                status="sent", clearinghouse_batch_id=batch_id, sent_at=sa.func.now()))
        sent += 1
    return sent


async def _refuse(conn: AsyncConnection, submission_id: UUID, refused: ClearinghouseRefused) -> None:
    """Mark the file refused and hold its claims (those still `submitted` in the version it
    carried) with the clearinghouse's reason, so a person fixes and resubmits them."""
    reason = f"the clearinghouse refused the file (HTTP {refused.status}): {refused.detail}"[:500]
    await conn.execute(submissions.update().where(submissions.c.id == submission_id).values(
        status="refused", refusal_reason=reason))
    rows = await lock_claims(conn, sa.select(claims.c.id, claims.c.tenant_id, claims.c.version)
                             .join(claim_submissions, sa.and_(claim_submissions.c.claim_id == claims.c.id,
                                                              claim_submissions.c.version == claims.c.version))
                             .where(claim_submissions.c.submission_id == submission_id,
                                    claims.c.status == ClaimStatus.SUBMITTED))
    await move_claims(conn, [ClaimMove(
        claim_id=row.id, tenant_id=row.tenant_id, from_status=ClaimStatus.SUBMITTED, target=ClaimStatus.HELD,
        kind="refused_by_clearinghouse", detail={"submission_id": str(submission_id), "reason": reason},
        event=ClaimHeld(tenant_id=row.tenant_id, claim_id=row.id, version=row.version,
                        rule_set_version="clearinghouse", rule_ids=[REFUSED_RULE_ID]))
        for row in rows])


async def run_submission_loop(runtime, settings: SubmissionSettings, clearinghouse: Clearinghouse | None) -> None:
    """Background task of the claims service: batch ready claims and send files, forever, one
    round every `batch_interval_seconds` (from the start of one round to the next). Every
    practice's ready claims in each round: the system role (openrcm_shared.row_security)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            if await build_batches(runtime.system_engine, settings):
                runtime.events_staged()
            if clearinghouse is not None:
                await send_pending(runtime.system_engine, clearinghouse)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away or a claim the generator refuses: log, retry next round
            log.warning("submission round failed", extra={"error_class": type(exc).__name__}, exc_info=True)
        await asyncio.sleep(until_next_round(settings.batch_interval_seconds, loop.time() - started))


def until_next_round(interval: float, round_took: float) -> float:
    """The wait before the next round: rounds start `interval` apart, so a claim waits at most
    one interval for its batch (sleeping a full interval after each round added the round's own
    time, 0.2-0.4 s at 300 claims/s, to every claim's way to ClaimSubmitted). A round that took
    longer than the interval is followed at once."""
    return max(0.0, interval - round_took)
