"""Locking claims in the one order every writer of claims uses: by id.

Two transactions that lock some of the same claims in different orders can deadlock (issue 14: a
999 locking its transaction set's claims by id, while the eligibility handler locked the
patient's claims in the order the table scan met them). So a statement that locks claims locks
them in id order, and a transaction locks its claims in one such statement where it can; work
done in another order for business reasons (oldest first) sorts the rows once they are locked.
A statement with SKIP LOCKED (the 837 round, the deadline watch) never waits, so its order does
not matter.

A consumer's handler locks through `lock_claims_for`: after other records of a shared run (which
hold claims locked in the order of their events) it must not wait, see
`HandlerContext.nowait_locks`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claims
from openrcm_shared.messaging.consumer import HandlerContext


def in_lock_order(query: sa.Select, *, nowait: bool = False) -> sa.Select:
    """`query` (a SELECT from claims, possibly joined) locking the claims rows it returns, in id order."""
    return query.order_by(claims.c.id).with_for_update(of=claims, nowait=nowait)


async def lock_claims(conn: AsyncConnection, query: sa.Select, *, nowait: bool = False) -> list[sa.Row]:
    """Lock the claims `query` selects, in id order, and return its rows in that order."""
    return (await conn.execute(in_lock_order(query, nowait=nowait))).all()


async def lock_claims_for(ctx: HandlerContext, query: sa.Select) -> list[sa.Row]:
    """`lock_claims` in an event handler's transaction, without waiting when the handler must not."""
    return await lock_claims(ctx.conn, query, nowait=ctx.nowait_locks)
