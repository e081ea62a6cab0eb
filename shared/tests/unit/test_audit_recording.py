"""Recording audited requests: what each entry says, when it is written, and that a read whose
entry cannot be written discloses nothing. The database is replaced by a recorder here (unit
tier); tests/e2e/test_audit_trail.py runs the same paths on PostgreSQL."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from openrcm_shared.audit import AuditMiddleware, audited, record_change
from openrcm_shared.audit import recording
from openrcm_shared.audit.purpose import PURPOSES_OF_USE, purpose_of_use
from openrcm_shared.http.problems import Problem, install_problem_handlers
from typing import Annotated

from fastapi import Depends, Header

from openrcm_shared.security.context import Caller, Principal, bind_caller


async def _caller_of_test(x_tenant_id: Annotated[str | None, Header()] = None) -> str:
    """Stands for the authorization (tested on its own): binds a caller for the header's practice;
    a request naming none is refused, as the authorization refuses one it cannot place."""
    if not x_tenant_id:
        from openrcm_shared.http.problems import Problem

        raise Problem(400, "Practice not selected")
    bind_caller(Caller(Principal("anonymous", "anonymous", frozenset(), (x_tenant_id,)), x_tenant_id))
    return x_tenant_id


TenantDep = Annotated[str, Depends(_caller_of_test)]


class ThingOut(BaseModel):
    id: str
    patient_id: str
    secret: str = "PHI"


class RecordingWriter:
    def __init__(self, fail: bool = False) -> None:
        self.rows: list[dict] = []
        self.waited_for: list[str] = []  # the outcomes whose answer waited for the entry's commit
        self.fail = fail

    async def write(self, row: dict) -> None:
        if self.fail:
            raise OSError("database unavailable")
        self.rows.append(row)
        self.waited_for.append(row["outcome"])

    def submit(self, row: dict) -> None:
        if not self.fail:
            self.rows.append(row)


class RecordingConnection:
    """Stands for the mutation's transaction: what was executed in it."""

    def __init__(self) -> None:
        self.executed: list[dict] = []

    async def execute(self, statement, row) -> None:  # noqa: ANN001
        self.executed.append(row)


def build_app(transaction: RecordingConnection) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(AuditMiddleware)
    app.state.runtime = SimpleNamespace(engine=object())

    @app.get("/v1/things/{thing_id}")
    @audited("read", "thing", resource_id="thing_id", patient_id="patient_id")
    async def get_thing(thing_id: str, tenant_id: TenantDep) -> ThingOut:
        if thing_id == "missing":
            raise Problem(404, "Thing not found", type_="not-found")
        if thing_id == "bug":
            raise RuntimeError("a bug")
        return ThingOut(id=thing_id, patient_id="P-9")

    @app.get("/v1/things")
    @audited("list", "thing", patient_id="patient_id")
    async def list_things(tenant_id: TenantDep, patient_id: str | None = None) -> list[ThingOut]:
        return []

    @app.post("/v1/things/{thing_id}/payments")
    @audited("post", "payment", resource_id="id", patient_id="patient_id")
    async def post_payment(thing_id: str, request: Request, tenant_id: TenantDep) -> ThingOut:
        created = ThingOut(id="payment-1", patient_id="P-9")
        await record_change(transaction, resource=created)
        if request.query_params.get("then") == "conflict":
            raise Problem(409, "Conflict", type_="conflict")
        return created

    @app.get("/v1/unaudited")
    async def unaudited(tenant_id: TenantDep) -> dict:
        return {"ok": True}

    return app


@pytest.fixture
def writer(monkeypatch) -> RecordingWriter:
    recorder = RecordingWriter()
    monkeypatch.setattr(recording, "audit_writer", lambda engine: recorder)
    return recorder


@pytest.fixture
def transaction() -> RecordingConnection:
    return RecordingConnection()


def served_like_uvicorn(app):
    """Each request in a task of its own, as an ASGI server runs them (so what one request binds
    in its context never reaches the next)."""
    async def serve(scope, receive, send):
        await asyncio.create_task(app(scope, receive, send))
    return serve


@pytest.fixture
async def client(transaction):
    transport = httpx.ASGITransport(app=served_like_uvicorn(build_app(transaction)), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers={"X-Tenant-Id": "practice-a"}) as http:
        yield http


async def test_a_read_is_recorded_with_its_route_caller_resource_patient_and_purpose(client, writer):
    response = await client.get("/v1/things/T-1", headers={"X-Purpose-Of-Use": "HPAYMT"})
    assert response.status_code == 200
    [row] = writer.rows
    assert {k: v for k, v in row.items() if k != "occurred_at"} == {
        "tenant_id": "practice-a", "actor": "anonymous", "client_id": "anonymous", "action": "read",
        "route": "GET /v1/things/{thing_id}", "resource_type": "thing", "resource_id": "T-1", "patient_id": "P-9",
        "outcome": "200", "purpose": "HPAYMT"}
    assert row["occurred_at"].tzinfo is not None


