"""Messaging plumbing: CloudEvents envelope, transactional outbox and relay, inbox consumer, DLQ."""
