"""Manual posting (the JSON form, for paper EOBs) and the projection of submitted claims.

A person keying an EOB gets every mistake back at once as a 422 naming the field, and nothing is
posted until the whole remittance is right; a correct one is converted to the 835 model and posted
by the same code as an ERA (era_posting), so both paths follow one set of rules.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_remittance.adapters.tables import expected_claims
from openrcm_remittance.domain.matching import billed_units
from openrcm_remittance.entrypoints.schemas import ClaimPaymentIn, RemittanceIn
from openrcm_remittance.service_layer.era_posting import TransactionOutcome, TransactionTarget, post_transaction
from openrcm_shared.codesets import carc, is_valid_on, rarc
from openrcm_shared.contracts.claims import ClaimSubmitted
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.x12.line_control import line_control_number
from openrcm_shared.x12.remittance_835 import (
    Adjustment, ClaimPayment, Party, PaymentInformation, ProcedureCode, ReassociationTrace, RemarkCode,
    Remittance835, ServiceLine,
)

_ZERO = Decimal("0.00")


def _remember_claim_statement():
    """Insert the billed claim; a corrected or replacement claim is submitted again under the same
    id: keep its latest lines. Built once (every submitted claim runs it)."""
    columns = ("claim_id", "tenant_id", "patient_control_number", "patient_id", "payer_id", "total_charge", "lines",
               "submitted_at")
    insert = pg_insert(expected_claims).values(
        {name: sa.bindparam(name, type_=expected_claims.c[name].type) for name in columns})
    return insert.on_conflict_do_update(index_elements=["claim_id"],
                                        set_={name: insert.excluded[name] for name in columns[3:]})


_REMEMBER_CLAIM = _remember_claim_statement()


async def on_claim_submitted(ctx: HandlerContext, event: ClaimSubmitted) -> None:
    """Remember the claim so its remittance can be matched by patient control number (nothing
    else in the consumer's transaction reads it: written with the run's others at its commit)."""
    await ctx.write_at_commit(_REMEMBER_CLAIM, dict(
        claim_id=event.claim_id, tenant_id=event.tenant_id, patient_control_number=event.patient_control_number,
        patient_id=event.patient_id, payer_id=event.payer_id, total_charge=event.total_charge,
        lines=[line.model_dump(mode="json") for line in event.lines], submitted_at=event.submitted_at))


def _adjustments(items) -> list[Adjustment]:
    return [Adjustment(a.group_code, a.carc, a.amount) for a in items]


def _line_errors(index: int, claim: ClaimPaymentIn, billed: dict[int, dict]) -> list[dict]:
    """The lines must be the claim's lines, with the charges that were billed, and balance."""
    errors = []
    for j, line in enumerate(claim.lines):
        where = f"/claims/{index}/lines/{j}"
        if line.line_number not in billed:
            errors.append(field_error(f"{where}/line_number", "the claim has no such line"))
        elif Decimal(str(billed[line.line_number]["charge_amount"])) != line.charge_amount:
            errors.append(field_error(f"{where}/charge_amount",
                                      f"billed charge was {billed[line.line_number]['charge_amount']}"))
        adjusted = sum((a.amount for a in line.adjustments), _ZERO)
        if line.charge_amount - adjusted != line.paid_amount:
            errors.append(field_error(f"{where}/paid_amount", f"charge {line.charge_amount} - adjustments {adjusted} "
                                      f"= {line.charge_amount - adjusted}, but paid is {line.paid_amount}"))
    return errors


def _code_errors(index: int, claim: ClaimPaymentIn, payment_date: date) -> list[dict]:
    """Every CARC and RARC must be in X12's lists and in force on the payment date (a keyed EOB
    is where a typo or a retired code gets in)."""
    errors = []
    places = [(f"/claims/{index}/claim_adjustments/{k}", a) for k, a in enumerate(claim.claim_adjustments)]
    for j, line in enumerate(claim.lines):
        places += [(f"/claims/{index}/lines/{j}/adjustments/{k}", a) for k, a in enumerate(line.adjustments)]
        errors += [field_error(f"/claims/{index}/lines/{j}/rarcs/{k}", problem)
                   for k, code in enumerate(line.rarcs) if (problem := _code_problem("RARC", rarc(code), code,
                                                                                     payment_date))]
    errors += [field_error(f"{where}/carc", problem) for where, adjustment in places
               if (problem := _code_problem("CARC", carc(adjustment.carc), adjustment.carc, payment_date))]
    return errors


def _problem_type(errors: list[dict], unknown: int) -> str:
    if unknown == len(errors):
        return "unknown-claim"  # the claims may not have reached this service yet: try again
    if any(e["pointer"].endswith(("/paid_amount", "/payment_amount")) for e in errors):
        return "remittance-unbalanced"
    return "validation-error"


