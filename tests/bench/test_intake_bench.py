"""The intake benchmark's tooling, without a stack: every form's requests are unique and its
answers' claims counted, vegeta's results read back as the Python generator's records (and a real
vegeta attack on a loopback server, when vegeta is installed), the install hint when it is not."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from bench.forms import FORMS, intake_form
from bench.intake import RunSpec, summarize_run
from bench.load import Window
from bench.vegeta import (
    INSTALL_HINT, Target, VegetaMissing, attack, exchange_of, find_vegeta, read_attack, write_targets,
)


@pytest.mark.parametrize("name", FORMS)
def test_every_request_of_a_form_is_unique(name):
    form = intake_form(name, batch_size=3)
    requests = [form.request(n) for n in range(20)]
    assert len({r.body for r in requests}) == 20
    if form.keyed:
        assert len({r.headers["Idempotency-Key"] for r in requests}) == 20
    else:
        assert "Idempotency-Key" not in requests[0].headers


def test_a_bundle_names_each_claims_own_parties():
    bundle = json.loads(intake_form("fhir-bundle", batch_size=3).request(0).body)
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(urls) == len(set(urls))
    claims = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim"]
    assert len(claims) == 3
    patients = {claim["patient"]["reference"] for claim in claims}
    assert len(patients) == 3 and all(any(url.endswith(p) for url in urls) for p in patients)


def test_claims_are_counted_from_each_forms_answer():
    answers = {
        "json": (201, {"id": "c1"}),
        "fhir-claim": (201, {"resourceType": "ClaimResponse", "request": {"reference": "Claim/c1"}}),
        "fhir-bundle": (200, {"entry": [{"response": {"status": "201 Created", "location": "Claim/c1"}},
                                        {"response": {"status": "422 Unprocessable Entity"}}]}),
        "batch": (200, {"results": [{"status": 201, "claim": {"id": "c1"}}, {"status": 409}]}),
    }
    for name, (status, answer) in answers.items():
        assert intake_form(name, 2).created(status, json.dumps(answer).encode()) == ["c1"], name
    assert intake_form("json", 2).created(503, b'{"id": "c1"}') == []


def _vegeta_result(sent: str, latency_ns: int, code: int, body: bytes = b"", error: str = "") -> dict:
    return {"timestamp": sent, "latency": latency_ns, "code": code, "error": error,
            "body": base64.b64encode(body).decode()}


def test_a_vegeta_result_becomes_an_exchange_timed_from_its_send():
    ok = exchange_of(0, _vegeta_result("2026-12-07T00:00:01.5Z", 250_000_000, 201, b'{"id": "c1"}'))
    assert (ok.status, ok.error, ok.body, round(ok.latency, 3)) == (201, None, b'{"id": "c1"}', 0.25)
    refused = exchange_of(1, _vegeta_result("2026-12-07T00:00:01Z", 1, 503, b"{}", "503 Service Unavailable"))
    assert (refused.status, refused.error) == (503, None)  # the status says it
    reset = exchange_of(2, _vegeta_result("2026-12-07T00:00:01Z", 1, 0, error=(
        'Post "http://127.0.0.1:28101/v1/encounters": read tcp 127.0.0.1:53379->127.0.0.1:28101: connection reset')))
    other = exchange_of(3, _vegeta_result("2026-12-07T00:00:01Z", 1, 0, error=(
        'Post "http://127.0.0.1:28101/v1/encounters": read tcp 127.0.0.1:41000->127.0.0.1:28101: connection reset')))
    assert reset.status is None and reset.error == other.error  # one kind, whatever the connection


def test_a_batch_with_refused_claims_counts_them_as_errors():
    form = intake_form("batch", 2)
    both = json.dumps({"results": [{"status": 201, "claim": {"id": "a"}}, {"status": 201, "claim": {"id": "b"}}]})
    one = json.dumps({"results": [{"status": 201, "claim": {"id": "c"}}, {"status": 422}]})
    exchanges = [exchange_of(n, _vegeta_result(f"2026-12-07T00:00:0{n}Z", 1000, 200, body.encode()))
                 for n, body in enumerate([both, one])]
    result = summarize_run(RunSpec("t", "open", 2, 2, rate=2, form="batch"), form, exchanges,
                           Window(exchanges[0].due, exchanges[-1].finished, exchanges[-1].started))
    assert (result["created"], result["claims_offered"], result["errors"]) == (3, 4, 1)
    assert result["errors_by_kind"] == {"claims refused inside a taken request": 1}


def test_without_vegeta_the_benchmark_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOBIN", raising=False)
    monkeypatch.delenv("GOPATH", raising=False)
    with pytest.raises(VegetaMissing) as missing:
        find_vegeta()
    assert str(missing.value) == INSTALL_HINT
    assert "go install github.com/tsenart/vegeta/v12@v12.13.0" in INSTALL_HINT


async def test_vegeta_sends_every_target_once_with_its_own_body_and_headers(tmp_path: Path):
    try:
        vegeta = find_vegeta()
    except VegetaMissing:
        pytest.skip("vegeta is not installed")
    seen: list[tuple[bytes, str]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: one request after another on the connection
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
            body = await reader.readexactly(int(headers["Content-Length"]))
            seen.append((body, headers["Idempotency-Key"]))
            reply = b'{"id": "' + body + b'"}'
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(reply)).encode() + b"\r\n\r\n" + reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        targets = [Target("POST", f"http://127.0.0.1:{port}/v1/encounters", f"c{n}".encode(),
                          {"Idempotency-Key": f"k{n}", "Content-Type": "application/json"}) for n in range(20)]
        write_targets(tmp_path / "targets", targets)
        async with asyncio.timeout(30):
            await attack(vegeta, tmp_path / "targets", tmp_path / "results.bin", rate=40, requests=20, timeout=5,
                         connections=4)
            exchanges, window, report = await read_attack(vegeta, tmp_path / "results.bin")
    finally:
        server.close()
        await server.wait_closed()
    assert sorted(seen) == sorted((f"c{n}".encode(), f"k{n}") for n in range(20))
    assert [e.status for e in exchanges] == [201] * 20
    assert sorted(json.loads(e.body)["id"] for e in exchanges) == sorted(f"c{n}" for n in range(20))
    # vegeta's own report also counts the hits that found no target left (no request was made).
    assert report["requests"] >= 20 and 0.3 < window.seconds < 5
