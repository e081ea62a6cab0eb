"""Taking FHIR Claims in: a Claim alone (POST /fhir/Claim) or the Claims of a Bundle (POST /fhir),
each read into an encounter (adapters.fhir) and submitted like one from POST /v1/encounters, in
the caller's transaction.

A transaction Bundle is all or nothing: one refused Claim refuses the Bundle (every problem of
every entry in one OperationOutcome) and nothing is written. A batch (or collection) Bundle takes
each Claim on its own, under a savepoint: a refused one leaves no trace and the others stand; the
answer is a batch-response Bundle with an entry per request entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.fhir.claim_intake import encounter_from, read_claim
from openrcm_claims.adapters.fhir.issues import Issue, Refused, operation_outcome, problem_issues
from openrcm_claims.adapters.fhir.references import Resolver
from openrcm_claims.adapters.fhir.resources import ParsedBundle
from openrcm_claims.adapters.fhir.views import claim_response
from openrcm_claims.adapters.tables import payers
from openrcm_claims.entrypoints.schemas import ClaimOut
from openrcm_claims.service_layer.reference_data import (
    KNOWN_PAYERS, payers_by_identifiers, registered_coverage, registered_facility, registered_patient,
    registered_provider,
)
from openrcm_claims.service_layer.submission import IdempotentIntake, submit_encounter, take_simple_encounter
from openrcm_shared.http.problems import Problem

# A Bundle's Claims are written this many at a time (as an encounter batch's are, api.BATCH_CONCURRENCY):
# their statements share group commits, and a large Bundle does not take every pooled connection.
BUNDLE_CONCURRENCY = 64
_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 404: "404 Not Found",
                409: "409 Conflict", 422: "422 Unprocessable Entity"}


class RegistryOnConnection:
    """The practice's registered parties and payers (adapters.fhir.parties.PartyRegistry), read
    on the intake's connection, in its transaction."""

    def __init__(self, conn: AsyncConnection, tenant_id: str) -> None:
        self.conn, self.tenant_id = conn, tenant_id

    async def patient(self, patient_id: str) -> dict | None:
        found = await registered_patient(self.conn, self.tenant_id, patient_id)
        return found.model_dump(mode="json") if found else None

    async def provider(self, npi: str) -> tuple[dict, frozenset[str]] | None:
        found = await registered_provider(self.conn, self.tenant_id, npi)
        return (found[0].model_dump(mode="json", exclude_none=True), found[1]) if found else None

    async def facility(self, facility_id: str) -> dict | None:
        found = await registered_facility(self.conn, self.tenant_id, facility_id)
        return found.model_dump(mode="json") if found else None

    async def coverage(self, patient_id: str, coverage_id: str) -> dict | None:
        found = await registered_coverage(self.conn, self.tenant_id, patient_id, coverage_id)
        return found.model_dump(mode="json") if found else None

    async def payers(self, payer_ids: list[str]) -> set[str]:
        rows = await self.conn.execute(sa.select(payers.c.payer_id).where(
            payers.c.tenant_id == self.tenant_id, payers.c.payer_id.in_(payer_ids)))
        return {row.payer_id for row in rows}

    async def payers_by_identifiers(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return await payers_by_identifiers(self.conn, self.tenant_id, pairs)


class NamesRegisteredParty(Exception):
    """The Claim names a registered patient, provider, facility or coverage: not for the fast path."""


class RegistryInCache:
    """The registry as the intake's fast path sees it (submission.take_simple_encounter): payers
    from this process's cache (reference_data.KNOWN_PAYERS, whose rows the claim's statement checks
    are current as it writes); a registered party of any other kind makes the Claim one for the
    general path (NamesRegisteredParty), which reads it in the intake's transaction."""

    def __init__(self, engine, tenant_id: str) -> None:  # noqa: ANN001
        self.engine, self.tenant_id = engine, tenant_id

    async def patient(self, patient_id: str) -> dict | None:
        raise NamesRegisteredParty

    async def provider(self, npi: str) -> tuple[dict, frozenset[str]] | None:
        raise NamesRegisteredParty

    async def facility(self, facility_id: str) -> dict | None:
        raise NamesRegisteredParty

    async def coverage(self, patient_id: str, coverage_id: str) -> dict | None:
        raise NamesRegisteredParty

    async def payers(self, payer_ids: list[str]) -> set[str]:
        return {payer_id for payer_id in payer_ids if await KNOWN_PAYERS.get(self.engine, self.tenant_id, payer_id)}

    async def payers_by_identifiers(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return await KNOWN_PAYERS.by_identifiers(self.engine, self.tenant_id, pairs)


async def take_claim_at_once(engine, tenant_id: str, claim, key: str | None, fingerprint: str,  # noqa: ANN001
                             resolver: Resolver | None = None, *, root: str = "Claim",
                             base: str | None = None) -> tuple[Taken, bytes] | None:
    """A parsed Claim taken by the intake's one-statement path, as POST /v1/encounters takes a
    JSON encounter: read against the cached payers, and its claim (with `key`: the key and its
    answer, the ClaimResponse) written by one statement grouped with concurrent ones.

    Returns what was taken and the ClaimResponse as answered (JSON bytes); None when the Claim is
    for the general path (take_claim under create_once), nothing written: it names a registered
    party, it is refused (the general path words every refusal, and answers a reused key before
    anything else), or its statement wrote nothing (see take_simple_encounter)."""
    try:
        reading = await read_claim(claim, resolver or Resolver(), RegistryInCache(engine, tenant_id), root=root,
                                   base=base)
        encounter = encounter_from(reading)
    except (NamesRegisteredParty, Refused):
        return None
    answers: list[tuple[Taken, bytes]] = []

    def answer(created: ClaimOut) -> bytes:
        taken = Taken(created, reading.notes)
        answers.append((taken, fhir_json(taken.response())))
        return answers[-1][1]

    keyed = IdempotentIntake(key, fingerprint, answer) if key is not None else None
    created = await take_simple_encounter(engine, tenant_id, encounter, keyed=keyed)
    if created is None:
        return None
    if not answers:
        answer(created)
    return answers[-1]


@dataclass
class Taken:
    """A Claim taken in: the (first) claim created, and what was read but is not sent."""

    claim: ClaimOut
    notes: list[str] = field(default_factory=list)

    def response(self) -> dict:
        notes = list(self.notes)
        if self.claim.related_claims:
            parts = ", ".join(f"Claim/{related.id}" for related in self.claim.related_claims)
            notes.append(f"the lines exceed one 837P claim's 50: the others went into {parts}")
        return claim_response(self.claim, [], notes=notes)


async def take_claim(conn: AsyncConnection, tenant_id: str, claim, resolver: Resolver, *, root: str = "Claim",
                     base: str | None = None) -> Taken:
    """Read the Claim and submit its encounter; Refused with every issue (FHIRPaths under `root`)
    when it cannot be billed, nothing written by this call then."""
    registry = RegistryOnConnection(conn, tenant_id)
    reading = await read_claim(claim, resolver, registry, root=root, base=base)
    encounter = encounter_from(reading)
    try:
        created = await submit_encounter(conn, tenant_id, encounter)
    except Problem as refused:
        raise Refused(refused.status if refused.status in (404, 409) else 422,
                      problem_issues(refused, reading.sources)) from None
    return Taken(created, reading.notes)


async def take_bundle(conn: AsyncConnection, tenant_id: str, bundle: ParsedBundle) -> dict:
    """The Bundle's Claims taken (a transaction: all or none); the response Bundle."""
    if bundle.type == "transaction":
        return await _transaction(conn, tenant_id, bundle)
    answers = {}
    for entry in bundle.entries:
        if entry.kind != "Claim":
            continue
        try:
            async with conn.begin_nested():  # a refused Claim leaves nothing behind
                taken = await take_claim(conn, tenant_id, entry.resource, bundle.resolver,
                                         root=entry.path + ".resource", base=entry.full_url)
            answers[entry.index] = _created(taken)
        except Refused as refused:
            answers[entry.index] = _refused(refused.status, refused.issues)
    return _response_bundle("batch-response", bundle, answers)


async def take_bundle_at_once(engine, tenant_id: str, bundle: ParsedBundle) -> dict | None:  # noqa: ANN001
    """An unkeyed batch or collection Bundle's Claims taken as lone Claims are (take_claim_at_once:
    one statement each, concurrent ones grouped into one commit), each one the fast path does not
    write taken the general way in a transaction of its own, as take_bundle's savepoint would;
    the batch-response Bundle. None (nothing written) for a transaction Bundle (all or nothing: one
    transaction) and for a Bundle in which two Claims carry the same identifier (taken in entry
    order by take_bundle, the first 201, the second 409)."""
    claims = [entry for entry in bundle.entries if entry.kind == "Claim"]
    if bundle.type == "transaction" or len({_claim_identifier(e.resource) for e in claims}) < len(claims):
        return None
    taken = []
    for start in range(0, len(claims), BUNDLE_CONCURRENCY):
        taken += await asyncio.gather(*(take_claim_at_once(engine, tenant_id, entry.resource, None, "",
                                                           bundle.resolver, root=entry.path + ".resource",
                                                           base=entry.full_url)
                                        for entry in claims[start:start + BUNDLE_CONCURRENCY]))
    answers = {}
    for entry, at_once in zip(claims, taken):
        if at_once is not None:
            answers[entry.index] = _created(at_once[0])
            continue
        try:
            async with engine.begin() as conn:
                answers[entry.index] = _created(await take_claim(conn, tenant_id, entry.resource, bundle.resolver,
                                                                 root=entry.path + ".resource", base=entry.full_url))
        except Refused as refused:
            answers[entry.index] = _refused(refused.status, refused.issues)
    return _response_bundle("batch-response", bundle, answers)


def _claim_identifier(claim) -> str | None:  # noqa: ANN001
    """The identifier the reader takes as the encounter id (claim_intake: the first non-blank)."""
    return next((i.value.strip() for i in claim.identifier or [] if i.value and i.value.strip()), None)


async def _transaction(conn: AsyncConnection, tenant_id: str, bundle: ParsedBundle) -> dict:
    issues = [issue for entry in bundle.entries for issue in entry.issues]
    status = 422 if issues else None
    answers = {}
    for entry in bundle.entries:
        if entry.kind != "Claim":
            continue
        try:
            taken = await take_claim(conn, tenant_id, entry.resource, bundle.resolver,
                                     root=entry.path + ".resource", base=entry.full_url)
            answers[entry.index] = _created(taken)
        except Refused as refused:
            issues += refused.issues
            status = status or refused.status
    if issues:
        raise Refused(status or 422, issues)
    return _response_bundle("transaction-response", bundle, answers)


def _created(taken: Taken) -> dict:
    return {"response": {"status": _STATUS_TEXT[201], "location": f"Claim/{taken.claim.id}"},
            "resource": taken.response()}


def _refused(status: int, issues: list[Issue]) -> dict:
    return {"response": {"status": _STATUS_TEXT.get(status, str(status)), "outcome": operation_outcome(issues)}}


def _response_bundle(kind: str, bundle: ParsedBundle, answers: dict[int, dict]) -> dict:
    entries = []
    for entry in bundle.entries:
        if entry.index in answers:
            entries.append(answers[entry.index])
        elif entry.issues:
            entries.append(_refused(422, entry.issues))
        else:
            used = entry.full_url in bundle.resolver.used
            note = ("read as a party of the Claims in this Bundle; not stored as a resource" if used
                    else "referenced by no Claim in this Bundle: not read")
            entries.append({"response": {"status": _STATUS_TEXT[200], "outcome": operation_outcome(
                [Issue("informational", f"{entry.path}.resource", note, severity="information" if used
                       else "warning")])}})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def fhir_json(resource: dict) -> bytes:
    """A resource as compact JSON (UTF-8, as FHIR's JSON format is), written by orjson: a
    ClaimResponse in ~4 µs against ~30 µs with json.dumps."""
    return orjson.dumps(resource)
