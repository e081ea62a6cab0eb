"""Recording a scrub of one claim version: clean claims are ready, blocked ones are held."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_history, claims, scrub_results
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_shared.contracts.claims import ClaimHeld



def status_after_scrub(hits: list[dict]) -> ClaimStatus:
    return ClaimStatus.HELD if any(hit["severity"] == "block" for hit in hits) else ClaimStatus.READY


async def record_scrub(conn: AsyncConnection, *, tenant_id: str, claim_id, version: int, from_status: str | None,
                       rule_set_version: str, hits: list[dict], status_written: bool = False,
                       earlier_history: tuple[dict, ...] = ()) -> ClaimStatus:
    """Store the result for this version and move the claim to held or ready accordingly.

    `hits` are dicts with rule_id, severity (block|warn), message and pointer. On intake the claim
    row is inserted with its scrubbed status already (`status_written`), and the "received" entry
    comes in `earlier_history`, so the hot path writes each table once.
    """
    now = datetime.now(timezone.utc)
    blocked = any(hit["severity"] == "block" for hit in hits)
    values = dict(rule_set_version=rule_set_version, blocked=blocked, hits=hits, scrubbed_at=now)
    await conn.execute(pg_insert(scrub_results).values(claim_id=claim_id, version=version, tenant_id=tenant_id,
                                                       **values)
                       .on_conflict_do_update(index_elements=["claim_id", "version"], set_=values))
    target = status_after_scrub(hits)
    if not status_written:
        await conn.execute(claims.update().where(claims.c.id == claim_id).values(status=target, updated_at=now))
    event_id = None
    if blocked:
        rule_ids = sorted({hit["rule_id"] for hit in hits if hit["severity"] == "block"})
        [envelope] = await stage_claim_events(conn, [ClaimHeld(
            tenant_id=tenant_id, claim_id=claim_id, version=version, rule_set_version=rule_set_version,
            rule_ids=rule_ids)])
        event_id = envelope.id
    scrubbed = dict(claim_id=claim_id, tenant_id=tenant_id, occurred_at=now, kind="scrubbed", from_status=from_status,
                    to_status=target, event_id=event_id,
                    detail={"version": version, "rule_set_version": rule_set_version,
                            "rule_ids": sorted({hit["rule_id"] for hit in hits})})
    await conn.execute(claim_history.insert(), [*earlier_history, scrubbed])
    return target
