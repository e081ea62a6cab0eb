"""A FHIR R4 Claim read into the encounter `POST /v1/encounters` takes, every problem collected
as an issue naming its FHIRPath (nothing stops at the first).

The reader resolves the parties (references.Resolver: contained, Bundle, registered), looks the
payer up by the identifiers the practice registered, maps the parties (parties), the diagnoses
and items (lines) and, for an institutional Claim, what the 837I needs (institutional). Then
`encounter_from` validates the result as an EncounterIn, adding the encounter's own checks as
issues on the elements they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import ValidationError

from openrcm_claims.adapters.fhir.datatypes import choose_code, dollars, has_code
from openrcm_claims.adapters.fhir.issues import Issue, Refused, SourceMap, encounter_issues
from openrcm_claims.adapters.fhir.lines import ItemContext, in_sequence, read_diagnoses, read_items
from openrcm_claims.adapters.fhir.institutional import read_institutional
from openrcm_claims.adapters.fhir.parties import (
    PartyRegistry, billing_from, coverage_from, facility_from, patient_from, person_from, practitioner_from,
)
from openrcm_claims.adapters.fhir.references import ByIdentifier, Found, Place, Registered, Resolver
from openrcm_claims.adapters.fhir.systems import CARE_TEAM_ROLE, CARIN_CARE_TEAM_ROLE, CLAIM_TYPE, NPI, PAYEE_TYPE
from openrcm_claims.entrypoints.schemas import PAYER_RESPONSIBILITY_ORDER, EncounterIn
from openrcm_shared.money import to_cents

# Claim.status / Claim.use values of FHIR R4 (fm-status, claim-use).
_STATUSES = ("active", "cancelled", "draft", "entered-in-error")
_USES = ("claim", "preauthorization", "predetermination")
_CLAIM_TYPES = ("institutional", "oral", "pharmacy", "professional", "vision")
# careTeam.role -> the role on the claim; "lead" is the rendering provider of a professional
# claim and the attending provider of an institutional one (also when no role is given).
_ROLES = {(CARIN_CARE_TEAM_ROLE, "rendering"): "rendering", (CARIN_CARE_TEAM_ROLE, "attending"): "attending",
          (CARIN_CARE_TEAM_ROLE, "referring"): "referring", (CARE_TEAM_ROLE, "supervisor"): "supervising",
          (CARE_TEAM_ROLE, "primary"): "lead"}
_PROFESSIONAL_ROLES = ("rendering", "referring", "supervising")
# How a party of each kind is registered, for the refusal that names an unregistered one.
_REGISTER = {"Patient": "PUT /v1/patients/{id}", "Location": "PUT /v1/facilities/{id}",
             "Practitioner": "PUT /v1/providers/{npi}", "Organization": "PUT /v1/providers/{npi}"}


@dataclass
class Reading:
    """The encounter read from a Claim, where each of its fields came from, what was refused,
    and what was read but is not sent (ClaimResponse.processNote)."""

    document: dict
    sources: SourceMap
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def read_claim(claim, resolver: Resolver, registry: PartyRegistry, *, root: str = "Claim",
                     base: str | None = None) -> Reading:
    """The encounter a Claim describes. `root` names the Claim in FHIRPath (`Claim`, or
    `Bundle.entry[2].resource`), `base` is its Bundle entry's fullUrl."""
    return await _Reader(claim, resolver, registry, root, base).read()


def encounter_from(reading: Reading) -> EncounterIn:
    """The reading validated as an EncounterIn, with the encounter's own rules; Refused (422) with
    every issue (the reader's and the encounter's, each once) otherwise."""
    issues = list(reading.issues)
    encounter = None
    try:
        encounter = EncounterIn.model_validate(reading.document)
    except ValidationError as invalid:
        problems = [("/" + "/".join(str(part) for part in error["loc"]), error["msg"].removeprefix("Value error, "))
                    for error in invalid.errors(include_input=False)]
        issues += _new(encounter_issues(problems, reading.sources, "value"), issues)
    if encounter is not None:
        issues += _new(encounter_issues(encounter.consistency_errors(), reading.sources, "invariant"), issues)
    if issues:
        raise Refused(422, issues)
    return encounter


def _new(candidates: list[Issue], known: list[Issue]) -> list[Issue]:
    """Issues about elements no known issue is about already (nor above nor below them)."""
    fresh = []
    for issue in candidates:
        if not any(issue.expression.startswith(k.expression) or k.expression.startswith(issue.expression)
                   for k in known + fresh):
            fresh.append(issue)
    return fresh


