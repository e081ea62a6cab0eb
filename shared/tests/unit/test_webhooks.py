"""Standard Webhooks signing and verification."""

from __future__ import annotations

import base64

import pytest

from openrcm_shared.http.webhooks import WebhookVerificationError, sign, signed_headers, verify

# The example in the Standard Webhooks specification (v1).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OLD = "whsec_" + base64.b64encode(b"old-secret-old-secret-old-secret").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-new-secret-new-secret").decode()


def test_signature_matches_the_specification_example():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}
    assert verify([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10).webhook_id == SPEC_ID


def test_rotation_accepts_either_secret_and_several_signatures():
    body = b'{"kind":"999"}'
    both = signed_headers([OLD, NEW], "msg_1", body, timestamp=1_700_000_000)
    assert len(both["webhook-signature"].split()) == 2
    assert verify([NEW], both, body, now=1_700_000_000)
    only_old = signed_headers([OLD], "msg_2", body, timestamp=1_700_000_000)
    assert verify([OLD, NEW], only_old, body, now=1_700_000_000)


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "secret", "stale", "future", "missing"])
def test_tampered_stale_or_missing_deliveries_are_refused(tamper):
    body = b'{"kind":"277CA"}'
    headers = signed_headers([NEW], "msg_3", body, timestamp=1_700_000_000)
    now = 1_700_000_000
    if tamper == "body":
        body = b'{"kind":"277CA "}'
    elif tamper == "id":
        headers["webhook-id"] = "msg_4"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = "1700000001"
    elif tamper == "secret":
        headers = signed_headers([OLD], "msg_3", body, timestamp=1_700_000_000)
    elif tamper == "stale":
        now += 301
    elif tamper == "future":
        now -= 301
    elif tamper == "missing":
        del headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verify([NEW], headers, body, now=now)
