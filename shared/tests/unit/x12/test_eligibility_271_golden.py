"""Golden test of the 271 reader: every 271 among the public samples, and hand-written answers that
reach every loop, parse to exactly the normalized model pinned in `golden/eligibility_271.json`.

The pinned output is the whole model (every field of every response, benefit, member, party,
error, plan and date, and each response's per-service-type summary), so a faster reader cannot drop
or change anything the reader extracts. Decimals are pinned as their exact text (`20` and `20.0`
differ), dates in ISO form. A sample whose envelope is broken is pinned by its error message.

After an intended change of the model, rewrite the file with
``OPENRCM_WRITE_GOLDEN=1 ./openrcm test shared/tests/unit/x12/test_eligibility_271_golden.py``
and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from openrcm_shared.x12.eligibility_271 import EligibilityResponse, parse_271
from openrcm_shared.x12.reader import X12Error
from shared.tests.unit.x12.test_eligibility_270_271 import FULL_BENEFITS, PAYER_AND_PROVIDER, SUBSCRIBER, answer
from shared.tests.unit.x12.x12_test_support import samples_dir

GOLDEN = Path(__file__).parent / "golden" / "eligibility_271.json"
_ST_271 = re.compile(rb"(?:^|[^A-Za-z0-9])\s*ST([^A-Za-z0-9\s])271\1")

# Hand-written answers: several members, dependents under a subscriber with and without an answer
# of their own, AAA at every level, 2120 loops with contacts, benefit dates and references, other
# delimiters, several transaction sets and interchanges in one file.
_MEMBERS = [
    "HL*3*2*22*0", "NM1*IL*1*ONE*****MI*A1", "EB*1",
    "HL*4*2*22*1", "TRN*2*T-4*9123456789", "NM1*IL*1*TWO*ANN*B***MI*A2", "REF*18*PLAN-2", "DTP*291*RD8*20260101-20261231",
    "EB*1*FAM*30", "AAA*Y**15*C",
    "HL*5*4*23*0", "TRN*2*T-5*9123456789", "NM1*03*1*KID*TOM", "INS*N*19", "DMG*D8*20150101*M",
    "DTP*356*D8*20260201", "EB*6", "EB*F*IND*33***22***VS*12.50**Y*W*HC:99213", "HSD*VS*12",
    "DTP*348*RD8*20260101-20260630", "REF*9F*REF-1", "III*ZZ*11", "MSG*FIRST", "MSG*SECOND", "AAA*N**57*C",
    "HL*6*2*22*1", "NM1*IL*1*THREE*****MI*A3",
    "HL*7*6*23*0", "NM1*03*1*CHILD", "EB*1**30^1^98", "EB*R**30*MA", "LS*2120",
    "NM1*PRP*2*MEDICARE ADVANTAGE CO*****PI*MA01", "N3*1 MAIN ST", "N4*CITY*ST*12345", "PER*IC**TE*8005551212*EX*12",
    "PRV*PC*PXC*207Q00000X", "NM1*P3*1*WELBY*MARCUS****XX*1234567893", "LE*2120",
    "EB*N*IND*30***7*0*0*DY*0*U*N", "EB*E*ESP*30***32*99999.99**HS*1.5",
]


def _hand_written() -> dict[str, str]:
    busy = [*PAYER_AND_PROVIDER[:2], "AAA*Y**42*R"]
    receiver_refused = [*PAYER_AND_PROVIDER[:3], "NM1*1P*2*CLINIC*****XX*1234567893", "REF*EO*X", "AAA*N**43*N"]
    two_sets = answer(*PAYER_AND_PROVIDER, *SUBSCRIBER, *FULL_BENEFITS) + \
        answer(*PAYER_AND_PROVIDER, *_MEMBERS, control_number="000000002")
    return {
        "hand/full-benefits": answer(*PAYER_AND_PROVIDER, *SUBSCRIBER, *FULL_BENEFITS),
        "hand/members-and-dependents": answer(*PAYER_AND_PROVIDER, *_MEMBERS),
        "hand/payer-busy": answer(*busy),
        "hand/receiver-refused": answer(*receiver_refused),
        "hand/two-interchanges": two_sets,
        "hand/other-delimiters": answer(*PAYER_AND_PROVIDER, *SUBSCRIBER, *FULL_BENEFITS, element="|",
                                        component=">", repetition="!", terminator="\n"),
    }


def _inputs() -> dict[str, bytes | str]:
    root = samples_dir()
    files = {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
             if path.is_file() and _ST_271.search(path.read_bytes())}
    return {**files, **_hand_written()}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _response(response: EligibilityResponse) -> dict:
    return {**_plain(response), "member_id": response.member_id, "other_payers": _plain(response.other_payers),
            "service_type_names": [b.service_type_names for b in response.benefits],
            "summary": _plain(response.summary())}


def _outcome(source) -> dict:
    responses = []
    try:
        for response in parse_271(source):
            responses.append(_response(response))
    except X12Error as error:
        return {"responses": responses, "error": f"{type(error).__name__}: {error}"}
    return {"responses": responses}


def _outcomes() -> dict:
    return {name: _outcome(source) for name, source in _inputs().items()}


def test_every_271_parses_to_the_pinned_normalized_model() -> None:
    outcomes = _outcomes()
    if os.environ.get("OPENRCM_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(outcomes, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(GOLDEN.read_text())
    assert sorted(outcomes) == sorted(pinned), "the set of 271 samples changed"
    assert len([name for name in outcomes if not name.startswith("hand/")]) >= 5
    for name, outcome in outcomes.items():
        assert json.loads(json.dumps(outcome)) == pinned[name], name


@pytest.mark.parametrize("chunk_size", [7, 64, 100_000])
def test_the_pinned_model_does_not_depend_on_how_the_input_is_cut(chunk_size: int) -> None:
    pinned = json.loads(GOLDEN.read_text())
    for name, source in _inputs().items():
        data = source.encode() if isinstance(source, str) else source
        chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
        assert json.loads(json.dumps(_outcome(iter(chunks)))) == pinned[name], (name, chunk_size)
