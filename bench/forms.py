"""The forms an EHR sends its encounters in, as the intake benchmark offers them: each form's
route, request bodies (unique per request: encounter ids, member ids, idempotency keys), how many
claims one request carries, and how to read the created claims' ids back from an answer.

    json          POST /v1/encounters, no Idempotency-Key
    json-keyed    POST /v1/encounters with a unique Idempotency-Key per request (as the README asks)
    fhir-claim    POST /fhir/Claim, a FHIR R4 Claim with its parties contained, keyed
    fhir-bundle   POST /fhir, a batch Bundle of Claims and their parties (resolved by fullUrl), keyed
    batch         POST /v1/encounter-batches, several encounters per request

Rates and counts are in claims: a form carrying k claims per request is sent at rate / k requests
per second.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tests.fhir_examples import example
from tests.support import encounter

PAYER_ID = "60054"
NAIC = "urn:oid:2.16.840.1.113883.6.300"
# The payer registry entry every run's practice makes (PUT /v1/payers/{id}); the FHIR forms name
# the payer by its NAIC code, as the synthetic examples do (tests/fixtures/fhir).
PAYER = {"name": "Synthetic Health Plan", "claim_types": ["professional"], "timely_filing_days": 365,
         "identifiers": [{"system": NAIC, "value": "98765"}]}
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Request:
    """One prepared request: body and the headers of its own (beside the practice's token)."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class IntakeForm:
    name: str
    path: str
    content_type: str
    claims_per_request: int
    ok_status: int
    build: Callable[[int], dict]                   # request number -> JSON body
    keyed: bool
    claim_ids: Callable[[dict], list[str]]         # the parsed answer -> ids of the claims it created

    def request(self, number: int) -> Request:
        headers = {"Content-Type": self.content_type}
        if self.keyed:
            headers["Idempotency-Key"] = f"bench-{uuid.uuid4().hex}"
        return Request(json.dumps(self.build(number), separators=(",", ":")).encode(), headers)

    def created(self, status: int | None, body: bytes | None) -> list[str]:
        """Ids of the claims an answer reports created; [] for a refusal or failure."""
        if status != self.ok_status or not body:
            return []
        try:
            return self.claim_ids(json.loads(body))
        except (ValueError, KeyError, TypeError):
            return []


def _encounter(_: int) -> dict:
    return encounter(payer_id=PAYER_ID)


def _batch(size: int) -> Callable[[int], dict]:
    return lambda _: {"encounters": [encounter(payer_id=PAYER_ID) for _ in range(size)]}


_FHIR_CLAIM = example("professional-claim-contained", exact=False)
_FHIR_BUNDLE = example("professional-batch-restful", exact=False)


def _fhir_claim(_: int) -> dict:
    claim = copy.deepcopy(_FHIR_CLAIM)
    _unique(claim, next(r for r in claim["contained"] if r["resourceType"] == "Coverage"))
    return claim


def _fhir_bundle(size: int) -> Callable[[int], dict]:
    """A batch Bundle of `size` Claims, each with its own patient and coverage entries (the
    example's shape: parties as Bundle entries, named by relative references)."""
    def build(_: int) -> dict:
        entries = []
        for _ in range(size):
            tag = uuid.uuid4().hex[:10]
            part = copy.deepcopy(_FHIR_BUNDLE["entry"])
            urls = {e["fullUrl"]: e["fullUrl"].replace(e["resource"]["id"], f"{e['resource']['id']}-{tag}")
                    for e in part if e["resource"]["resourceType"] in ("Claim", "Patient", "Coverage")}
            text = json.dumps(part)
            for old, new in urls.items():  # ids, fullUrls and the references to them
                old_id, new_id = old.rsplit("/", 1)[1], new.rsplit("/", 1)[1]
                text = text.replace(old, new).replace(f'/{old_id}"', f'/{new_id}"').replace(
                    f'"id": "{old_id}"', f'"id": "{new_id}"')
            part = json.loads(text)
            claim = next(e["resource"] for e in part if e["resource"]["resourceType"] == "Claim")
            _unique(claim, next(e["resource"] for e in part if e["resource"]["resourceType"] == "Coverage"))
            entries += part if not entries else [e for e in part if e["resource"]["resourceType"] != "Organization"
                                                 and e["resource"]["resourceType"] != "Practitioner"]
        return {**_FHIR_BUNDLE, "entry": entries}
    return build


def _unique(claim: dict, coverage: dict) -> None:
    claim["identifier"][0]["value"] = f"FHIR-{uuid.uuid4().hex[:12]}"
    coverage["subscriberId"] = "XJ" + uuid.uuid4().hex[:8].upper()


def _claim_id(answer: dict) -> list[str]:
    return [answer["id"]]


def _claim_response_id(answer: dict) -> list[str]:
    return [answer["request"]["reference"].removeprefix("Claim/")]


def _bundle_ids(answer: dict) -> list[str]:
    return [entry["response"]["location"].removeprefix("Claim/") for entry in answer["entry"]
            if entry["response"]["status"].startswith("201")]


def _batch_ids(answer: dict) -> list[str]:
    return [item["claim"]["id"] for item in answer["results"] if item["status"] == 201]


def intake_form(name: str, batch_size: int) -> IntakeForm:
    """The form by its --form name; `batch_size`: claims per request of the batch and bundle forms."""
    forms = {
        "json": IntakeForm("json", "/v1/encounters", "application/json", 1, 201, _encounter, False, _claim_id),
        "json-keyed": IntakeForm("json-keyed", "/v1/encounters", "application/json", 1, 201, _encounter, True,
                                 _claim_id),
        "fhir-claim": IntakeForm("fhir-claim", "/fhir/Claim", FHIR_JSON, 1, 201, _fhir_claim, True,
                                 _claim_response_id),
        "fhir-bundle": IntakeForm("fhir-bundle", "/fhir", FHIR_JSON, batch_size, 200, _fhir_bundle(batch_size), True,
                                  _bundle_ids),
        "batch": IntakeForm("batch", "/v1/encounter-batches", "application/json", batch_size, 200,
                            _batch(batch_size), False, _batch_ids),
    }
    return forms[name]


FORMS = ("json", "json-keyed", "fhir-claim", "fhir-bundle", "batch")
