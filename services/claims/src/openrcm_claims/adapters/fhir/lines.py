"""A FHIR Claim's diagnoses and items as the encounter's diagnosis codes and lines.

- Diagnoses in ICD-10-CM, the principal first (type `principal`), the others in sequence order;
  on an institutional claim one typed `admitting` only is the admitting diagnosis (HI*ABJ).
- Items in sequence order: the procedure (CPT or HCPCS), modifiers, revenue code (NUBC), units
  (`quantity`, fractional as given; days when its UCUM code is `d`), the charge (`net`, else
  `quantity × unitPrice × factor`, to the cent; a `net` that disagrees is refused), the dates
  (`servicedDate`, `servicedPeriod`, else `Claim.billablePeriod`), the place of service (CMS code)
  and the diagnosis pointers (`diagnosisSequence`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from openrcm_claims.adapters.fhir.datatypes import choose_code, day, dollars, has_code
from openrcm_claims.adapters.fhir.issues import Issue, SourceMap
from openrcm_claims.adapters.fhir.references import Found, Place, Resolver
from openrcm_claims.adapters.fhir.systems import (
    CARIN_DIAGNOSIS_TYPE, CPT, DATA_ABSENT_REASON, DIAGNOSIS_TYPE, HCPCS, ICD10_CM, PLACE_OF_SERVICE, REVENUE_CODE,
    UCUM,
)
from openrcm_shared.money import to_cents

PROCEDURE_SYSTEMS = (CPT, HCPCS)
# CARIN's diagnosis types the 837 would send under other HI qualifiers (ABN external cause of
# injury, APR patient's reason for visit), which this intake does not carry.
_UNCARRIED_DIAGNOSIS_TYPES = ("externalcauseofinjury", "patientreasonforvisit")


@dataclass
class Diagnoses:
    codes: list[str] = field(default_factory=list)
    pointer_of: dict[int, int] = field(default_factory=dict)  # Claim.diagnosis.sequence -> 1-based position
    admitting: str | None = None
    unread: set[int] = field(default_factory=set)  # sequences of diagnoses refused already


@dataclass
class ItemContext:
    """What reading the items needs from the rest of the Claim."""

    claim: object
    root: str
    institutional: bool
    diagnoses: Diagnoses
    lead_care_team: frozenset[int]  # careTeam sequences of the rendering / attending provider
    unread_care_team: frozenset[int]  # careTeam sequences refused already (not reported again per item)
    issues: list[Issue]
    sources: SourceMap
    notes: list[str]


def in_sequence(elements, path: str, issues: list[Issue]) -> list[tuple[int, object]]:
    """(index, element) ordered by `sequence`; a sequence used twice is an issue."""
    ordered = sorted(enumerate(elements or []), key=lambda pair: pair[1].sequence)
    seen: set[int] = set()
    for index, element in ordered:
        if element.sequence in seen:
            issues.append(Issue("invariant", f"{path}[{index}].sequence", f"sequence {element.sequence} is used twice"))
        seen.add(element.sequence)
    return ordered


def read_diagnoses(claim, root: str, resolver: Resolver, issues: list[Issue], sources: SourceMap,
                   notes: list[str], *, institutional: bool) -> Diagnoses:
    principal: list[tuple[int, int, str]] = []
    others: list[tuple[int, int, str]] = []
    admitting: str | None = None
    unread: set[int] = set()
    for index, diagnosis in in_sequence(claim.diagnosis, f"{root}.diagnosis", issues):
        path = f"{root}.diagnosis[{index}]"
        code = _diagnosis_code(diagnosis, path, claim, root, resolver, issues)
        roles = _diagnosis_roles(diagnosis, path, issues)
        if diagnosis.onAdmission is not None:
            notes.append(f"{path}.onAdmission: present-on-admission indicators are not sent on the 837")
        if code is None:
            unread.add(diagnosis.sequence)
            continue
        if institutional and "admitting" in roles:
            admitting = code
            sources.add("/institutional/admitting_diagnosis", path)
            if roles == {"admitting"}:
                continue
        (principal if "principal" in roles else others).append((index, diagnosis.sequence, code))
    if len(principal) > 1:
        issues.append(Issue("invariant", f"{root}.diagnosis[{principal[1][0]}].type", "a claim has one principal "
                                                                                      "diagnosis"))
    result = Diagnoses(admitting=admitting, unread=unread)
    for position, (index, sequence, code) in enumerate(principal + others, start=1):
        result.codes.append(code)
        result.pointer_of[sequence] = position
        sources.add(f"/diagnosis_codes/{position - 1}", f"{root}.diagnosis[{index}]")
    sources.add("/diagnosis_codes", f"{root}.diagnosis")
    if not result.codes and not any(i.expression.startswith(f"{root}.diagnosis") for i in issues):
        issues.append(Issue("required", f"{root}.diagnosis", "at least one diagnosis (ICD-10-CM)"))
    return result


def _diagnosis_code(diagnosis, path: str, claim, root: str, resolver: Resolver, issues: list[Issue]) -> str | None:
    if diagnosis.diagnosisCodeableConcept is not None:
        chosen = choose_code(diagnosis.diagnosisCodeableConcept, path + ".diagnosisCodeableConcept", (ICD10_CM,),
                             issues, "the diagnosis")
        return chosen[1] if chosen else None
    found = resolver.resolve(diagnosis.diagnosisReference, Place(path + ".diagnosisReference", claim), ("Condition",),
                             issues)
    if not isinstance(found, Found):
        if found is not None:
            issues.append(Issue("not-found", path + ".diagnosisReference", "a Condition must be contained or in "
                                                                            "the Bundle"))
        return None
    chosen = choose_code(found.resource.code, found.path + ".code", (ICD10_CM,), issues, "the diagnosis")
    return chosen[1] if chosen else None


def _diagnosis_roles(diagnosis, path: str, issues: list[Issue]) -> set[str]:
    roles: set[str] = set()
    for index, concept in enumerate(diagnosis.type or []):
        kind = has_code(concept, DIAGNOSIS_TYPE, "principal", "admitting")
        uncarried = has_code(concept, CARIN_DIAGNOSIS_TYPE, *_UNCARRIED_DIAGNOSIS_TYPES)
        if kind:
            roles.add(kind)
        elif uncarried:
            issues.append(Issue("not-supported", f"{path}.type[{index}]",
                                f"{uncarried} diagnoses are not carried on this 837"))
    return roles or {"other"}


def read_items(context: ItemContext) -> tuple[list[dict], list[str | None]]:
    """The lines, and each line's place of service (None when the item names none)."""
    lines, places = [], []
    for number, (index, item) in enumerate(in_sequence(context.claim.item, f"{context.root}.item", context.issues)):
        path = f"{context.root}.item[{index}]"
        line, place = _line(item, path, f"/lines/{number}", context)
        lines.append(line)
        places.append(place)
    if not lines:
        context.issues.append(Issue("required", f"{context.root}.item", "at least one item (a service line)"))
    return lines, places


