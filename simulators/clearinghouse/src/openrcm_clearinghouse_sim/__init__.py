"""Clearinghouse simulator: the external party between the claims service and the payers.

It takes 837 batches over HTTP, validates them with pyx12 as a real clearinghouse's front end
would, and answers asynchronously with a 999 per interchange and a 277CA per file, delivered as
signed Standard Webhooks. It lives outside `services/` because it stands in for someone else.
"""
