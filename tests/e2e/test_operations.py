"""What the operations team sees: one trace per claim path, the event tail, metrics."""

from __future__ import annotations

import httpx
import pytest

from openrcm_devstack import events as ops_events
from tests.support import encounter, eventually, post_when_known, remittance_for

pytestmark = pytest.mark.stack

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_one_trace_and_one_correlation_id_follow_a_payment_across_services(api, stack):
    claim = (await api["claims"].post("/v1/encounters", json=encounter(patient_id="PAT-TRACE"))).json()
    headers = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", "X-Correlation-Id": "era-batch-42"}

    async def post():
        response = await api["remittance"].post("/v1/remittances", json=remittance_for(claim), headers=headers)
        if response.status_code == 422 and response.json()["type"].endswith("/unknown-claim"):
            return None
        return response
    posted = await eventually(post)
    assert posted.status_code == 201 and posted.headers["x-correlation-id"] == "era-batch-42"

    lines: list[str] = []

    async def balance_changed_event_seen():
        # remittance -> ClaimPaymentPosted -> collections -> PatientBalanceChanged, all one trace
        printed = await ops_events.tail(stack.kafka.bootstrap_servers,
                                        ops_events.TailFilter(claim_id=claim["id"]), from_beginning=True,
                                        idle_timeout=2, out=lines.append)
        assert any("patient_balance_changed" in line for line in lines), lines
        return printed

    await eventually(balance_changed_event_seen, timeout=60)
    assert any("claim_submitted" in line and f"subject={claim['id']}" in line for line in lines)
    assert any("claim_payment_posted" in line and "outcome=partially_paid" in line for line in lines)

    records = [r for r in await ops_events.read_all(
        stack.kafka.bootstrap_servers, ["rcm.collections.events.v1", "rcm.remittance.events.v1"])
        if claim["id"].encode() in (r.value or b"")]
    traced = {ops_events.header(r.headers, "ce_type"): r for r in records}
    for event_type in ("org.openrcm.remittance.claim_payment_posted.v1",
                       "org.openrcm.collections.patient_balance_changed.v1"):
        record = traced[event_type]
        assert ops_events.header(record.headers, "traceparent").split("-")[1] == TRACE_ID
        assert ops_events.header(record.headers, "ce_correlationid") == "era-batch-42"
    balance = traced["org.openrcm.collections.patient_balance_changed.v1"]
    posted_event = traced["org.openrcm.remittance.claim_payment_posted.v1"]
    assert ops_events.header(balance.headers, "ce_causationid") == ops_events.header(posted_event.headers, "ce_id")


async def test_metrics_count_consumed_events_and_report_the_outbox(stack, api):
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    assert (await post_when_known(api["remittance"], "/v1/remittances", remittance_for(claim))).status_code == 201

    async def counted():
        async with httpx.AsyncClient(base_url=stack.services["collections"].url) as client:
            text = (await client.get("/metrics")).text
        assert 'openrcm_consumer_events_processed_total{event_type="org.openrcm.remittance.claim_payment_posted.v1",group="collections"}' in text
        assert 'openrcm_outbox_backlog_events{service="collections"}' in text
        assert "openrcm_outbox_oldest_unpublished_age_seconds" in text
        assert "openrcm_consumer_processing_duration_seconds_bucket" in text
        assert "PAT-" not in text and claim["id"] not in text  # no patient or claim ids as labels
        return True
    await eventually(counted, timeout=30)


async def test_the_remittance_service_runs_its_posting_workers_and_counts_batches(stack, api):
    # Started with the service (OPENRCM_REMITTANCE_POSTING_WORKERS, default 2), so a large ERA's
    # batches are prepared on more than one core; a small ERA's one batch is prepared in the service.
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    assert (await post_when_known(api["remittance"], "/v1/remittances", remittance_for(claim))).status_code == 201

    async def running():
        async with httpx.AsyncClient(base_url=stack.services["remittance"].url) as client:
            text = (await client.get("/metrics")).text
        assert "openrcm_remittance_posting_workers 2.0" in text
        assert 'openrcm_remittance_posting_batches_total{prepared_in="service"}' in text
        return True
    await eventually(running, timeout=30)
