"""What the claims service prunes by age beside the shared tables (openrcm_shared.retention)."""

from openrcm_shared.retention import RetentionRule, older_rows

# The clearinghouse's webhook deliveries, stored raw before they are acknowledged: once applied
# (processed, or failed as malformed) they are evidence only; the claims keep what they changed.
# One not yet applied (received) is never pruned. Default 90 days
# (OPENRCM_RETENTION_CLEARINGHOUSE_DELIVERIES_DAYS).
CLEARINGHOUSE_DELIVERIES = RetentionRule(
    "clearinghouse_deliveries", 90,
    older_rows("clearinghouse_deliveries", "received_at", "status IN ('processed', 'failed')"))