def _line(item, path: str, pointer: str, context: ItemContext) -> tuple[dict, str | None]:
    issues, sources = context.issues, context.sources
    charge, charged_from = _charge(item, path, issues)
    service_date, service_date_to = _service_dates(item, path, context)
    for field_name, element in (("procedure_code", "productOrService"), ("revenue_code", "revenue"),
                                ("modifiers", "modifier"), ("units", "quantity"), ("unit_basis", "quantity"),
                                ("charge_amount", charged_from), ("service_date", "serviced"),
                                ("service_date_to", "serviced"), ("place_of_service", "location"),
                                ("diagnosis_pointers", "diagnosisSequence")):
        sources.add(f"{pointer}/{field_name}", f"{path}.{element}")
    sources.add(pointer, path)
    for position in range(len(item.modifier or [])):
        sources.add(f"{pointer}/modifiers/{position}", f"{path}.modifier[{position}]")
    if item.detail:
        issues.append(Issue("not-supported", path + ".detail", "item details (packages of sub-services) are not "
                                                               "carried: bill each service as an item"))
    _check_care_team(item, path, context)
    quantity = item.quantity
    line = {
        "procedure_code": _procedure(item, path, context),
        "revenue_code": _revenue(item, path, issues),
        "modifiers": [code for position, concept in enumerate(item.modifier or [])
                      if (code := _code(concept, f"{path}.modifier[{position}]", PROCEDURE_SYSTEMS, issues,
                                        "the modifier"))],
        "units": Decimal(quantity.value) if quantity is not None and quantity.value is not None else Decimal(1),
        "charge_amount": charge,
        "service_date": service_date,
        "service_date_to": service_date_to,
        "diagnosis_pointers": [] if context.institutional else _pointers(item, path, pointer, context),
    }
    if context.institutional:
        # 837I SV204: DA (days) for accommodation lines counted in days, UN (units) otherwise.
        line["unit_basis"] = "DA" if quantity is not None and quantity.system == UCUM and quantity.code == "d" else "UN"
    return line, _place(item, path, context)


def _code(concept, path: str, systems: tuple[str, ...], issues: list[Issue], what: str) -> str | None:
    chosen = choose_code(concept, path, systems, issues, what)
    return chosen[1] if chosen else None


