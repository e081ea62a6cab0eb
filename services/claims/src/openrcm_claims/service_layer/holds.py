"""Recording a scrub of one claim version: clean claims are ready, blocked ones are held."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters import claim_writes
from openrcm_claims.adapters.tables import claims
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_shared.contracts.claims import ClaimHeld


# The rule set version of a hold the 837 generator made (a claim the scrubber passed that cannot
# be written as X12), not the scrubber.
GENERATOR_RULE_SET = "x12-generator"


def status_after_scrub(hits: list[dict]) -> ClaimStatus:
    return ClaimStatus.HELD if any(hit["severity"] == "block" for hit in hits) else ClaimStatus.READY


async def record_scrub(conn: AsyncConnection, *, tenant_id: str, claim_id, version: int, from_status: str | None,
                       rule_set_version: str, hits: list[dict]) -> ClaimStatus:
    """Store the result for this version and move the claim to held or ready accordingly.

    `hits` are dicts with rule_id, severity (block|warn), message and pointer."""
    now = datetime.now(timezone.utc)
    await claim_writes.upsert_scrub_result(conn, scrub_result_row(
        claim_id=claim_id, version=version, tenant_id=tenant_id, rule_set_version=rule_set_version, hits=hits,
        scrubbed_at=now))
    target = status_after_scrub(hits)
    await conn.execute(claims.update().where(claims.c.id == claim_id).values(status=target, updated_at=now))
    await announce_scrub(conn, tenant_id=tenant_id, claim_id=claim_id, version=version, from_status=from_status,
                         rule_set_version=rule_set_version, hits=hits, at=now)
    return target


def scrub_result_row(*, claim_id, version: int, tenant_id: str, rule_set_version: str, hits: list[dict],
                     scrubbed_at: datetime) -> dict:
    return dict(claim_id=claim_id, version=version, tenant_id=tenant_id, rule_set_version=rule_set_version,
                blocked=any(hit["severity"] == "block" for hit in hits), hits=hits, scrubbed_at=scrubbed_at)


async def announce_scrub(conn: AsyncConnection, *, tenant_id: str, claim_id, version: int, from_status: str | None,
                         rule_set_version: str, hits: list[dict], at: datetime) -> None:
    """The scrub's timeline entry, and ClaimHeld (named by the entry) when a hit blocks the claim.
    The claim row must already carry the status the scrub gave it."""
    event_id = None
    blocking = sorted({hit["rule_id"] for hit in hits if hit["severity"] == "block"})
    if blocking:
        [envelope] = await stage_claim_events(conn, [ClaimHeld(
            tenant_id=tenant_id, claim_id=claim_id, version=version, rule_set_version=rule_set_version,
            rule_ids=blocking)])
        event_id = envelope.id
    await claim_writes.insert_history(conn, [scrubbed_entry(
        claim_id=claim_id, tenant_id=tenant_id, version=version, from_status=from_status,
        rule_set_version=rule_set_version, hits=hits, at=at, event_id=event_id)])


def scrubbed_entry(*, claim_id, tenant_id: str, version: int, from_status: str | None, rule_set_version: str,
                   hits: list[dict], at: datetime, event_id=None) -> dict:
    """The timeline entry of one scrub (naming the ClaimHeld event when it held the claim)."""
    return dict(claim_id=claim_id, tenant_id=tenant_id, occurred_at=at, kind="scrubbed", from_status=from_status,
                to_status=status_after_scrub(hits), event_id=event_id,
                detail={"version": version, "rule_set_version": rule_set_version,
                        "rule_ids": sorted({hit["rule_id"] for hit in hits})})
