"""The rules, one module per area; importing this package registers them, in this order."""

from openrcm_claims.domain.scrubber.rules import (  # noqa: F401  (imported to register)
    required, providers, diagnoses, lines, edits, payer, institutional, coordination, eligibility,
)