def _code_problem(kind: str, entry, code: str, on: date) -> str | None:
    if entry is None:
        return f"{kind} {code} is not in the X12 list"
    if not is_valid_on(entry, on):
        return f"{kind} {code} is not in force on {on} (start {entry.start_date}, stop {entry.stop_date})"
    return None


def _claim_payment(claim: ClaimPaymentIn, billed: dict[int, dict]) -> ClaimPayment:
    lines = []
    for line in claim.lines:
        billed_line = billed[line.line_number]
        lines.append(ServiceLine(
            procedure=ProcedureCode("HC", billed_line["procedure_code"], tuple(billed_line.get("modifiers") or ())),
            charge=line.charge_amount, paid=line.paid_amount, segment_number=0,
            units=billed_units(billed_line),
            service_date=date.fromisoformat(billed_line["service_date"]),
            line_control_number=line_control_number(claim.patient_control_number, line.line_number),
            allowed_amount=line.allowed_amount, adjustments=_adjustments(line.adjustments),
            remark_codes=[RemarkCode("HE", code) for code in line.rarcs]))
    claim_adjustments = _adjustments(claim.claim_adjustments)
    paid = sum((l.paid for l in lines), _ZERO) - sum((a.amount for a in claim_adjustments), _ZERO)
    return ClaimPayment(patient_control_number=claim.patient_control_number, status_code="1",
                        charge=sum((l.charge for l in lines), _ZERO), paid=paid, segment_number=0,
                        payer_claim_control_number=claim.payer_claim_control_number,
                        adjustments=claim_adjustments, service_lines=lines)


def _header(remittance: RemittanceIn) -> Remittance835:
    """An 835 header for a paper EOB: no envelope, the payment as the person keyed it."""
    return Remittance835(
        transaction_set_control_number="", implementation_convention_reference=None, interchange_control_number="",
        interchange_sender_id="", interchange_receiver_id="", group_control_number="", application_sender_code="",
        application_receiver_code="", version="manual",
        payment=PaymentInformation("I", remittance.payment_amount, "C", "NON", payment_date=remittance.payment_date),
        trace=ReassociationTrace("1", remittance.trace_number), payer=Party("PR", remittance.payer_id),
        payee=Party("PE", ""))


async def _billed_lines(conn: AsyncConnection, tenant_id: str, remittance: RemittanceIn) -> dict[str, dict]:
    pcns = [claim.patient_control_number for claim in remittance.claims]
    rows = (await conn.execute(sa.select(expected_claims).where(
        expected_claims.c.tenant_id == tenant_id, expected_claims.c.patient_control_number.in_(pcns)))).all()
    return {row.patient_control_number: {line["line_number"]: line for line in row.lines} for row in rows}


async def post_manual_remittance(conn: AsyncConnection, engine: AsyncEngine, tenant_id: str,
                                 remittance: RemittanceIn) -> TransactionOutcome:
    """Validate everything, then post on `conn` (in the request's transaction); 422 naming each
    field, or 409 for a payment already posted."""
    billed = await _billed_lines(conn, tenant_id, remittance)
    errors, unknown = [], 0
    for index, claim in enumerate(remittance.claims):
        if claim.patient_control_number not in billed:
            unknown += 1
            errors.append(field_error(f"/claims/{index}/patient_control_number", "no submitted claim has this number"))
            continue
        errors += _line_errors(index, claim, billed[claim.patient_control_number])
        errors += _code_errors(index, claim, remittance.payment_date)
    claims = [] if errors else [_claim_payment(c, billed[c.patient_control_number]) for c in remittance.claims]
    if not errors and sum((c.paid for c in claims), _ZERO) != remittance.payment_amount:
        errors.append(field_error("/payment_amount", f"payment {remittance.payment_amount} differs from the claims' "
                                  f"paid total {sum((c.paid for c in claims), _ZERO)}"))
    if errors:
        raise Problem(422, "The remittance cannot be posted", "Nothing was posted.",
                      type_=_problem_type(errors, unknown), errors=errors)
    target = TransactionTarget(tenant_id=tenant_id, payer_id=remittance.payer_id, source="json",
                               document=remittance.model_dump(mode="json"))
    outcome = await post_transaction(engine, target, _header(remittance), iter(claims), conn=conn)
    if outcome.status == "duplicate":
        raise Problem(409, "Duplicate payment", "This payer's payment with this trace number and amount was already "
                      "posted; nothing was posted again.", type_="duplicate-payment",
                      errors=[field_error("/trace_number", "already posted")],
                      existing_remittance_id=str(outcome.duplicate_of))
    if outcome.status != "posted":
        raise Problem(422, "The remittance cannot be posted", "Nothing was posted: " + "; ".join(outcome.reasons),
                      type_="remittance-unbalanced")
    return outcome
