"""A consumer run's deferred writes (HandlerContext.write_at_commit / add_at_commit): what reaches
the connection at the commit, and in which order. PostgreSQL-side behaviour (rollback, practices)
is in shared/tests/component/test_delivery_guarantees.py and the collections receivables tests."""

from decimal import Decimal

import sqlalchemy as sa

from openrcm_shared.messaging.consumer import DeferredWrites

LOCK = sa.text("SELECT :tenant_id")
CELLS = sa.text("INSERT INTO cells ... :day :amount")
ROWS = sa.text("INSERT INTO rows ... :n")


class RecordingConnection:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object, list]] = []
        self.practice: str | None = None

    async def execute(self, statement, rows):
        self.calls.append((self.practice, statement, rows))


async def test_amounts_of_one_key_are_summed_and_written_once_per_key_in_key_order_after_the_first_used():
    deferred, conn = DeferredWrites(), RecordingConnection()
    for day, amount in [("2026-02-02", "10.00"), ("2026-02-01", "1.00"), ("2026-02-02", "-2.50")]:
        deferred.add_to("p1", LOCK, {"tenant_id": "p1"}, {})
        deferred.add_to("p1", CELLS, {"tenant_id": "p1", "day": day}, {"amount": Decimal(amount), "claims": 1})
    deferred.add("p1", ROWS, {"n": 1})
    deferred.add("p1", ROWS, {"n": 2})

    async def act_for(tenant_id):
        conn.practice = tenant_id

    await deferred.flush(conn, act_for)
    assert conn.calls == [
        ("p1", LOCK, [{"tenant_id": "p1"}]),
        ("p1", CELLS, [{"tenant_id": "p1", "day": "2026-02-01", "amount": Decimal("1.00"), "claims": 1},
                       {"tenant_id": "p1", "day": "2026-02-02", "amount": Decimal("7.50"), "claims": 2}]),
        ("p1", ROWS, [{"n": 1}, {"n": 2}]),
    ]
    conn.calls.clear()
    await deferred.flush(conn, act_for)  # flushed once: nothing is written twice
    assert conn.calls == []


async def test_writing_one_practices_pending_rows_early_leaves_the_others_for_the_commit_in_practice_order():
    deferred, conn = DeferredWrites(), RecordingConnection()
    deferred.add("p1", ROWS, {"n": 1})
    deferred.add("p2", ROWS, {"n": 2})
    deferred.add_to("p2", CELLS, {"tenant_id": "p2", "day": "d"}, {"amount": Decimal(1)})
    deferred.add("p0", ROWS, {"n": 0})
    await deferred.flush_statement(conn, "p1", ROWS)
    await deferred.flush_statement(conn, "p1", ROWS)  # nothing left of p1's
    assert conn.calls == [(None, ROWS, [{"n": 1}])]

    async def act_for(tenant_id):
        conn.practice = tenant_id

    conn.calls.clear()
    await deferred.flush(conn, act_for)
    assert conn.calls == [("p0", ROWS, [{"n": 0}]), ("p2", ROWS, [{"n": 2}]),
                          ("p2", CELLS, [{"tenant_id": "p2", "day": "d", "amount": Decimal(1)}])]
