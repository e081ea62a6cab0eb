"""Timely filing warnings and acknowledgement follow-up, driven with explicit dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from openrcm_claims.service_layer.follow_up import alert_filing_deadlines, flag_unacknowledged
from openrcm_shared.db import create_engine
from tests.support import encounter, eventually

pytestmark = pytest.mark.stack


@pytest.fixture
async def claims_engine(stack):
    engine = create_engine(stack.database_url("claims"), pool_size=2)
    yield engine
    await engine.dispose()


async def test_thirty_and_seven_day_warnings_once_each(api, claims_engine):
    tight = {"name": "Tight Filing Plan", "claim_types": ["professional"], "timely_filing_days": 10}
    assert (await api["claims"].put("/v1/payers/TIGHT1", json=tight)).status_code == 200
    served = (date.today() - timedelta(days=5)).isoformat()
    body = encounter(payer_id="TIGHT1", lines=[{"procedure_code": "99213", "charge_amount": "90.00",
                                               "service_date": served, "diagnosis_pointers": [1]}])
    # Held by the scrubber (no billing address), so it stays at risk: a clean claim can be accepted
    # by the payer (and so no longer at risk) before the first pass below.
    del body["billing_provider"]["address"]
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    assert claim["status"] == "held"
    assert claim["filing_deadline"] == (date.today() + timedelta(days=5)).isoformat()

    async def alerts():
        history = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()["history"]
        return sorted(h["detail"]["days_before"] for h in history if h["kind"] == "filing_deadline_approaching")

    async def both_alerted():
        # The service's own deadline watch may hold the claim for a moment (SKIP LOCKED): pass again.
        await alert_filing_deadlines(claims_engine, date.today())
        assert await alerts() == [7, 30]
        return True
    await eventually(both_alerted, timeout=20)
    await alert_filing_deadlines(claims_engine, date.today())  # a further pass alerts nothing new
    assert await alerts() == [7, 30]


@pytest.mark.disruptive
async def test_a_claim_without_acknowledgement_is_flagged_for_follow_up(api, stack, claims_engine):
    stack.clearinghouse.process.stop()  # files stay unsent, so no 999 or 277CA comes back
    stack.clearinghouse = None
    try:
        claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()

        async def submitted():
            body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
            assert body["status"] == "submitted", body["status"]
            return True
        await eventually(submitted)
        assert await flag_unacknowledged(claims_engine, datetime.now(timezone.utc)) == 0  # within the window
        assert await flag_unacknowledged(claims_engine, datetime.now(timezone.utc) + timedelta(days=8)) >= 1
        flagged = (await api["claims"].get("/v1/claims", params={"follow_up": "true"})).json()["items"]
        assert [c["id"] for c in flagged] == [claim["id"]]
    finally:
        stack.start_clearinghouse()

    async def acknowledged_after_all():  # the pending file goes out once the clearinghouse is back
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert body["status"] == "accepted_by_payer", body["status"]
        return True
    await eventually(acknowledged_after_all, timeout=60)