class _Reader:
    def __init__(self, claim, resolver: Resolver, registry: PartyRegistry, root: str, base: str | None) -> None:
        self.claim, self.resolver, self.registry, self.root = claim, resolver, registry, root
        self.top = Place(root, claim, base)
        self.issues: list[Issue] = []
        self.notes: list[str] = []
        self.sources = SourceMap(root)
        self.prior_authorization: str | None = None

    def _issue(self, code: str, suffix: str, diagnostics: str) -> None:
        self.issues.append(Issue(code, self.root + suffix, diagnostics))

    async def read(self) -> Reading:
        setting = self._setting()
        institutional = setting == "institutional"
        document: dict = {"encounter_id": self._encounter_id(), "setting": setting or "professional"}
        document["patient"] = await self._patient()
        patient_id = document["patient"]["id"] if document["patient"] else None
        coverages = await self._insurance(patient_id, institutional)
        if coverages:
            document["coverage"], document["other_coverages"] = coverages[0], coverages[1:]
        document["billing_provider"] = await self._billing_provider()
        leads, unread_care_team = await self._care_team(institutional, document)
        document["service_facility"] = await self._facility()
        diagnoses = read_diagnoses(self.claim, self.root, self.resolver, self.issues, self.sources, self.notes,
                                   institutional=institutional)
        document["diagnosis_codes"] = diagnoses.codes
        lines, places = read_items(ItemContext(self.claim, self.root, institutional, diagnoses, leads,
                                               unread_care_team, self.issues, self.sources, self.notes))
        document["lines"] = lines
        if institutional:
            document["institutional"] = read_institutional(self.claim, self.root, diagnoses.admitting, self.issues,
                                                           self.sources, self.notes)
        elif setting is not None:
            self._place_of_service(document, places)
        document["prior_authorization"] = self.prior_authorization
        self._total(lines)
        self._uncarried()
        return Reading({k: v for k, v in document.items() if v is not None}, self.sources, self.issues, self.notes)

    # -- what kind of claim ------------------------------------------------------------------

    def _setting(self) -> str | None:
        claim = self.claim
        if claim.status != "active":
            known = claim.status in _STATUSES
            self._issue("not-supported" if known else "code-invalid", ".status",
                        f"status {claim.status!r}: only an active Claim is billed"
                        + ("" if known else f" (FHIR R4 statuses: {', '.join(_STATUSES)})"))
        if claim.use != "claim":
            self._issue("not-supported" if claim.use in _USES else "code-invalid", ".use",
                        f"use {claim.use!r}: only use 'claim' is billed (preauthorization and predetermination "
                        f"requests are not taken)")
        chosen = choose_code(claim.type, self.root + ".type", (CLAIM_TYPE,), self.issues, "the claim type")
        if chosen is None:
            return None
        if chosen[1] not in ("professional", "institutional"):
            self._issue("not-supported", ".type", f"{chosen[1]} claims are not taken: professional claims go out "
                                                  f"as an 837P, institutional ones as an 837I"
                        + ("" if chosen[1] in _CLAIM_TYPES else f" ({chosen[1]!r} is not a FHIR claim type)"))
            return None
        return chosen[1]

    def _encounter_id(self) -> str | None:
        self.sources.add("/encounter_id", self.root + ".identifier")
        for entry in self.claim.identifier or []:
            if entry.value and entry.value.strip():
                return entry.value.strip()
        self._issue("required", ".identifier", "the EHR's id for this claim (its encounter id, unique per practice)")
        return None

    # -- parties -----------------------------------------------------------------------------

    async def _patient(self) -> dict | None:
        return await self._party(self.claim.patient, ".patient", "/patient", "Patient", patient_from,
                                 self.registry.patient)

    async def _party(self, reference, suffix: str, pointer: str, kind: str, mapped, lookup) -> dict | None:
        """A party the Claim references (`suffix` from the Claim): mapped from the resource, or the
        registered one (`lookup` by id)."""
        place = self.top.at(suffix)
        self.sources.add(pointer, place.path)
        found = self._by_npi(self.resolver.resolve(reference, place, (kind,), self.issues))
        if isinstance(found, Found):
            return mapped(found, self.issues, self.sources)
        if isinstance(found, Registered):
            return await self._registered(found, lookup)
        return None

    def _by_npi(self, found):
        """A conditional reference to no entry of the Bundle names a registered provider by its
        NPI (Practitioner, Organization); any other party is registered under the EHR's id and
        referenced as Type/{id}: an issue then."""
        if not isinstance(found, ByIdentifier):
            return found
        if found.system == NPI and found.kind in ("Practitioner", "Organization"):
            return Registered(found.kind, found.value, found.path)
        token = f"{found.system}|{found.value}" if found.system is not None else found.value
        how = (f"a registered {found.kind} by its NPI ({NPI}|...)" if found.kind in ("Practitioner", "Organization")
               else f"a registered {found.kind} as {found.kind}/{{id}}")
        self.issues.append(Issue("not-found", found.path, f"no {found.kind} in this Bundle has identifier {token}; "
                                                          f"reference {how}"))
        return None

    async def _registered(self, found: Registered, lookup) -> dict | None:
        record = await lookup(found.id)
        if record is None:
            self.issues.append(Issue("not-found", found.path, f"no {found.kind} {found.id!r} is registered in this "
                                                              f"practice ({_REGISTER[found.kind]})"))
        return record

    async def _insurance(self, patient_id: str | None, institutional: bool) -> list[dict]:
        """The focal coverage first (billed now), then the later ones in order of benefits."""
        ordered = in_sequence(self.claim.insurance, self.root + ".insurance", self.issues)
        focal = [index for index, insurance in ordered if insurance.focal]
        if len(focal) != 1:
            self._issue("invariant", ".insurance", f"exactly one insurance is focal (the one billed); {len(focal)} are")
            return []
        if focal[0] != ordered[0][0]:
            self._issue("not-supported", f".insurance[{focal[0]}].focal",
                        "the focal coverage is the first in sequence: a later payer is billed by this service once "
                        "the earlier ones have adjudicated (coordination of benefits)")
            return []
        if len(ordered) > len(PAYER_RESPONSIBILITY_ORDER):
            self._issue("not-supported", f".insurance[{ordered[3][0]}]", "at most three coverages (primary, "
                                                                         "secondary, tertiary)")
        coverages = []
        for position, (index, insurance) in enumerate(ordered[:len(PAYER_RESPONSIBILITY_ORDER)]):
            pointer = "/coverage" if position == 0 else f"/other_coverages/{position - 1}"
            coverage = await self._coverage(insurance, index, pointer, patient_id, institutional, focal=position == 0)
            if coverage is not None:
                coverages.append({**coverage, "payer_responsibility": PAYER_RESPONSIBILITY_ORDER[position]})
            if position == 0 and insurance.preAuthRef:  # 837 REF*G1
                self.sources.add("/prior_authorization", f"{self.root}.insurance[{index}].preAuthRef")
                self.prior_authorization = insurance.preAuthRef[0]
        return coverages

    async def _coverage(self, insurance, index: int, pointer: str, patient_id: str | None, institutional: bool, *,
                        focal: bool) -> dict | None:
        place = self.top.at(f".insurance[{index}].coverage")
        self.sources.add(pointer, place.path)
        found = self._by_npi(self.resolver.resolve(insurance.coverage, place, ("Coverage",), self.issues))
        insurer = [(self.claim.insurer, self.top.at(".insurer"))] if focal and self.claim.insurer else []
        if isinstance(found, Registered):
            return await self._registered_coverage(found, patient_id, insurer)
        if found is None:
            return None
        coverage = coverage_from(found, self.issues, self.sources, pointer, institutional=institutional,
                                 notes=self.notes)
        payors = [(payor, Place(f"{found.path}.payor[{i}]", found.container, found.base))
                  for i, payor in enumerate(found.resource.payor or [])]
        coverage["payer_id"] = await self._payer(insurer + payors, found.path + ".payor")
        if coverage["relationship_to_subscriber"] != "18":
            coverage["subscriber"] = await self._subscriber(found, pointer + "/subscriber")
        return coverage

    async def _registered_coverage(self, found: Registered, patient_id: str | None, insurer: list) -> dict | None:
        if not patient_id:
            return None  # whose coverage is unknown: the patient's problem is reported already
        coverage = await self.registry.coverage(patient_id, found.id)
        if coverage is None:
            self.issues.append(Issue("not-found", found.path, f"the patient has no registered coverage {found.id!r} "
                                                              "(PUT /v1/patients/{id}/coverages/{coverage_id})"))
            return None
        if insurer:
            named = await self._payer(insurer, found.path)
            if named is not None and named != coverage["payer_id"]:
                self._issue("conflict", ".insurer", f"names payer {named}; the registered coverage {found.id!r} is "
                                                    f"with payer {coverage['payer_id']}")
        return coverage

    async def _subscriber(self, coverage: Found, pointer: str) -> dict | None:
        place = Place(coverage.path + ".subscriber", coverage.container, coverage.base)
        if coverage.resource.subscriber is None:
            self.issues.append(Issue("required", place.path, "the subscriber, when the patient is not the subscriber"))
            return None
        found = self._by_npi(self.resolver.resolve(coverage.resource.subscriber, place, ("Patient", "RelatedPerson"),
                                                   self.issues))
        if isinstance(found, Found):
            return person_from(found, self.issues, self.sources, pointer)
        if isinstance(found, Registered):
            patient = await self._registered(found, self.registry.patient)
            return {name: value for name, value in patient.items() if name != "id"} if patient else None
        return None

    async def _payer(self, named_by: list[tuple[object, Place]], path: str) -> str | None:
        """The one registered payer the references name (Claim.insurer, Coverage.payor), by
        `Organization/{payer_id}` or by any identifier the practice registered for it."""
        if not named_by:
            self.issues.append(Issue("required", path, "the payer (Coverage.payor or Claim.insurer)"))
            return None
        found: dict[str, str] = {}
        for reference, place in named_by:
            payer_id = await self._payer_named(reference, place)
            if payer_id is not None:
                found.setdefault(payer_id, place.path)
        if len(found) > 1:
            (first, first_path), (second, second_path) = list(found.items())[:2]
            self.issues.append(Issue("conflict", second_path, f"names payer {second}; {first_path} names payer {first}"))
            return None
        return next(iter(found), None)

    async def _payer_named(self, reference, place: Place) -> str | None:
        if not reference.reference and reference.identifier is not None:
            pairs, path = [(reference.identifier.system, reference.identifier.value)], place.path + ".identifier"
        else:
            target = self.resolver.resolve(reference, place, ("Organization",), self.issues)
            if isinstance(target, ByIdentifier):  # a conditional reference to no entry of the Bundle
                return await self._payer_by_identifiers([(target.system or "", target.value)], target.path)
            if isinstance(target, Registered):
                if target.id not in await self.registry.payers([target.id]):
                    self.issues.append(Issue("not-found", target.path, f"no payer {target.id!r} is registered "
                                                                       "(PUT /v1/payers/{id})"))
                    return None
                return target.id
            if target is None:
                return None
            pairs = [(i.system, i.value) for i in target.resource.identifier or [] if i.system and i.value]
            path = target.path + ".identifier"
        return await self._payer_by_identifiers(pairs, path)

    async def _payer_by_identifiers(self, pairs: list[tuple[str | None, str | None]], path: str) -> str | None:
        """The one registered payer these (system, value) identifiers name; an issue at `path` otherwise."""
        registered = await self.registry.payers_by_identifiers([p for p in pairs if p[0] and p[1]])
        payer_ids = sorted({registered[pair] for pair in pairs if pair in registered})
        if len(payer_ids) > 1:
            self.issues.append(Issue("multiple-matches", path, f"the identifiers name payers {', '.join(payer_ids)}"))
            return None
        if not payer_ids:
            listed = ", ".join(f"{system}|{value}" for system, value in pairs) or "none"
            self.issues.append(Issue("not-found", path, f"no registered payer has these identifiers ({listed}); "
                                                        "register them with PUT /v1/payers/{id} (identifiers)"))
            return None
        return payer_ids[0]

    async def _billing_provider(self) -> dict | None:
        place = self.top.at(".provider")
        self.sources.add("/billing_provider", place.path)
        found = self._by_npi(self.resolver.resolve(self.claim.provider, place, ("Organization", "Practitioner"),
                                                   self.issues))
        if isinstance(found, Found) and found.resource.get_resource_type() == "Organization":
            return billing_from(found, self.issues, self.sources)
        if isinstance(found, Registered) and found.kind == "Organization":
            return await self._registered_provider(found, "billing")
        if found is not None:
            self.issues.append(Issue("not-supported", place.path, "the billing provider is an Organization (837 2010AA)"))
        return None

    async def _registered_provider(self, found: Registered, role: str) -> dict | None:
        registered = await self.registry.provider(found.id)
        if registered is None:
            self.issues.append(Issue("not-found", found.path, f"no provider with NPI {found.id!r} is registered "
                                                              "(PUT /v1/providers/{npi})"))
            return None
        provider, roles = registered
        if role not in roles:
            self.issues.append(Issue("business-rule", found.path, f"provider {found.id} is not registered for the "
                                                                  f"{role} role"))
            return None
        return provider

    async def _care_team(self, institutional: bool, document: dict) -> tuple[frozenset[int], frozenset[int]]:
        """The rendering, referring and supervising providers (837P) or the attending one (837I);
        returns the careTeam sequences of the rendering / attending provider, and of the members
        refused."""
        lead = "attending" if institutional else "rendering"
        allowed = ("attending",) if institutional else _PROFESSIONAL_ROLES
        taken: dict[str, int] = {}
        leads, unread = set(), set()
        for index, member in in_sequence(self.claim.careTeam, self.root + ".careTeam", self.issues):
            path = f"{self.root}.careTeam[{index}]"
            role = self._role(member, path, lead)
            if role is None:
                unread.add(member.sequence)
                continue
            if role not in allowed:
                self.issues.append(Issue("not-supported", path + ".role", f"a {role} provider is not carried on an "
                                                                          f"{'837I' if institutional else '837P'}"))
                unread.add(member.sequence)
                continue
            if role in taken:
                self.issues.append(Issue("invariant", path, f"a claim names one {role} provider (careTeam[{taken[role]}] "
                                                            "is one)"))
                unread.add(member.sequence)
                continue
            taken[role] = index
            if role == lead:
                leads.add(member.sequence)
            pointer = f"/{role}_provider"
            self.sources.add(pointer, path + ".provider")
            document[f"{role}_provider"] = await self._practitioner(member, path, pointer, role)
        return frozenset(leads), frozenset(unread)

    def _role(self, member, path: str, lead: str) -> str | None:
        if member.role is None:
            return lead
        for coding in member.role.coding or []:
            role = _ROLES.get((coding.system, coding.code))
            if role is not None:
                return lead if role == "lead" else role
        codes = ", ".join(f"{c.system}|{c.code}" for c in member.role.coding or []) or member.role.text or "?"
        self.issues.append(Issue("not-supported", path + ".role", f"role {codes} is not one this claim carries "
                                                                  "(rendering, referring, supervisor; attending on "
                                                                  "an institutional claim)"))
        return None

    async def _practitioner(self, member, path: str, pointer: str, role: str) -> dict | None:
        place = Place(path + ".provider", self.claim, self.top.base)
        found = self._by_npi(self.resolver.resolve(member.provider, place, ("Practitioner",), self.issues))
        if isinstance(found, Found):
            return practitioner_from(found, member.qualification, path, self.issues, self.sources, pointer)
        if isinstance(found, Registered):
            return await self._registered_provider(found, role)
        return None

    async def _facility(self) -> dict | None:
        if self.claim.facility is None:
            return None
        return await self._party(self.claim.facility, ".facility", "/service_facility", "Location", facility_from,
                                 self.registry.facility)

    # -- the claim as a whole ----------------------------------------------------------------

    def _place_of_service(self, document: dict, places: list[str | None]) -> None:
        """CLM05-1 is the first line's place of service; a line elsewhere keeps its own (SV105)."""
        claim_place = next((place for place in places if place), None)
        if claim_place is None:
            first = in_sequence(self.claim.item, self.root + ".item", [])
            if first and not any(i.expression.startswith(f"{self.root}.item[{first[0][0]}].location")
                                 for i in self.issues):
                self._issue("required", f".item[{first[0][0]}].location", "the place of service: a CMS code in "
                                                                          "locationCodeableConcept")
            return
        document["place_of_service"] = claim_place
        self.sources.add("/place_of_service", f"{self.root}.item.location")
        for line, place in zip(document["lines"], places):
            line["place_of_service"] = place if place not in (None, claim_place) else None

    def _total(self, lines: list[dict]) -> None:
        total = dollars(self.claim.total, self.root + ".total", self.issues)
        charges = [line["charge_amount"] for line in lines]
        if total is None or any(charge is None for charge in charges):
            return
        charged = sum(charges, Decimal(0))  # a Decimal also when there are no items (refused already)
        if to_cents(charged) != total:
            self._issue("invariant", ".total", f"total {total} is not the sum of the items' charges ({charged})")

    def _uncarried(self) -> None:
        """Elements that would change the claim but have no place in this 837: refused. Elements
        the 837 has a place for that this service does not fill: noted."""
        claim = self.claim
        if claim.related:
            self._issue("not-supported", ".related", "replacements and voids are sent with POST "
                                                     "/v1/claims/{id}/replace and /void (frequency 7, 8)")
        if claim.accident is not None:
            self._issue("not-supported", ".accident", "accident details (837 CLM11 related causes, DTP*439) are "
                                                      "not carried")
        if claim.payee is not None and has_code(claim.payee.type, PAYEE_TYPE) not in (None, "provider"):
            self._issue("not-supported", ".payee.type", "payment goes to the billing provider only")
        if claim.procedure:
            self.notes.append(f"{self.root}.procedure: ICD-10-PCS procedures are not sent on the 837")
