"""The purpose-built Claim reader (adapters.fhir.claim_json) against fhir.resources: for every
example Claim and Bundle, and for thousands of variations of them (elements missing, of the
wrong type, extra, null, empty; extensions and modifierExtensions; partial and impossible dates;
contained parties of every kind; institutional claims), the intake's answer short of the database
is the same with the purpose-built reader as with fhir.resources alone: the same encounter and
notes, or the same refusal issue for issue. Synthetic data only."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openrcm_claims.adapters.fhir.claim_json import read_claim_json, read_party_json
from openrcm_claims.adapters.fhir.resources import json_body
from services.claims.tests.unit.fhir_support import assert_same_outcome, counting_fast_reads
from tests.fhir_examples import example

SERVED = date.today() - timedelta(days=5)
EXAMPLES = ("professional-claim-contained", "professional-claim-registered", "institutional-outpatient-transaction",
            "professional-batch-restful")
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
EXTENSION = {"url": "http://example.org/fhir/StructureDefinition/local-note", "valueString": "synthetic"}


def body_of(name: str) -> dict:
    return example(name, served=SERVED)


# -- the examples: read by the purpose-built model, the same answer ---------------------------


@pytest.mark.parametrize("name", EXAMPLES)
async def test_every_example_is_read_by_the_purpose_built_model_with_the_same_answer(name):
    counts: dict[str, int] = {}
    with counting_fast_reads(counts):
        answer = await assert_same_outcome(body_of(name))
    taken = answer[2][0] if answer[0] == "bundle" else answer
    assert taken[0] == "taken", taken
    assert counts.get("claims", 0) >= 1
    if answer[0] == "bundle":  # its Patient, Coverage, ... entries too
        assert counts.get("parties", 0) >= 2


def test_the_wire_form_of_an_example_fits_the_model():
    """As POST /fhir/Claim reads it (json_body: exact decimals)."""
    raw = json_body(json.dumps(example("professional-claim-contained", served=SERVED, exact=False)).encode())
    claim = read_claim_json(raw)
    assert claim is not None and claim.item[2].quantity.value == Decimal("1.5")
    assert claim.contained[2].class_fhir[0].value == "GRP-7781"
    assert claim.item[0].servicedDate == SERVED and claim.related is None and claim.item[0].detail is None


# -- what goes to the general path -------------------------------------------------------------


def _with(change: Callable[[dict], None]) -> dict:
    body = body_of("professional-claim-contained")
    change(body)
    return body


@pytest.mark.parametrize("change", [
    lambda c: c.update(modifierExtension=[EXTENSION]),
    lambda c: c["item"][0].update(modifierExtension=[EXTENSION]),
    lambda c: c.update(implicitRules="http://example.org/rules"),
    lambda c: c.update(related=[{"relationship": {"text": "prior"}}]),
    lambda c: c.update(procedure=[{"sequence": 1, "procedureCodeableConcept": {"text": "x"}}]),
    lambda c: c["item"][0].update(detail=[{"sequence": 1, "productOrService": {"text": "x"}}]),
    lambda c: c["contained"].append({"resourceType": "Device", "id": "d"}),
    lambda c: c["contained"][0].update(_birthDate={"extension": [EXTENSION]}),
    lambda c: c["item"][0]["net"].update(value=150.0),  # a float: not read exactly
    lambda c: c["insurance"][0].update(focal="true"),
    lambda c: c["insurance"][0].update(sequence="1"),
    lambda c: c.update(facility=None),
    lambda c: c.update(identifier=[]),
    lambda c: c["contained"][0]["name"][0].update(family=" "),
    lambda c: c["item"][0].update(servicedDate="2026-02-30"),
    lambda c: c.update(created="2026-11-03T09:15:00"),  # a time without its zone
    lambda c: c["item"][0].update(servicedPeriod={"start": "2026-11-02"}),  # with servicedDate: two types
    lambda c: c["diagnosis"][0].pop("diagnosisCodeableConcept"),
    lambda c: c.update(extension=[{"url": "http://example.org/x", "valueString": "a", "valueCode": "b"}]),
])
async def test_what_the_model_does_not_fully_know_goes_to_fhir_resources(change):
    body = _with(change)
    assert read_claim_json(body) is None
    await assert_same_outcome(body)


@pytest.mark.parametrize("change", [
    lambda c: c.update(extension=[EXTENSION]),
    lambda c: c["contained"][0].update(extension=[{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                                                   "extension": [{"url": "text", "valueString": "Unknown"}]}]),
    lambda c: c.update(meta={"profile": ["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Claim"],
                             "lastUpdated": "2026-11-03T09:15:00.123Z"}),
    lambda c: c.update(text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}),
    lambda c: c["contained"][0].update(birthDate="1968-03"),  # partial: read, then refused by the mapping
    lambda c: c.update(created="2026-11-03"),
    lambda c: c["item"][0].pop("servicedDate") or c["item"][0].update(
        servicedPeriod={"start": f"{SERVED}T08:00:00-06:00", "end": f"{SERVED}T09:00:00-06:00"}),
    lambda c: c["item"][0].update(net={"value": Decimal("150.00"), "currency": "CAD"}),
    lambda c: c["item"][1].update(quantity={"value": 2, "unit": "unit"}, unitPrice={"value": Decimal("14.25")},
                                  factor=Decimal("1.0")),
    lambda c: c["item"][0]["modifier"].append({"coding": [{"system": CPT, "code": "59"}]}),
    lambda c: c["diagnosis"].append({"sequence": 3, "diagnosisCodeableConcept": {"coding": [
        {"system": ICD10, "code": "Z79.4"}]}}),
    lambda c: c["contained"].append({"resourceType": "Location", "id": "office", "name": "Synthetic Clinic Suite",
                                     "address": {"line": ["100 Main Street"], "city": "Springfield", "state": "IL",
                                                 "postalCode": "62701"}})
    or c.update(facility={"reference": "#office"}),
    lambda c: c["contained"].append({"resourceType": "Condition", "id": "dx", "subject": {"reference": "#patient"},
                                     "code": {"coding": [{"system": ICD10, "code": "J06.9"}]}})
    or c["diagnosis"].append({"sequence": 3, "diagnosisReference": {"reference": "#dx"}}),
    lambda c: c.update(status="draft"),
    lambda c: c.update(payee={"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/payeetype",
                                                   "code": "subscriber"}]}}),
])
async def test_what_the_model_knows_is_read_by_it_with_the_same_answer(change):
    body = _with(change)
    assert read_claim_json(body) is not None
    await assert_same_outcome(body)


def test_a_bundle_party_of_an_unknown_shape_goes_to_fhir_resources():
    assert read_party_json({"resourceType": "Patient", "id": "p", "active": True}) is None
    assert read_party_json({"resourceType": "Patient", "id": "p", "gender": "female"}).gender == "female"


# -- variations of every element: the same answer either way ----------------------------------

# Wrong-typed, empty or odd values put in place of an element, by the JSON type it has.
_ODD_VALUES: dict[type, list[Any]] = {
    str: [None, "", " ", 1, True, ["x"], "2026-02-30", "1974", "x y", " x"],
    bool: [None, "true", 1],
    int: [None, "1", True, 0, -1, Decimal("1.0"), 2_147_483_648],
    Decimal: [None, "1.5", 1.5, Decimal("1E+2"), Decimal("0.001")],
    dict: [None, {}, "x", 1],
    list: [None, [], "x", {}],
}


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _at(body: Any, path: tuple) -> Any:
    for part in path:
        body = body[part]
    return body


def _mutations(body: dict) -> Iterator[tuple[str, Callable[[dict], None]]]:
    """(description, change) for every element of `body`: removed, replaced by odd values, an
    unknown element, an extension, a modifierExtension, a primitive's _element beside it."""
    for path in _paths(body):
        value = _at(body, path)
        if path:
            parent, last = path[:-1], path[-1]

            def remove(b, parent=parent, last=last):
                del _at(b, parent)[last]
            yield f"remove {path}", remove
            for odd in _ODD_VALUES.get(type(value), []):
                def replace(b, parent=parent, last=last, odd=odd):
                    _at(b, parent)[last] = copy.deepcopy(odd)
                yield f"{path} = {odd!r}", replace
            if isinstance(value, list) and len(value) == 1:
                def unwrap(b, parent=parent, last=last):
                    _at(b, parent)[last] = _at(b, parent)[last][0]
                yield f"unwrap {path}", unwrap
            if isinstance(value, dict):
                def wrap(b, parent=parent, last=last):
                    _at(b, parent)[last] = [_at(b, parent)[last]]
                yield f"wrap {path}", wrap
            if isinstance(last, str) and not isinstance(value, (dict, list)):
                def primitive_extension(b, parent=parent, last=last):
                    _at(b, parent)["_" + last] = {"extension": [EXTENSION]}
                yield f"_{last} beside {path}", primitive_extension
        if isinstance(value, dict):
            for extra, content in (("unknownElement", "x"), ("extension", [EXTENSION]),
                                   ("modifierExtension", [EXTENSION])):
                def add(b, path=path, extra=extra, content=content):
                    _at(b, path).setdefault(extra, copy.deepcopy(content))
                yield f"{extra} in {path}", add