def _procedure(item, path: str, context: ItemContext) -> str | None:
    concept = item.productOrService
    if concept is None:  # 1..1 in FHIR R4; fhir.resources lets an explicit null through
        context.issues.append(Issue("required", path + ".productOrService", "required (1..1 in FHIR R4)"))
        return None
    if context.institutional:
        # An institutional line may be billed by revenue code alone: productOrService (1..1 in
        # FHIR) then says so with a data-absent-reason coding, or text only.
        meaningful = [c for c in concept.coding or [] if c.system != DATA_ABSENT_REASON]
        if not meaningful:
            return None
    return _code(concept, path + ".productOrService", PROCEDURE_SYSTEMS, context.issues, "the procedure")


def _revenue(item, path: str, issues: list[Issue]) -> str | None:
    if item.revenue is None:
        return None
    return _code(item.revenue, path + ".revenue", (REVENUE_CODE,), issues, "the revenue code")


def _charge(item, path: str, issues: list[Issue]) -> tuple[Decimal | None, str]:
    """The line's charge and the element it came from: `net`, else quantity × unitPrice × factor
    (FHIR R4 Claim.item.net's definition), rounded to the cent; a stated `net` must equal it."""
    quantity = Decimal(item.quantity.value) if item.quantity is not None and item.quantity.value is not None \
        else Decimal(1)
    factor = Decimal(item.factor) if item.factor is not None else Decimal(1)
    price = dollars(item.unitPrice, path + ".unitPrice", issues)
    net = dollars(item.net, path + ".net", issues)
    product = None if price is None else to_cents(quantity * price * factor)
    if item.net is not None:  # stated (when in another currency, that was said already)
        if net is None:
            return None, "net"
        if net != to_cents(net):
            issues.append(Issue("value", path + ".net", f"net {net} has fractions of a cent"))
        elif product is not None and product != net:
            formula = f"{quantity} × {price}" + (f" × {factor}" if item.factor is not None else "")
            issues.append(Issue("invariant", path + ".net", f"net {net} is not quantity × unitPrice"
                                + (" × factor" if item.factor is not None else "") + f" ({formula} = {product})"))
        return net, "net"
    if product is None:
        if item.unitPrice is None:
            issues.append(Issue("required", path + ".net", "the line's charge: net, or unitPrice (× quantity × factor)"))
        return None, "net"
    return product, "unitPrice"


def _service_dates(item, path: str, context: ItemContext):
    issues = context.issues
    if item.servicedDate is not None:
        return day(item.servicedDate, path + ".servicedDate", issues, "servicedDate"), None
    period, period_path = item.servicedPeriod, path + ".servicedPeriod"
    if period is None:
        period, period_path = context.claim.billablePeriod, f"{context.root}.billablePeriod"
    if period is None or period.start is None:
        issues.append(Issue("required", path + ".serviced", "the date of service: servicedDate or servicedPeriod "
                                                            "(or Claim.billablePeriod)"))
        return None, None
    start = day(period.start, period_path + ".start", issues, "the period's start")
    end = day(period.end, period_path + ".end", issues, "the period's end") if period.end is not None else None
    return start, end if end != start else None


def _place(item, path: str, context: ItemContext) -> str | None:
    if item.locationCodeableConcept is not None:
        return _code(item.locationCodeableConcept, path + ".locationCodeableConcept", (PLACE_OF_SERVICE,),
                     context.issues, "the place of service")
    if not context.institutional and (item.locationAddress is not None or item.locationReference is not None):
        context.issues.append(Issue("not-supported", path + ".location", "the place of service is a CMS code in "
                                                                         "locationCodeableConcept"))
    return None


def _pointers(item, path: str, pointer_to_line: str, context: ItemContext) -> list[int]:
    pointers = []
    for position, sequence in enumerate(item.diagnosisSequence or []):
        pointer = context.diagnoses.pointer_of.get(sequence)
        if pointer is None and sequence in context.diagnoses.unread:
            context.sources.consequence(f"{pointer_to_line}/diagnosis_pointers")
            continue  # the diagnosis itself was refused, and said so
        if pointer is None:
            context.issues.append(Issue("invalid", f"{path}.diagnosisSequence[{position}]",
                                        f"no Claim.diagnosis with sequence {sequence} is billed on this line"))
        else:
            pointers.append(pointer)
    return pointers


def _check_care_team(item, path: str, context: ItemContext) -> None:
    for position, sequence in enumerate(item.careTeamSequence or []):
        if sequence not in context.lead_care_team and sequence not in context.unread_care_team:
            context.issues.append(Issue("not-supported", f"{path}.careTeamSequence[{position}]",
                                        "line-level providers other than the claim's rendering (attending) provider "
                                        "are not carried"))
