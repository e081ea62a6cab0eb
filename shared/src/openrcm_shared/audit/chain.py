"""The audit trail's hash chain: canonical encoding, sealing and verification (no I/O).

Each practice's entries in a service's database form one chain. Entry n carries
`prev_hash` = the hash of entry n-1 and `hash` = SHA-256 over the canonical encoding of its own
fields, its position and `prev_hash`. Changing an entry changes its hash; deleting or reordering
entries breaks the positions or the links; so any of these is found by recomputing the chain.

The chain starts from an anchor: position 0 and `GENESIS` (32 zero bytes) until retention prunes
the oldest entries, then the position and hash of the last entry pruned, so what remains still
verifies from its first entry on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

# Bumped if the encoding ever changes; it is part of every hash, so an entry can never be read
# under another version's rules.
ENCODING_VERSION = "openrcm-audit-v1"
GENESIS = bytes(32)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of audit_log as the chain sees it (chain fields None until sealed)."""

    id: int
    tenant_id: str
    occurred_at: datetime
    actor: str
    client_id: str | None
    action: str
    route: str | None
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: str
    purpose: str | None
    chain_seq: int | None = None
    prev_hash: bytes | None = None
    hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class ChainPoint:
    """A position in a practice's chain and the hash of the entry there (the anchor, or the head)."""

    seq: int
    hash: bytes


START = ChainPoint(0, GENESIS)


def _timestamp(moment: datetime) -> str:
    """UTC with microseconds, PostgreSQL's timestamptz precision, so a value read back encodes the same."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_encoding(entry: AuditEntry, seq: int, prev_hash: bytes) -> bytes:
    """The bytes hashed for an entry: a JSON array in fixed field order (strings, integers and
    nulls only, no whitespace, UTF-8), so every field has exactly one encoding and no two field
    lists encode alike."""
    fields = [ENCODING_VERSION, entry.id, entry.tenant_id, seq, _timestamp(entry.occurred_at), entry.actor,
              entry.client_id, entry.action, entry.route, entry.resource_type, entry.resource_id, entry.patient_id,
              entry.outcome, entry.purpose, prev_hash.hex()]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: AuditEntry, seq: int, prev_hash: bytes) -> bytes:
    """SHA-256 of the entry's canonical encoding at position `seq` after `prev_hash` (32 bytes)."""
    return hashlib.sha256(canonical_encoding(entry, seq, prev_hash)).digest()


def seal(entries: Iterable[AuditEntry], head: ChainPoint) -> tuple[list[AuditEntry], ChainPoint]:
    """Link unsealed entries, in the order given, after `head`; returns them sealed and the new head."""
    sealed = []
    for entry in entries:
        seq = head.seq + 1
        digest = entry_hash(entry, seq, head.hash)
        sealed.append(replace(entry, chain_seq=seq, prev_hash=head.hash, hash=digest))
        head = ChainPoint(seq, digest)
    return sealed, head


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first link that does not hold: which entry, what was expected there and what was found."""

    tenant_id: str
    entry_id: int | None  # None: the break is after the last entry (entries missing at the end)
    seq: int | None
    problem: str
    expected: str
    found: str

    def describe(self) -> str:
        where = f"entry {self.entry_id} (position {self.seq})" if self.entry_id is not None else "the chain's end"
        return (f"practice {self.tenant_id}: {where}: {self.problem}; expected {self.expected}, found {self.found}")


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying one practice's chain."""

    tenant_id: str
    verified: int  # entries whose links and hashes held, up to the first break
    unchained: int  # entries not sealed yet (the chainer seals them within about a second)
    anchor: ChainPoint
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


class ChainVerifier:
    """Recomputes a practice's chain from `anchor`, one sealed entry at a time in position order,
    and keeps the first broken link: a position skipped (entries deleted, or moved), a
    `prev_hash` that is not the previous entry's hash (reordered or deleted), a hash that is not
    the one recomputed (an edited field). With `head` (what the chainer last sealed), entries
    missing after the last one seen are a break too."""

    def __init__(self, tenant_id: str, *, anchor: ChainPoint = START, head: ChainPoint | None = None,
                 unchained: int = 0) -> None:
        self.tenant_id = tenant_id
        self.anchor = anchor
        self.head = head
        self.unchained = unchained
        self.verified = 0
        self.first_break: ChainBreak | None = None
        self._previous = anchor

    def check(self, entry: AuditEntry) -> bool:
        """Check the next entry; False once the chain is broken (later entries are not looked at)."""
        if self.first_break is None:
            self.first_break = _first_problem(entry, self._previous)
            if self.first_break is None:
                self._previous = ChainPoint(entry.chain_seq, entry.hash)
                self.verified += 1
        return self.first_break is None

    def report(self) -> ChainReport:
        if self.first_break is None and self.head is not None and self.head != self._previous:
            last = self._previous
            self.first_break = ChainBreak(
                self.tenant_id, None, None,
                "entries after the last one found are missing (the chain head records a later entry)",
                f"the last entry at position {self.head.seq} with hash {self.head.hash.hex()}",
                f"the last entry at position {last.seq} with hash {last.hash.hex()}")
        return ChainReport(self.tenant_id, self.verified, self.unchained, self.anchor, self.first_break)


def verify_chain(tenant_id: str, sealed: Iterable[AuditEntry], *, anchor: ChainPoint = START,
                 head: ChainPoint | None = None, unchained: int = 0) -> ChainReport:
    """Verify a practice's sealed entries, given in position order (see ChainVerifier)."""
    verifier = ChainVerifier(tenant_id, anchor=anchor, head=head, unchained=unchained)
    for entry in sealed:
        if not verifier.check(entry):
            break
    return verifier.report()


def _first_problem(entry: AuditEntry, previous: ChainPoint) -> ChainBreak | None:
    def broken(problem: str, expected: str, found: str) -> ChainBreak:
        return ChainBreak(entry.tenant_id, entry.id, entry.chain_seq, problem, expected, found)

    if entry.chain_seq != previous.seq + 1:
        return broken("not the next position: entries before it were deleted or moved",
                      f"position {previous.seq + 1}", f"position {entry.chain_seq}")
    if entry.prev_hash != previous.hash:
        return broken("its link (prev_hash) is not the previous entry's hash: entries deleted or reordered",
                      previous.hash.hex(), _hex(entry.prev_hash))
    recomputed = entry_hash(entry, entry.chain_seq, entry.prev_hash)
    if entry.hash != recomputed:
        return broken("its content does not match its hash: a field was changed", recomputed.hex(), _hex(entry.hash))
    return None


def _hex(value: bytes | None) -> str:
    return value.hex() if value is not None else "none"

