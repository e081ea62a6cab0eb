"""Sending an appeal to the payer: a port (`PayerAppeals`) and its adapter for a clearinghouse's
appeal endpoint over HTTP (the simulator's `POST /v1/appeals` locally).

The appeal id is the idempotency key, so a retried submission (a timeout, a repeated request) is one
appeal at the payer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class AppealSubmission:
    appeal_id: str
    payer_id: str
    patient_control_number: str
    payer_claim_control_number: str | None
    level: str
    category: str
    packet_pdf: bytes


@dataclass(frozen=True)
class PayerReceipt:
    payer_reference: str


class PayerUnavailable(Exception):
    """The payer's endpoint did not take the appeal (a 502 to the caller; nothing was recorded)."""


class PayerAppeals(Protocol):
    async def submit(self, submission: AppealSubmission) -> PayerReceipt: ...


class HttpPayerAppeals:
    def __init__(self, base_url: str, *, timeout_seconds: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    async def submit(self, submission: AppealSubmission) -> PayerReceipt:
        body = {"appeal_id": submission.appeal_id, "payer_id": submission.payer_id,
                "patient_control_number": submission.patient_control_number,
                "payer_claim_control_number": submission.payer_claim_control_number,
                "level": submission.level, "category": submission.category,
                "packet_pdf": base64.b64encode(submission.packet_pdf).decode("ascii")}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                answer = await client.post(f"{self.base_url}/v1/appeals", json=body,
                                           headers={"Idempotency-Key": submission.appeal_id})
        except httpx.HTTPError as exc:
            raise PayerUnavailable(type(exc).__name__) from None
        if answer.status_code not in (200, 201, 202):
            raise PayerUnavailable(f"HTTP {answer.status_code}")
        return PayerReceipt(payer_reference=answer.json()["appeal_reference"])
