"""The intake's hot-path reader of a FHIR R4 Claim: a purpose-built model of exactly the elements a
Claim is billed from (and a few common ones it carries beside them), checked for type and
cardinality as the R4 definitions give them (hl7.org/fhir/R4/claim.html and the pages of the
datatypes and party resources cited below), validated by pydantic-core in one pass.

It stands in for fhir.resources' full R4 models (~1.5 ms of CPU per Claim) on the way to
`claim_intake.read_claim`: its objects have the attribute names and value types fhir.resources
gives (dates as `date`/`datetime`, partial dates as their text, decimals as `Decimal`, absent
elements as None, `Coverage.class` as `class_fhir`), so the one mapping reads either.

It is deliberately narrower than R4 and never wider than fhir.resources: `read_claim_json`
returns None for anything outside this model — an element it does not list (a modifierExtension,
`implicitRules`, `Claim.related`, `accident`, `procedure`, a primitive's `_element`), a contained
resource of another type, a JSON float (the body is read with exact decimals), an explicit null,
an empty array, a value in a looser form than the datatype's (a "true" string, a blank string) —
and the caller then takes the general path (fhir.resources), which answers exactly as before.
Every string check uses fhir.resources' own patterns (the same regex engine, pydantic-core's) or
a stricter one, so nothing is accepted here that the general path would refuse; the differential
test (tests/unit/test_fhir_claim_json.py) holds the two to the same answers.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, model_validator,
)

# -- primitive datatypes (hl7.org/fhir/R4/datatypes.html) ------------------------------------

# string: at least one character that is not whitespace (R4 allows blank strings to be trimmed
# to nothing; fhir.resources takes any non-empty string: this is the stricter of the two).
String = Annotated[str, StringConstraints(pattern=r"\S")]
# code: no leading/trailing whitespace, single inner spaces (R4 regex, as fhir.resources checks
# it); here ASCII only, so the same pattern means the same in any regex engine.
Code = Annotated[str, StringConstraints(pattern=r"^[!-~]+( [!-~]+)*$")]
# id: R4 [A-Za-z0-9\-\.]{1,64}.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]
# uri / canonical: R4 \S* (no whitespace); here non-empty.
Uri = Annotated[str, StringConstraints(pattern=r"^\S+$")]
# xhtml (Narrative.div): fhir.resources takes any string.
Xhtml = Annotated[str, StringConstraints(min_length=1)]
# positiveInt: 1..2,147,483,647 (strict: a JSON integer, never a boolean nor a string).
PositiveInt = Annotated[int, Field(ge=1, le=2_147_483_647)]

# date: YYYY, YYYY-MM or YYYY-MM-DD; dateTime adds Thh:mm:ss(.fff)(Z|±hh:mm), the zone required
# with a time. Years 1000-2999 and at most microseconds here (R4 allows more; those go to the
# general path), so Python's parser agrees with pydantic's on every value let through.
_DATE = re.compile(r"[12][0-9]{3}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?")
_DATE_TIME = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:"
                        r"[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))")


def _date(text: str) -> date | str:
    """A full date as a `date`; a partial one (1974, 1974-06) kept as its text, as fhir.resources
    keeps it. An impossible day (2026-02-30) raises: refused here."""
    if not _DATE.fullmatch(text):
        raise ValueError("not a FHIR date")
    return date.fromisoformat(text) if len(text) == 10 else text


def _date_time(text: str) -> datetime | date | str:
    """A dateTime with a time as an aware `datetime` (its own offset); without one, as a date."""
    if "T" not in text:
        return _date(text)
    if not _DATE_TIME.fullmatch(text):
        raise ValueError("not a FHIR dateTime")
    return datetime.fromisoformat(text)


def _decimal(value: Decimal | int) -> Decimal:
    """R4 decimal: a JSON number read exactly (json_body parses numbers with Decimal)."""
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("not a FHIR decimal")
    return Decimal(value)


def _instant(text: str) -> datetime:
    """R4 instant (Meta.lastUpdated): a full timestamp with its zone, a possible one."""
    if "T" not in text:
        raise ValueError("not a FHIR instant")
    return _date_time(text)


Date = Annotated[str, AfterValidator(_date)]
Instant = Annotated[str, AfterValidator(_instant)]
DateTime = Annotated[str, AfterValidator(_date_time)]
FhirDecimal = Annotated[Union[Decimal, int], AfterValidator(_decimal)]


class _Model(BaseModel):
    # strict: JSON types as they are (no "true" for true, no 1 for "1"); extra="forbid": an
    # element this model does not list sends the Claim to the general path.
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=False, frozen=True)


# -- complex datatypes ------------------------------------------------------------------------

class Extension(_Model):
    """R4 Extension (hl7.org/fhir/R4/extensibility.html): url, then a value or nested extensions
    (ext-1: not both), the value in one of the common types. Read by nothing on the Claim's way
    to an 837: a non-modifier extension changes no meaning (R4 §2.4), so it may be carried."""

    id: String = None
    url: Uri
    extension: Annotated[list[Extension], Field(min_length=1)] = None
    valueString: String = None
    valueCode: Code = None
    valueBoolean: bool = None
    valueInteger: Annotated[int, Field(ge=-2_147_483_648, le=2_147_483_647)] = None
    valueDecimal: FhirDecimal = None
    valueUri: Uri = None
    valueUrl: Uri = None
    valueCanonical: Uri = None
    valueDate: Date = None
    valueDateTime: DateTime = None
    valueCoding: Coding = None
    valueCodeableConcept: CodeableConcept = None
    valueIdentifier: Identifier = None
    valueReference: Reference = None
    valuePeriod: Period = None

    @model_validator(mode="after")
    def _one_value(self) -> Extension:
        values = sum(1 for name, value in self if name.startswith("value") and value is not None)
        if values + (self.extension is not None) != 1:
            raise ValueError("an extension has one value or nested extensions")
        return self


Extensions = Annotated[list[Extension], Field(min_length=1)]


class _Element(_Model):
    """R4 Element: an id and extensions on any datatype (never modifierExtension here)."""

    id: String = None
    extension: Extensions = None


class Coding(_Element):
    system: Uri = None
    version: String = None
    code: Code = None
    display: String = None
    userSelected: bool = None


class CodeableConcept(_Element):
    coding: Annotated[list[Coding], Field(min_length=1)] = None
    text: String = None


class Period(_Element):
    start: DateTime = None
    end: DateTime = None


class Identifier(_Element):
    use: Code = None
    type: CodeableConcept = None
    system: Uri = None
    value: String = None
    period: Period = None
    assigner: Reference = None


class Reference(_Element):
    reference: String = None
    type: Uri = None
    identifier: Identifier = None
    display: String = None


class HumanName(_Element):
    use: Code = None
    text: String = None
    family: String = None
    given: Annotated[list[String], Field(min_length=1)] = None
    prefix: Annotated[list[String], Field(min_length=1)] = None
    suffix: Annotated[list[String], Field(min_length=1)] = None
    period: Period = None


class Address(_Element):
    use: Code = None
    type: Code = None
    text: String = None
    line: Annotated[list[String], Field(min_length=1)] = None
    city: String = None
    district: String = None
    state: String = None
    postalCode: String = None
    country: String = None
    period: Period = None


class ContactPoint(_Element):
    system: Code = None
    value: String = None
    use: Code = None
    rank: PositiveInt = None
    period: Period = None


class Quantity(_Element):
    """SimpleQuantity (no comparator: R4 sqty-1)."""

    value: FhirDecimal = None
    unit: String = None
    system: Uri = None
    code: Code = None


class Money(_Element):
    value: FhirDecimal = None
    currency: Code = None


class Meta(_Element):
    versionId: Id = None
    lastUpdated: Instant = None
    source: Uri = None
    profile: Annotated[list[Uri], Field(min_length=1)] = None
    security: Annotated[list[Coding], Field(min_length=1)] = None
    tag: Annotated[list[Coding], Field(min_length=1)] = None


class Narrative(_Element):
    status: Literal["generated", "extensions", "additional", "empty"]
    div: Xhtml


def _at_most_one(*choices: object, required: bool = False) -> None:
    """A choice element (R4 `name[x]`): at most one of its types given (exactly one when 1..1)."""
    given = sum(choice is not None for choice in choices)
    if given > 1 or (required and given == 0):
        raise ValueError("a choice element [x] takes one type")


CodeableConcepts = Annotated[list[CodeableConcept], Field(min_length=1)]
Identifiers = Annotated[list[Identifier], Field(min_length=1)]
PositiveInts = Annotated[list[PositiveInt], Field(min_length=1)]


# -- resources (DomainResource: id, meta, text, language, extension; no implicitRules, no
# modifierExtension, nothing contained but in the Claim) ---------------------------------------

class _Resource(_Model):
    id: Id = None
    meta: Meta = None
    text: Narrative = None
    language: Code = None
    extension: Extensions = None

    def get_resource_type(self) -> str:
        return self.resourceType  # type: ignore[attr-defined]


class Patient(_Resource):
    """hl7.org/fhir/R4/patient.html, less its modifier elements (active, deceased[x] is kept out too)."""

    resourceType: Literal["Patient"]
    identifier: Identifiers = None
    name: Annotated[list[HumanName], Field(min_length=1)] = None
    telecom: Annotated[list[ContactPoint], Field(min_length=1)] = None
    gender: Literal["male", "female", "other", "unknown"] = None
    birthDate: Date = None
    address: Annotated[list[Address], Field(min_length=1)] = None
    maritalStatus: CodeableConcept = None


class RelatedPerson(_Resource):
    """hl7.org/fhir/R4/relatedperson.html (a subscriber who is not the patient)."""

    resourceType: Literal["RelatedPerson"]
    identifier: Identifiers = None
    patient: Reference
    relationship: CodeableConcepts = None
    name: Annotated[list[HumanName], Field(min_length=1)] = None
    telecom: Annotated[list[ContactPoint], Field(min_length=1)] = None
    gender: Literal["male", "female", "other", "unknown"] = None
    birthDate: Date = None
    address: Annotated[list[Address], Field(min_length=1)] = None


class CoverageClass(_Element):
    type: CodeableConcept
    value: String
    name: String = None


class Coverage(_Resource):
    """hl7.org/fhir/R4/coverage.html: status 1..1, beneficiary 1..1, payor 1..*."""

    resourceType: Literal["Coverage"]
    identifier: Identifiers = None
    status: Literal["active", "cancelled", "draft", "entered-in-error"]
    type: CodeableConcept = None
    policyHolder: Reference = None
    subscriber: Reference = None
    subscriberId: String = None
    beneficiary: Reference
    dependent: String = None
    relationship: CodeableConcept = None
    period: Period = None
    payor: Annotated[list[Reference], Field(min_length=1)]
    class_fhir: Annotated[list[CoverageClass], Field(min_length=1, alias="class")] = None
    order: PositiveInt = None
    network: String = None


class Organization(_Resource):
    """hl7.org/fhir/R4/organization.html (a payer, the billing provider)."""

    resourceType: Literal["Organization"]
    identifier: Identifiers = None
    type: CodeableConcepts = None
    name: String = None
    alias: Annotated[list[String], Field(min_length=1)] = None
    telecom: Annotated[list[ContactPoint], Field(min_length=1)] = None
    address: Annotated[list[Address], Field(min_length=1)] = None
    partOf: Reference = None


class Practitioner(_Resource):
    """hl7.org/fhir/R4/practitioner.html."""

    resourceType: Literal["Practitioner"]
    identifier: Identifiers = None
    name: Annotated[list[HumanName], Field(min_length=1)] = None
    telecom: Annotated[list[ContactPoint], Field(min_length=1)] = None
    address: Annotated[list[Address], Field(min_length=1)] = None
    gender: Literal["male", "female", "other", "unknown"] = None
    birthDate: Date = None


class Location(_Resource):
    """hl7.org/fhir/R4/location.html (the service facility): address 0..1."""

    resourceType: Literal["Location"]
    identifier: Identifiers = None
    name: String = None
    alias: Annotated[list[String], Field(min_length=1)] = None
    description: String = None
    type: CodeableConcepts = None
    telecom: Annotated[list[ContactPoint], Field(min_length=1)] = None
    address: Address = None
    physicalType: CodeableConcept = None
    managingOrganization: Reference = None


class Condition(_Resource):
    """hl7.org/fhir/R4/condition.html (a diagnosis by reference): subject 1..1; clinicalStatus and
    verificationStatus are modifiers, kept out."""

    resourceType: Literal["Condition"]
    identifier: Identifiers = None
    category: CodeableConcepts = None
    code: CodeableConcept = None
    subject: Reference


Party = Annotated[Union[Patient, RelatedPerson, Coverage, Organization, Practitioner, Location, Condition],
                  Field(discriminator="resourceType")]


# -- Claim (hl7.org/fhir/R4/claim.html) ---------------------------------------------------------

class Payee(_Element):
    type: CodeableConcept  # 1..1
    party: Reference = None


class CareTeam(_Element):
    sequence: PositiveInt
    provider: Reference
    responsible: bool = None
    role: CodeableConcept = None
    qualification: CodeableConcept = None


class SupportingInfo(_Element):
    """Claim.supportingInfo: category 1..1, timing[x] date | Period, value[x] (here boolean,
    string, Quantity or Reference; an Attachment goes to the general path)."""

    sequence: PositiveInt
    category: CodeableConcept
    code: CodeableConcept = None
    timingDate: Date = None
    timingPeriod: Period = None
    valueBoolean: bool = None
    valueString: String = None
    valueQuantity: Quantity = None
    valueReference: Reference = None
    reason: CodeableConcept = None

    @model_validator(mode="after")
    def _choices(self) -> SupportingInfo:
        _at_most_one(self.timingDate, self.timingPeriod)
        _at_most_one(self.valueBoolean, self.valueString, self.valueQuantity, self.valueReference)
        return self


class Diagnosis(_Element):
    """Claim.diagnosis: diagnosis[x] 1..1, CodeableConcept | Reference(Condition)."""

    sequence: PositiveInt
    diagnosisCodeableConcept: CodeableConcept = None
    diagnosisReference: Reference = None
    type: CodeableConcepts = None
    onAdmission: CodeableConcept = None
    packageCode: CodeableConcept = None

    @model_validator(mode="after")
    def _choices(self) -> Diagnosis:
        _at_most_one(self.diagnosisCodeableConcept, self.diagnosisReference, required=True)
        return self


class Insurance(_Element):
    """Claim.insurance: sequence, focal, coverage 1..1."""

    sequence: PositiveInt
    focal: bool
    identifier: Identifier = None
    coverage: Reference
    businessArrangement: String = None
    preAuthRef: Annotated[list[String], Field(min_length=1)] = None
    claimResponse: Reference = None


class Item(_Element):
    """Claim.item: productOrService 1..1; serviced[x] date | Period; location[x] CodeableConcept |
    Address | Reference; quantity a SimpleQuantity; no detail (the mapping refuses it) nor udi."""

    sequence: PositiveInt
    careTeamSequence: PositiveInts = None
    diagnosisSequence: PositiveInts = None
    informationSequence: PositiveInts = None
    revenue: CodeableConcept = None
    category: CodeableConcept = None
    productOrService: CodeableConcept
    modifier: CodeableConcepts = None
    programCode: CodeableConcepts = None
    servicedDate: Date = None
    servicedPeriod: Period = None
    locationCodeableConcept: CodeableConcept = None
    locationAddress: Address = None
    locationReference: Reference = None
    quantity: Quantity = None
    unitPrice: Money = None
    factor: FhirDecimal = None
    net: Money = None
    bodySite: CodeableConcept = None
    subSite: CodeableConcepts = None
    encounter: Annotated[list[Reference], Field(min_length=1)] = None

    @property
    def detail(self) -> None:
        """Kept out of this model (the mapping refuses it): always absent here."""
        return None

    @model_validator(mode="after")
    def _choices(self) -> Item:
        _at_most_one(self.servicedDate, self.servicedPeriod)
        _at_most_one(self.locationCodeableConcept, self.locationAddress, self.locationReference)
        return self


class Claim(_Resource):
    """The Claim: status, type, use, patient, created, provider, priority 1..1, insurance 1..*.
    Not here (the general path reads or refuses them): related, prescription,
    originalPrescription, accident, procedure, item.detail, item.udi."""

    resourceType: Literal["Claim"]
    contained: Annotated[list[Party], Field(min_length=1)] = None
    identifier: Identifiers = None
    status: Literal["active", "cancelled", "draft", "entered-in-error"]
    type: CodeableConcept
    subType: CodeableConcept = None
    use: Literal["claim", "preauthorization", "predetermination"]
    patient: Reference
    billablePeriod: Period = None
    created: DateTime
    enterer: Reference = None
    insurer: Reference = None
    provider: Reference
    priority: CodeableConcept
    fundsReserve: CodeableConcept = None
    payee: Payee = None
    referral: Reference = None
    facility: Reference = None
    careTeam: Annotated[list[CareTeam], Field(min_length=1)] = None
    supportingInfo: Annotated[list[SupportingInfo], Field(min_length=1)] = None
    diagnosis: Annotated[list[Diagnosis], Field(min_length=1)] = None
    insurance: Annotated[list[Insurance], Field(min_length=1)]
    item: Annotated[list[Item], Field(min_length=1)] = None
    total: Money = None

    # Elements the mapping looks at that this model keeps out: always absent on a Claim read here.
    @property
    def related(self) -> None:
        return None

    @property
    def accident(self) -> None:
        return None

    @property
    def procedure(self) -> None:
        return None


for _model in (Extension, _Element, Coding, CodeableConcept, Period, Identifier, Reference, HumanName, Address,
               ContactPoint, Quantity, Money, Meta, Narrative, Patient, RelatedPerson, CoverageClass, Coverage,
               Organization, Practitioner, Location, Condition, Payee, CareTeam, SupportingInfo, Diagnosis,
               Insurance, Item, Claim):
    _model.model_rebuild()


_PARTY: TypeAdapter = TypeAdapter(Party)


def read_claim_json(raw: Any) -> Claim | None:
    """The Claim `raw` (JSON as `json_body` reads it: exact decimals) describes, when every element
    of it is one this model knows, of the right type and cardinality; None otherwise (the general
    path, fhir.resources, reads it then). Never a Claim that fhir.resources would refuse."""
    try:
        return Claim.model_validate(raw)
    except ValidationError:
        return None


def read_party_json(raw: Any) -> Any | None:
    """A Bundle entry's party resource (Patient, Coverage, ...) by the same rules; None otherwise."""
    try:
        return _PARTY.validate_python(raw)
    except ValidationError:
        return None

