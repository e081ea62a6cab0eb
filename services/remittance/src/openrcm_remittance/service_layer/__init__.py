"""Use cases of the remittance service."""

# CloudEvents `source` of every event this service publishes.
SOURCE = "/openrcm/remittance"
