"""Hot-path statements compiled once for asyncpg (adapters.driver_sql, adapters.claim_writes):
the parameters in the order the SQL numbers them, values bound as SQLAlchemy would bind them."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from openrcm_claims.adapters import claim_writes
from openrcm_shared.driver_sql import DriverStatement
from openrcm_claims.adapters.tables import claim_history, claims


def test_parameters_follow_the_sql_numbering_and_json_is_serialised():
    statement = DriverStatement(claim_history.insert().inline(), claim_writes.HISTORY_COLUMNS)
    row = {"claim_id": uuid.uuid4(), "tenant_id": "t", "occurred_at": None, "kind": "scrubbed",
           "from_status": None, "to_status": "ready", "event_id": None, "detail": {"rule_ids": ["R1"]}}
    args = statement.args(row)
    for position, name in enumerate(statement.names, start=1):
        assert f"${position}::" in statement.sql
        if name == "detail":  # JSONB goes as text, for SQLAlchemy's codec
            assert json.loads(args[position - 1]) == row["detail"]
        else:
            assert args[position - 1] == row[name]
    assert "RETURNING" not in statement.sql


def test_a_missing_value_is_refused_not_bound_as_null():
    statement = DriverStatement(claims.update().where(claims.c.id == sa.bindparam("claim_id")), ["status"])
    with pytest.raises(KeyError):
        statement.args({"status": "ready"})


def test_a_new_claim_is_one_statement_writing_its_rows_only_with_the_claim():
    sql = claim_writes._INSERT_NEW_CLAIM.sql
    # The claim, lines, scrub result, history, audit entry, and a keyed request's idempotency key.
    assert sql.count("INSERT INTO") == 6
    assert "ON CONFLICT ON CONSTRAINT uq_claims_tenant_encounter_payer_part DO NOTHING" in sql
    # Lines, scrub result, history, the audit entry and the key are selected FROM new_claim: no
    # claim row, no other rows.
    assert sql.count("FROM new_claim") == 6
    # A key the practice has used already: no claim row (the general path answers the request).
    assert "NOT (EXISTS (SELECT * \nFROM idempotency_keys" in sql


def test_a_new_claim_binds_its_practice_before_anything_it_writes_or_reads():
    # Row-level security: the statement runs outside a transaction block (no BEGIN binds a
    # practice), so it sets app.tenant_id first, and the claim row (which every other row hangs
    # off) and the payer check are derived from that setting's row.
    sql = claim_writes._INSERT_NEW_CLAIM.sql
    assert sql.startswith("WITH practice AS MATERIALIZED \n(SELECT set_config('app.tenant_id', ")
    assert "practice.tenant_id AS tenant_id" in sql and "\nFROM practice \nWHERE" in sql
    assert "payers.tenant_id = practice.tenant_id" in sql