@pytest.mark.parametrize("name", EXAMPLES)
async def test_every_variation_of_every_element_gets_the_same_answer(name):
    original = body_of(name)
    counts: dict[str, int] = {}
    tried = 0
    with counting_fast_reads(counts):
        for description, change in _mutations(original):
            body = copy.deepcopy(original)
            change(body)
            try:
                await assert_same_outcome(body)
            except AssertionError as different:
                raise AssertionError(f"{name}, {description}: {different}") from None
            tried += 1
    # Both readers were exercised: many variations fit the model (the others go to fhir.resources).
    assert tried > 500 and counts["claims"] > 100, (tried, counts)


# -- property: any few changes at once ---------------------------------------------------------

_BASES = {name: body_of(name) for name in ("professional-claim-contained", "institutional-outpatient-transaction")}
_CATALOGUE = {name: list(_mutations(body)) for name, body in _BASES.items()}


@settings(max_examples=150, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(_BASES)), picks=st.lists(st.integers(min_value=0), min_size=1, max_size=4))
def test_any_few_changes_at_once_get_the_same_answer(name, picks):
    body = copy.deepcopy(_BASES[name])
    catalogue = _CATALOGUE[name]
    done = []
    for pick in picks:
        description, change = catalogue[pick % len(catalogue)]
        try:
            change(body)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # an earlier change removed or replaced what this one changes
        done.append(description)
    try:
        asyncio.run(assert_same_outcome(body))
    except AssertionError as different:
        raise AssertionError(f"{name}, {done}: {different}") from None
