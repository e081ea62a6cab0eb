"""Reading FHIR Claims in unit tests: a practice's registry in memory (the intake reads the real
one on its database connection) and the reader run on an example or a body. Synthetic data only."""

from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

from openrcm_claims.adapters.fhir import resources
from openrcm_claims.adapters.fhir.claim_intake import Reading, encounter_from, read_claim
from openrcm_claims.adapters.fhir.issues import Issue, Refused
from openrcm_claims.adapters.fhir.references import Resolver
from openrcm_claims.adapters.fhir.resources import parse_bundle, parse_claim
from openrcm_claims.entrypoints.schemas import EncounterIn
from tests.support import BILLING_NPI, RENDERING_NPI

NAIC = "urn:oid:2.16.840.1.113883.6.300"
CLEARINGHOUSE_PAYER_ID = "https://clearinghouse.example.org/fhir/sid/payer-id"


class PracticeRegistry:
    """What the practice registered: payer 60054 known by a NAIC code and a clearinghouse payer id,
    a billing provider and a rendering/attending one, one patient with a primary coverage."""

    def __init__(self) -> None:
        self.payer_identifiers = {(NAIC, "98765"): "60054", (CLEARINGHOUSE_PAYER_ID, "SHP01"): "60054",
                                  (NAIC, "11111"): "BSI01"}
        self.providers = {
            BILLING_NPI: ({"npi": BILLING_NPI, "name": "Synthetic Family Clinic", "tax_id": "123456789",
                           "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL",
                                       "postal_code": "627011234"}}, frozenset({"billing"})),
            RENDERING_NPI: ({"npi": RENDERING_NPI, "first_name": "Rene", "last_name": "Renderer"},
                            frozenset({"rendering", "attending"}))}
        self.patients = {"REG-PAT-1": {"id": "REG-PAT-1", "first_name": "Regina", "last_name": "Registered",
                                       "birth_date": "1981-02-03", "gender": "F", "address": None}}
        self.coverages = {("REG-PAT-1", "primary"): {"payer_id": "60054", "member_id": "REG123", "group_number": None,
                                                     "payer_responsibility": "P", "claim_filing_indicator": "CI",
                                                     "relationship_to_subscriber": "18", "subscriber": None}}

    async def patient(self, patient_id):
        return self.patients.get(patient_id)

    async def provider(self, npi):
        return self.providers.get(npi)

    async def facility(self, facility_id):
        return None

    async def coverage(self, patient_id, coverage_id):
        return self.coverages.get((patient_id, coverage_id))

    async def payers(self, payer_ids):
        return {p for p in payer_ids if p in set(self.payer_identifiers.values())}

    async def payers_by_identifiers(self, pairs):
        return {pair: self.payer_identifiers[pair] for pair in pairs if pair in self.payer_identifiers}


async def reading_of(body: dict, registry: PracticeRegistry | None = None) -> Reading:
    """The reader's result for a Claim, or for the first Claim of a Bundle. Every body read here
    is also read with fhir.resources alone: the two answers must be the same (claim_json)."""
    registry = registry or PracticeRegistry()
    await assert_same_outcome(body, registry)
    if body["resourceType"] == "Bundle":
        bundle = parse_bundle(body)
        entry = next(e for e in bundle.entries if e.kind == "Claim")
        return await read_claim(entry.resource, bundle.resolver, registry, root=entry.path + ".resource",
                                base=entry.full_url)
    return await read_claim(parse_claim(body), Resolver(), registry)


async def encounter_of(body: dict, registry: PracticeRegistry | None = None) -> EncounterIn:
    return encounter_from(await reading_of(body, registry))


async def refusal_of(body: dict, registry: PracticeRegistry | None = None) -> list[Issue]:
    """The issues a body is refused with (fails the test when it is taken)."""
    try:
        await encounter_of(body, registry)
    except Refused as refused:
        return refused.issues
    raise AssertionError("the Claim was taken")


def expressions(issues: list[Issue]) -> set[str]:
    return {issue.expression for issue in issues}


# -- the purpose-built reader (adapters.fhir.claim_json) against fhir.resources ----------------------


@contextlib.contextmanager
def fhir_resources_only():
    """Resources read by fhir.resources alone, as before the purpose-built model."""
    with mock.patch.object(resources, "read_claim_json", lambda raw: None), \
            mock.patch.object(resources, "read_party_json", lambda raw: None):
        yield


@contextlib.contextmanager
def counting_fast_reads(counts: dict[str, int]):
    """Counts the resources the purpose-built model read (the rest went to fhir.resources)."""
    claim, party = resources.read_claim_json, resources.read_party_json

    def counted(read, name):
        def reader(raw):
            found = read(raw)
            counts[name] = counts.get(name, 0) + (found is not None)
            return found
        return reader

    with mock.patch.object(resources, "read_claim_json", counted(claim, "claims")), \
            mock.patch.object(resources, "read_party_json", counted(party, "parties")):
        yield


async def outcome(body: Any, registry: PracticeRegistry | None = None) -> tuple:
    """Everything the intake answers for a body, short of the database: a refusal (status and
    issues), or per Claim the encounter (as JSON), the notes, or the reader's refusal; per other
    Bundle entry its kind and issues."""
    registry = registry or PracticeRegistry()
    try:
        if isinstance(body, dict) and body.get("resourceType") == "Bundle":
            bundle = parse_bundle(body)
            results = []
            for entry in bundle.entries:
                if entry.kind == "Claim":
                    results.append(await _claim_outcome(entry.resource, bundle.resolver, registry,
                                                        entry.path + ".resource", entry.full_url))
                else:
                    results.append(("entry", entry.index, entry.kind, entry.issues))
            return "bundle", bundle.type, results, sorted(bundle.resolver.used)
        claim = parse_claim(body)
    except Refused as refused:
        return "refused", refused.status, refused.issues
    return await _claim_outcome(claim, Resolver(), registry, "Claim", None)


async def _claim_outcome(claim, resolver: Resolver, registry, root: str, base: str | None) -> tuple:
    reading = await read_claim(claim, resolver, registry, root=root, base=base)
    try:
        encounter = encounter_from(reading)
    except Refused as refused:
        return "not billed", refused.status, refused.issues, reading.notes
    return "taken", encounter.model_dump(mode="json"), reading.notes


async def assert_same_outcome(body: Any, registry: PracticeRegistry | None = None) -> tuple:
    """The body's outcome with the purpose-built model, asserted equal to fhir.resources' alone."""
    with fhir_resources_only():
        before = await outcome(body, registry)
    after = await outcome(body, registry)
    assert after == before, f"the purpose-built reader answers otherwise:\n{after}\nfhir.resources:\n{before}"
    return after