async def test_a_list_names_the_patient_it_was_filtered_by(client, writer):
    assert (await client.get("/v1/things", params={"patient_id": "P-3"})).status_code == 200
    assert [(r["action"], r["resource_id"], r["patient_id"]) for r in writer.rows] == [("list", None, "P-3")]


async def test_a_refused_read_is_recorded_with_its_status_without_holding_its_answer(client, writer):
    assert (await client.get("/v1/things/missing")).status_code == 404
    assert (await client.get("/v1/things/T-1")).status_code == 200
    assert [(r["resource_id"], r["outcome"], r["patient_id"]) for r in writer.rows] == [
        ("missing", "404", None), ("T-1", "200", "P-9")]
    assert writer.waited_for == ["200"]  # only what discloses waits for its entry


async def test_a_failing_handler_is_recorded_as_500(client, writer):
    assert (await client.get("/v1/things/bug")).status_code == 500
    assert [r["outcome"] for r in writer.rows] == ["500"]


async def test_an_invalid_purpose_of_use_is_a_400_naming_the_header_and_is_recorded(client, writer):
    response = await client.get("/v1/things/T-1", headers={"X-Purpose-Of-Use": "CURIOSITY"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"pointer": "/header/X-Purpose-Of-Use",
                                          "detail": "not an HL7 v3 PurposeOfUse code"}]
    assert "PHI" not in response.text
    assert [(r["outcome"], r["purpose"]) for r in writer.rows] == [("400", None)]


async def test_routes_not_declared_audited_and_requests_naming_no_practice_write_nothing(client, writer):
    assert (await client.get("/v1/unaudited")).status_code == 200
    assert (await client.get("/v1/things/T-1", headers={"X-Tenant-Id": ""})).status_code == 400
    assert writer.rows == []


async def test_a_read_whose_entry_cannot_be_written_discloses_nothing(client, writer):
    writer.fail = True
    response = await client.get("/v1/things/T-1")
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert response.json()["type"].endswith("/audit-unavailable")
    assert "PHI" not in response.text and "P-9" not in response.text


async def test_a_refusal_is_answered_even_when_its_entry_cannot_be_written(client, writer):
    writer.fail = True
    assert (await client.get("/v1/things/missing")).status_code == 404


async def test_a_change_is_recorded_in_its_own_transaction_once(client, writer, transaction):
    response = await client.post("/v1/things/T-1/payments", headers={"X-Purpose-Of-Use": "HPAYMT"})
    assert response.status_code == 200
    [row] = transaction.executed
    assert (row["action"], row["resource_type"], row["resource_id"], row["patient_id"], row["outcome"],
            row["route"], row["purpose"]) == ("post", "payment", "payment-1", "P-9", "ok",
                                              "POST /v1/things/{thing_id}/payments", "HPAYMT")
    assert writer.rows == []  # not recorded a second time after the answer


async def test_a_change_whose_request_then_failed_is_recorded_with_the_failure_too(client, writer, transaction):
    assert (await client.post("/v1/things/T-1/payments", params={"then": "conflict"})).status_code == 409
    assert [r["outcome"] for r in transaction.executed] == ["ok"]  # rolled back with the change, in a database
    assert [r["outcome"] for r in writer.rows] == ["409"]


async def test_record_change_outside_a_request_writes_nothing(transaction):
    await record_change(transaction, resource_id="x")
    assert transaction.executed == []


async def test_recorded_values_are_cut_to_identifiers(client, writer):
    assert (await client.get(f"/v1/things/{'x' * 500}")).status_code == 200
    assert (await client.get("/v1/things/T%00-1")).status_code == 200  # PostgreSQL text holds no NUL
    assert [r["resource_id"] for r in writer.rows] == ["x" * recording.MAX_VALUE_LENGTH, "T-1"]


def test_purpose_of_use_codes_are_hl7_purposeofuse_codes():
    assert {"TREAT", "HPAYMT", "HOPERAT", "ETREAT", "PATRQT", "PUBHLTH", "HRESCH"} <= PURPOSES_OF_USE
    assert purpose_of_use(None) is None and purpose_of_use("TREAT") == "TREAT"
    with pytest.raises(Problem) as refused:
        purpose_of_use("treat")  # codes are case-sensitive
    assert refused.value.status == 400
    assert "PurposeOfUse" not in PURPOSES_OF_USE  # the abstract root is not a purpose
