"""The audit trail's hash chain: one encoding per entry, and every edit, deletion and reordering found."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta, timezone

from openrcm_shared.audit.chain import (
    GENESIS, START, AuditEntry, ChainPoint, canonical_encoding, entry_hash, seal, verify_chain,
)

PRACTICE = "practice-a"
MOMENT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=timezone.utc)


def entry(entry_id: int, **changes) -> AuditEntry:
    fields = dict(id=entry_id, tenant_id=PRACTICE, occurred_at=MOMENT + timedelta(seconds=entry_id),
                  actor="user-7", client_id="billing-portal", action="read", route="GET /v1/claims/{claim_id}",
                  resource_type="claim", resource_id=f"claim-{entry_id}", patient_id="P-1", outcome="200",
                  purpose="HPAYMT")
    return AuditEntry(**{**fields, **changes})


def sealed_chain(count: int = 5) -> tuple[list[AuditEntry], ChainPoint]:
    return seal([entry(n) for n in range(1, count + 1)], START)


def test_the_canonical_encoding_is_a_fixed_json_array_of_every_field():
    encoded = canonical_encoding(entry(1, client_id=None, purpose=None), 4, bytes.fromhex("ab" * 32))
    assert encoded == (
        '["openrcm-audit-v1",1,"practice-a",4,"2026-12-01T09:30:16.123456Z","user-7",null,"read",'
        '"GET /v1/claims/{claim_id}","claim","claim-1","P-1","200",null,"' + "ab" * 32 + '"]').encode()
    assert entry_hash(entry(1, client_id=None, purpose=None), 4, bytes.fromhex("ab" * 32)) == \
        hashlib.sha256(encoded).digest()


def test_the_same_moment_in_another_time_zone_encodes_alike():
    eastern = timezone(timedelta(hours=-5))
    assert canonical_encoding(entry(1, occurred_at=MOMENT.astimezone(eastern)), 1, GENESIS) == \
        canonical_encoding(entry(1, occurred_at=MOMENT), 1, GENESIS)


def test_no_two_field_lists_encode_alike():
    # A separator inside a value must not make two different entries hash alike.
    one = entry(1, actor="a", client_id="b,c")
    other = entry(1, actor="a,b", client_id="c")
    assert canonical_encoding(one, 1, GENESIS) != canonical_encoding(other, 1, GENESIS)
    assert canonical_encoding(entry(1, purpose=None), 1, GENESIS) != \
        canonical_encoding(entry(1, purpose="null"), 1, GENESIS)


def test_sealing_links_each_entry_to_the_one_before():
    chain, head = sealed_chain(3)
    assert [e.chain_seq for e in chain] == [1, 2, 3]
    assert chain[0].prev_hash == GENESIS
    assert chain[1].prev_hash == chain[0].hash and chain[2].prev_hash == chain[1].hash
    assert head == ChainPoint(3, chain[2].hash)
    report = verify_chain(PRACTICE, chain, head=head)
    assert report.intact and report.verified == 3


def test_sealing_continues_a_chain_from_its_head():
    first, head = sealed_chain(2)
    more, new_head = seal([entry(3), entry(4)], head)
    assert [e.chain_seq for e in more] == [3, 4] and more[0].prev_hash == first[1].hash
    assert verify_chain(PRACTICE, first + more, head=new_head).intact


def test_an_edited_entry_is_named_with_the_hash_expected_and_found():
    chain, head = sealed_chain()
    edited = dataclasses.replace(chain[2], patient_id="P-2")
    report = verify_chain(PRACTICE, [*chain[:2], edited, *chain[3:]], head=head)
    assert not report.intact and report.verified == 2
    broken = report.first_break
    assert (broken.entry_id, broken.seq, broken.tenant_id) == (3, 3, PRACTICE)
    assert "content" in broken.problem
    assert broken.found == chain[2].hash.hex()
    assert broken.expected == entry_hash(edited, 3, chain[1].hash).hex()
    assert "entry 3 (position 3)" in broken.describe()


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link():
    chain, head = sealed_chain()
    forged = dataclasses.replace(chain[1], outcome="404")
    forged = dataclasses.replace(forged, hash=entry_hash(forged, 2, forged.prev_hash))
    report = verify_chain(PRACTICE, [chain[0], forged, *chain[2:]], head=head)
    assert report.first_break.entry_id == 3 and "prev_hash" in report.first_break.problem
    assert report.first_break.expected == forged.hash.hex() and report.first_break.found == chain[1].hash.hex()


def test_a_deleted_entry_is_a_missing_position():
    chain, head = sealed_chain()
    report = verify_chain(PRACTICE, [*chain[:2], *chain[3:]], head=head)
    assert report.first_break.entry_id == 4
    assert (report.first_break.expected, report.first_break.found) == ("position 3", "position 4")


def test_entries_deleted_at_the_end_are_found_against_the_head():
    chain, head = sealed_chain()
    report = verify_chain(PRACTICE, chain[:3], head=head)
    assert report.verified == 3 and report.first_break.entry_id is None
    assert "position 5" in report.first_break.expected and "position 3" in report.first_break.found
    assert verify_chain(PRACTICE, chain[:3]).intact  # without the head, nothing says more existed


def test_reordered_entries_are_found():
    chain, head = sealed_chain()
    # Two entries swap places (their positions swapped too, so the positions still run 1..5).
    swapped = [chain[0], dataclasses.replace(chain[2], chain_seq=2), dataclasses.replace(chain[1], chain_seq=3),
               *chain[3:]]
    report = verify_chain(PRACTICE, swapped, head=head)
    assert report.first_break.entry_id == 3 and "prev_hash" in report.first_break.problem


def test_after_pruning_the_chain_verifies_from_its_anchor_and_only_from_it():
    chain, head = sealed_chain(6)
    kept = chain[4:]
    anchor = ChainPoint(4, chain[3].hash)  # the last entry pruned
    assert verify_chain(PRACTICE, kept, anchor=anchor, head=head).intact
    assert not verify_chain(PRACTICE, kept, head=head).intact  # from the genesis, entries are missing
    forged_anchor = ChainPoint(4, chain[2].hash)
    report = verify_chain(PRACTICE, kept, anchor=forged_anchor, head=head)
    assert report.first_break.entry_id == 5 and "prev_hash" in report.first_break.problem
    # Pruning one entry more than the anchor says is a missing position.
    assert verify_chain(PRACTICE, chain[5:], anchor=anchor, head=head).first_break.entry_id == 6


def test_unchained_entries_are_reported_apart():
    chain, head = sealed_chain(2)
    report = verify_chain(PRACTICE, chain, head=head, unchained=3)
    assert report.intact and (report.verified, report.unchained) == (2, 3)
