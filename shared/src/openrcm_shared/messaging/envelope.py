"""CloudEvents 1.0 in Kafka binary content mode.

The record value is the event data (JSON) alone; the attributes travel as headers prefixed
`ce_` (CloudEvents Kafka protocol binding, section 3.2). Extensions used here:
`ce_tenantid` (the practice the event belongs to), `ce_correlationid` and `ce_causationid`.
W3C `traceparent` carries the OpenTelemetry context across services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from uuid import UUID

from openrcm_shared.ids import uuid7

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """A record that is not a valid CloudEvent (missing or malformed required attributes)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    id: UUID
    type: str
    source: str
    subject: str
    time: datetime
    tenant_id: str
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    extra_headers: tuple[tuple[str, bytes], ...] = field(default=())

    @staticmethod
    def new(*, type: str, source: str, subject: str, tenant_id: str, correlation_id: str | None = None,
            causation_id: str | None = None, traceparent: str | None = None) -> "Envelope":
        event_id = uuid7()  # time-ordered: the outbox's event_id index grows at its end
        return Envelope(
            id=event_id, type=type, source=source, subject=subject, time=datetime.now(timezone.utc),
            tenant_id=tenant_id, correlation_id=correlation_id or str(event_id), causation_id=causation_id,
            traceparent=traceparent,
        )

    def to_headers(self) -> list[tuple[str, bytes]]:
        return [(name, value.encode()) for name, value in self.header_values().items()] + list(self.extra_headers)

    def header_values(self) -> dict[str, str]:
        """The CloudEvents headers as text, without `extra_headers` (what the outbox stores)."""
        headers = {
            "ce_specversion": SPEC_VERSION, "ce_id": str(self.id), "ce_source": self.source, "ce_type": self.type,
            "ce_time": self.time.isoformat(), "ce_subject": self.subject, "ce_tenantid": self.tenant_id,
            "ce_correlationid": self.correlation_id, "content-type": CONTENT_TYPE,
        }
        if self.causation_id:
            headers["ce_causationid"] = self.causation_id
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        return headers

    @staticmethod
    def from_headers(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> "Envelope":
        values = {name: raw.decode("utf-8", "replace") for name, raw in headers if raw is not None}
        missing = [name for name in ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_tenantid") if name not in values]
        if missing:
            raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
        if values["ce_specversion"] != SPEC_VERSION:
            raise EnvelopeError(f"unsupported ce_specversion {values['ce_specversion']!r}")
        try:
            event_id = UUID(values["ce_id"])
            time = datetime.fromisoformat(values["ce_time"]) if "ce_time" in values else datetime.now(timezone.utc)
        except ValueError as exc:
            raise EnvelopeError(f"malformed ce_id or ce_time: {exc}") from None
        return Envelope(
            id=event_id, type=values["ce_type"], source=values["ce_source"], subject=values.get("ce_subject", ""),
            time=time, tenant_id=values["ce_tenantid"], correlation_id=values.get("ce_correlationid", values["ce_id"]),
            causation_id=values.get("ce_causationid"), traceparent=values.get("traceparent"),
        )


def header(headers, name: str) -> str | None:
    """One header's value as text, or None."""
    for key, raw in headers or ():
        if key == name and raw is not None:
            return raw.decode("utf-8", "replace")
    return None
