"""The payer: claim types it takes, timely filing, and provider enrollment."""

from __future__ import annotations

from openrcm_claims.domain.scrubber.model import BLOCK, WARN
from openrcm_claims.domain.scrubber.registry import rule
from openrcm_claims.domain.scrubber.rules._common import NONE, npi_ok
# Warn this many days before the timely filing limit runs out.
FILING_WARNING_DAYS = 14


@rule("PAYER.CLAIM_TYPE", BLOCK, "The payer takes this claim type (payer registry).")
def payer_claim_type(ctx):
    payer = ctx.claim.payer
    if payer is not None and ctx.claim.claim_type not in payer.claim_types:
        return [(f"payer {payer.payer_id} does not take {ctx.claim.claim_type} claims", "/claim_type")]
    return NONE


def _filing_ages(ctx):
    """(line index, days since the date that starts the filing clock). Medicare counts from the
    line "from" date on professional claims and the "through" date on institutional ones (Medicare
    Claims Processing Manual, Pub. 100-04, ch. 1, section 70.5); other payers follow the same rule."""
    today = ctx.today
    if ctx.professional:
        return [(index, (today - line.service_date).days) for index, line in enumerate(ctx.claim.lines)]
    return [(index, (today - (line.service_date_to or line.service_date)).days)
            for index, line in enumerate(ctx.claim.lines)]


@rule("TIMELY.FILING_LIMIT", BLOCK, "The claim is sent within the payer's timely filing limit (days since the date of service).")
def timely_filing(ctx):
    payer = ctx.claim.payer
    if payer is None:
        return NONE
    limit = payer.timely_filing_days
    if ctx.service_dates and (ctx.today - ctx.service_dates[0]).days <= limit:
        return NONE
    # the message names the limit, not the age (an age would give the date of service away)
    return [(f"the date of service is past payer {payer.payer_id}'s timely filing limit of {limit} days",
             f"/lines/{index}/service_date") for index, age in _filing_ages(ctx) if age > limit]


@rule("TIMELY.FILING_SOON", WARN, f"The payer's timely filing limit runs out within {FILING_WARNING_DAYS} days.")
def timely_filing_soon(ctx):
    payer = ctx.claim.payer
    if payer is None:
        return NONE
    limit = payer.timely_filing_days
    if ctx.service_dates and (ctx.today - ctx.service_dates[0]).days < limit - FILING_WARNING_DAYS:
        return NONE  # even the oldest "from" date is far from the limit (through dates are later)
    return [(f"payer {payer.payer_id}'s timely filing limit of {limit} days runs out within {FILING_WARNING_DAYS} "
             "days for this line", f"/lines/{index}/service_date")
            for index, age in _filing_ages(ctx) if 0 <= limit - age <= FILING_WARNING_DAYS]


@rule("ENROLL.NOT_ENROLLED", BLOCK,
      "Billing and rendering providers are enrolled with a payer that requires it, on each date of service.")
def not_enrolled(ctx):
    claim = ctx.claim
    payer = claim.payer
    if payer is None or not payer.enrollment_required or not ctx.service_dates:
        return NONE
    found = []
    for prefix, role, provider in (("/billing_provider", "billing", claim.billing_provider),
                                   ("/rendering_provider", "rendering", claim.rendering_provider)):
        if provider is None or not provider.npi or not npi_ok(provider.npi):
            continue  # IG.* / NPI.CHECK_DIGIT report it
        missing = [day for day in ctx.service_dates if not ctx.enrollments.is_enrolled(provider.npi, payer.payer_id, day)]
        if missing:
            count = len(missing)
            found.append((f"the {role} provider (NPI {provider.npi}) is not enrolled with payer {payer.payer_id} on "
                          f"{'a date' if count == 1 else f'{count} dates'} of service on this claim", f"{prefix}/npi"))
    return found
