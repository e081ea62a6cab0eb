"""HTTP conventions shared by every service: problem+json, tenancy, idempotency, pagination, and the
checks on what comes in (inbound: body bounds, JSON depth, NUL; rate_limits; bounds for integers)."""
