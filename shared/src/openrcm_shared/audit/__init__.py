"""The audit trail: who read PHI or moved money, in every service, tamper-evident.

- `audited(...)` declares a route audited; `AuditMiddleware` records its reads and refusals;
  `record_change(conn)` records a change inside the change's own transaction (recording);
- `AuditChainer` links each practice's entries into a SHA-256 hash chain and applies retention
  (chainer); `verify_database` recomputes every chain and names the first broken link
  (verification, chain);
- `audit_events_router` serves GET /v1/audit-events (api).
"""

from openrcm_shared.audit.recording import AuditMiddleware, audited, change_entry, record_change

__all__ = ["AuditMiddleware", "audited", "change_entry", "record_change"]
