"""The normalized answer of a check, as stored and served: a parsed 271 turned into plain JSON
(money as decimal strings with cents, percentages as decimal strings, dates ISO)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal

from openrcm_shared.x12.eligibility_271 import Benefit, EligibilityResponse, ServiceSummary
from openrcm_shared.x12.eligibility_codes import SERVICE_TYPES

_CENT = Decimal("0.01")
_MONEY_FIELDS = ("copay", "deductible", "deductible_remaining", "out_of_pocket", "out_of_pocket_remaining",
                 "family_deductible_remaining", "family_out_of_pocket_remaining")


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount.quantize(_CENT):f}"


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def normalized_result(response: EligibilityResponse) -> dict:
    """Status, payer, member, plan, one benefit per EB and service type, errors, a summary per
    service type, other payers and the trace numbers."""
    member = response.member
    return {
        "status": response.status,
        "payer": _plain(asdict(response.payer)) if response.payer else None,
        "member": None if member is None else {
            "member_id": response.member_id, "first_name": member.first_name, "last_name": member.last_name,
            "birth_date": _plain(member.birth_date), "gender": member.gender, "relationship": member.relationship,
            "is_dependent": response.dependent is not None},
        "plan": _plain(asdict(response.plan)) if response.plan else None,
        "benefits": [item for benefit in response.benefits for item in _benefit_items(benefit)],
        "errors": [asdict(error) for error in response.errors],
        "summary": {service_type: _summary(summary) for service_type, summary in response.summary().items()},
        "other_payers": [_plain(asdict(entity)) for entity in response.other_payers],
        "trace_numbers": [asdict(trace) for trace in response.trace_numbers],
    }


def _benefit_items(benefit: Benefit) -> list[dict]:
    common = {
        "kind": benefit.kind, "code": benefit.code, "coverage_level": benefit.coverage_level,
        "network": benefit.network, "time_period": benefit.time_period,
        "amount": money(benefit.amount), "percent": _plain(benefit.percent), "quantity": _plain(benefit.quantity),
        "quantity_qualifier": benefit.quantity_qualifier, "insurance_type": benefit.insurance_type,
        "plan_description": benefit.plan_description, "authorization_required": benefit.authorization_required,
        "procedure": benefit.procedure, "messages": list(benefit.messages),
        "dates": {name: _plain(asdict(span)) for name, span in benefit.dates.items()},
        "references": dict(benefit.references),
        "related_entities": [_plain(asdict(entity)) for entity in benefit.related_entities],
    }
    return [{"service_type": code, "service_type_name": SERVICE_TYPES.get(code), **common}
            for code in benefit.service_types]


def _summary(summary: ServiceSummary) -> dict:
    out = {"service_type": summary.service_type, "service_type_name": SERVICE_TYPES.get(summary.service_type),
           "coverage_active": summary.coverage_active,
           "prior_authorization_required": summary.prior_authorization_required,
           "non_covered": summary.non_covered, "messages": list(summary.messages),
           "coinsurance_percent": {network: f"{percent:f}" for network, percent in summary.coinsurance_percent.items()}}
    for name in _MONEY_FIELDS:
        out[name] = {network: money(amount) for network, amount in getattr(summary, name).items()}
    return out


def headline(result: dict, service_type: str = "30") -> dict:
    """The figures an office reads first (in network, else any): copay, deductible and what is
    left of it, coinsurance, out of pocket left; from the summary of `service_type`, else the plan's."""
    summary = result["summary"].get(service_type) or result["summary"].get("30") or {}

    def pick(name: str) -> str | None:
        values = summary.get(name) or {}
        return values.get("in") or values.get("any")

    return {"copay_amount": pick("copay"), "deductible_amount": pick("deductible"),
            "deductible_remaining": pick("deductible_remaining"), "coinsurance_percent": pick("coinsurance_percent"),
            "out_of_pocket_remaining": pick("out_of_pocket_remaining")}
