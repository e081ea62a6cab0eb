"""Clearinghouse simulator: the external party between the claims service and the payers.

It takes 837 batches over HTTP, validates them with pyx12 as a real clearinghouse's front end
would, and answers asynchronously with a 999 per interchange and a 277CA per file, delivered as
signed Standard Webhooks to the claims service. It also plays the payers: claims the 277CA
accepted are adjudicated by configurable rules (adjudication_rules.py, adjudication.py) and paid in
835s (remittance_advice.py) delivered the same way to the remittance service. It lives outside
`services/` because it stands in for someone else.

Environment (settings.py): CLEARINGHOUSE_WEBHOOK_URL, CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL,
CLEARINGHOUSE_WEBHOOK_SECRETS, CLEARINGHOUSE_RULES_FILE, CLEARINGHOUSE_ADJUDICATION_RULES_FILE,
CLEARINGHOUSE_ADJUDICATION_DELAY_SECONDS, CLEARINGHOUSE_DELIVERY_*.
"""
