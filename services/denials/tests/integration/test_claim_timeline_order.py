"""The claim's timeline (case detail, GET /v1/denials/{id}/timeline) is in the order its events
happened. Denials reads the claims topic and the remittance topic independently, so the payer's
835 can be applied before the claim's submission it follows; listed in the order applied, the
history began with the payment."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from openrcm_denials.service_layer.claim_timeline import claim_timeline, on_claim_submitted
from openrcm_denials.service_layer.settlements import on_claim_payment_posted
from openrcm_shared.security.context import acting_for
from services.denials.tests.integration.claim_events import handle, posted, submitted
from tests.support import role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, _owner_engine = scratch_database_fixtures("openrcm_denials_timeline", migrations_of="denials",
                                                        pool_size=1)
app_engine, system_engine = role_engine_fixtures("denials", pool_size=2)


async def test_a_payment_applied_before_the_submission_it_follows_is_listed_after_it(app_engine):
    tenant, claim_id = f"practice-{uuid.uuid4().hex[:10]}", uuid.uuid4()
    sent_at = datetime.now(timezone.utc) - timedelta(days=12)
    await handle(app_engine, on_claim_payment_posted, posted(tenant, claim_id, uuid.uuid4(), "paid", "200.00"),
                 at=sent_at + timedelta(days=11))
    await handle(app_engine, on_claim_submitted, submitted(tenant, claim_id), at=sent_at)
    with acting_for(tenant):
        async with app_engine.connect() as conn:
            entries = await claim_timeline(conn, tenant, claim_id)
    assert [entry.kind for entry in entries] == ["submitted_837", "payment_posted"]
    assert [entry.occurred_at for entry in entries] == [sent_at, sent_at + timedelta(days=11)]
