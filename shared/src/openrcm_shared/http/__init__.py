"""HTTP conventions shared by every service: problem+json, tenancy, idempotency, pagination."""
