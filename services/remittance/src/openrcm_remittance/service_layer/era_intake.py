"""From a stored 835 file to posted (or held) transaction sets.

1. The whole file is read once without touching the database: malformed X12 is refused before
   anything is posted, with the segment and element that are wrong (the file stays stored).
2. Each transaction set is attributed: to the practice that uploaded it, or — for a clearinghouse
   webhook, which names no practice — to the practice whose claims it pays (CLP01); its payer is
   REF*2U when the payer sends it, else the payer the matched claims were billed to, else TRN03.
3. The file is read again and each transaction set posted on its own, all or nothing.

A file holding a single transaction set (the usual ERA) is read once only: its one posting
transaction commits after the whole file, envelope trailers included, has been read, so a
malformed file still posts nothing and is refused the same way. This saves reading a large ERA
twice in the posting's process (about a tenth of its time).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain
from typing import IO
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_remittance.adapters.tables import expected_claims, remittance_files, remittances, unmatched_items
from openrcm_remittance.service_layer.era_posting import (
    CLAIM_BATCH, UNASSIGNED_TENANT, TransactionOutcome, TransactionTarget, drain, manual_matches, post_transaction,
)
from openrcm_remittance.service_layer.files import CHUNK_BYTES, spool_file
from openrcm_shared.leadership import holding_lock, object_lock
from openrcm_shared.messaging.errors import is_transient
from openrcm_shared.x12.reader import X12Error, X12Reader
from openrcm_shared.x12.remittance_835 import ClaimFragment, Remittance835, stream_835, stream_835_fragments

log = logging.getLogger(__name__)

SAMPLE_CLAIMS = 50
# Whoever posts a stored file holds this lock for it (see process_file).
FILE_LOCK_KIND = "remittance:file"
PAYER_ID_REFERENCE = "2U"  # 1000A REF*2U: payer identification number


@dataclass
class TransactionScan:
    header: Remittance835
    claim_count: int
    sample_patient_control_numbers: list[str]


@dataclass
class FileOutcome:
    file_id: UUID
    status: str  # processed | rejected
    transactions: list[TransactionOutcome]
    error: dict | None = None


def x12_error_detail(exc: X12Error) -> dict:
    return {"message": str(exc), "segment_number": exc.segment_number, "segment_id": exc.segment_id,
            "element_position": exc.element_position, "interchange_number": exc.interchange_number}


def scan_file(spool: IO[bytes]) -> list[TransactionScan]:
    """Read every transaction set once (raises X12Error at the first malformed segment)."""
    scans = []
    for stream in stream_835(spool):
        count, sample = 0, []
        for claim in stream.claims:
            count += 1
            if len(sample) < SAMPLE_CLAIMS:
                sample.append(claim.patient_control_number)
        scans.append(TransactionScan(stream.remittance, count, sample))
    return scans


async def _owners(engine: AsyncEngine, scan: TransactionScan, tenant_id: str | None) -> tuple[str, str | None]:
    """(tenant, the payer the sampled claims were billed to) for one transaction set."""
    query = sa.select(expected_claims.c.tenant_id, expected_claims.c.payer_id).where(
        expected_claims.c.patient_control_number.in_(scan.sample_patient_control_numbers))
    if tenant_id is not None:
        query = query.where(expected_claims.c.tenant_id == tenant_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all() if scan.sample_patient_control_numbers else []
    tenants = Counter(row.tenant_id for row in rows)
    owner = tenant_id or (tenants.most_common(1)[0][0] if tenants else UNASSIGNED_TENANT)
    payers = Counter(row.payer_id for row in rows if row.tenant_id == owner)
    return owner, payers.most_common(1)[0][0] if payers else None


async def _target(engine: AsyncEngine, scan: TransactionScan, tenant_id: str | None, file_id: UUID,
                  index: int) -> TransactionTarget:
    """Whose transaction set this is (the uploading practice, else the one whose claims it pays)
    and which payer paid it."""
    owner, billed_payer = await _owners(engine, scan, tenant_id)
    return TransactionTarget(tenant_id=owner, payer_id=payer_id_of(scan.header, billed_payer), file_id=file_id,
                             transaction_index=index)


def payer_id_of(header: Remittance835, billed_payer: str | None) -> str:
    declared = next((ref.value for ref in header.payer.references if ref.qualifier == PAYER_ID_REFERENCE), None)
    return declared or billed_payer or header.trace.payer_identifier or header.payer.name[:15]


async def claim_file(engine: AsyncEngine, file_id: UUID) -> bool:
    """Mark a stored file `processing` unless it is done. Call it holding the file's lock: a file
    still `processing` then is one whose poster died or failed part way, and is taken again."""
    async with engine.begin() as conn:
        claimed = await conn.execute(remittance_files.update().where(
            remittance_files.c.id == file_id, remittance_files.c.status.in_(UNFINISHED))
            .values(status="processing", claimed_at=datetime.now(timezone.utc)).returning(remittance_files.c.id))
        return claimed.first() is not None


UNFINISHED = ("received", "processing")


async def process_file(engine: AsyncEngine, file_id: UUID) -> FileOutcome | None:
    """Post every transaction set of a stored file; the file row records the outcome. None when
    another process is posting it or it is done.

    One process at a time posts a file: the one holding the file's advisory lock, on a connection
    kept open for the whole posting. The lock goes with that process's session, so a file whose
    poster was killed, or whose posting stopped on a database outage, is taken again by the next
    worker round or webhook retry, seconds later (a ten-minute lease used to leave such a file
    unposted, with its claims unpaid, for that long). What a posting committed before it stopped
    is not posted twice: each transaction set posts all or nothing and a payment already posted is
    skipped as a duplicate."""
    async with holding_lock(engine, object_lock(FILE_LOCK_KIND, file_id)) as taken:
        if not taken or not await claim_file(engine, file_id):
            return None
        return await _post_claimed_file(engine, file_id)


async def _post_claimed_file(engine: AsyncEngine, file_id: UUID) -> FileOutcome:
    try:
        try:
            return await _process_claimed_file(engine, file_id)
        except BrokenProcessPool:
            # A posting worker died mid-posting: that transaction rolled back and the pool is gone, so
            # the file is posted again here, in this process (what was committed before is skipped as
            # a duplicate payment).
            log.error("posting worker died; posting the file again in the service's process",
                      extra={"file_id": str(file_id)})
            return await _process_claimed_file(engine, file_id)
    except Exception as error:
        if is_transient(error):
            raise  # the database is away: the file stays `processing`, taken again once the lock is free
        # Not something a retry mends: say so on the file (never `processing` for ever); a re-upload
        # of the same bytes is taken again rather than answered as a duplicate of a failure.
        log.exception("posting a stored 835 file failed", extra={"file_id": str(file_id)})
        await _record(engine, file_id, "failed", [], {"error": type(error).__name__,
                                                      "detail": "posting failed unexpectedly; see the service log"})
        raise


async def _process_claimed_file(engine: AsyncEngine, file_id: UUID) -> FileOutcome:
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(remittance_files).where(remittance_files.c.id == file_id))).one()
    spool = await spool_file(engine, file_id)
    try:
        if await asyncio.to_thread(holds_one_transaction_set, spool):
            try:
                outcomes = [await _post_in_one_pass(engine, file_id, stored.tenant_id, spool)]
            except X12Error as exc:
                error = x12_error_detail(exc)
                await _record(engine, file_id, "rejected", [], error)
                return FileOutcome(file_id, "rejected", [], error)
            except _MoreThanOneTransactionSet:
                outcomes = None  # rolled back: post it the two-pass way below
            if outcomes is not None:
                await _record(engine, file_id, "processed", outcomes, None)
                return FileOutcome(file_id, "processed", outcomes)
            spool.seek(0)
        try:
            scans = await asyncio.to_thread(scan_file, spool)
        except X12Error as exc:
            error = x12_error_detail(exc)
            await _record(engine, file_id, "rejected", [], error)
            return FileOutcome(file_id, "rejected", [], error)
        spool.seek(0)
        outcomes = []
        # Second pass: the claims come as unparsed fragments, parsed where they are posted (worker
        # processes for a large ERA); the file is known to be well-formed by now.
        streams = stream_835_fragments(spool, CLAIM_BATCH)
        for index, scan in enumerate(scans):
            stream = await asyncio.to_thread(next, streams)
            target = await _target(engine, scan, stored.tenant_id, file_id, index)
            outcomes.append(await post_transaction(engine, target, stream.remittance, stream.claims))
    finally:
        spool.close()
    await _record(engine, file_id, "processed", outcomes, None)
    return FileOutcome(file_id, "processed", outcomes)


_MATCH_SPAN = 40  # longest "~ ISA*" the count looks for, blanks between segments included


class _MoreThanOneTransactionSet(Exception):
    """The one-pass path met a second transaction set the quick count did not see."""


def holds_one_transaction_set(spool: IO[bytes]) -> bool:
    """True when the file looks like one interchange holding one transaction set, by counting the
    segments that start with ST and ISA (a terminator cannot occur inside an element, so "~ST*"
    only starts a segment). A quick look, not a parse: anything unusual answers False and the
    two-pass path reads the file; a second transaction set it missed is found while posting, which
    then starts over on the two-pass path. The spool is rewound."""
    spool.seek(0)
    reader = X12Reader(spool)
    try:
        next(reader.runs())  # the first ISA, read and checked: its delimiters
    except (X12Error, StopIteration):
        spool.seek(0)
        return False
    separator, terminator = reader.delimiters.element.encode(), reader.delimiters.segment.encode()
    starts = re.compile(re.escape(terminator) + rb"\s{0,32}(ST|ISA)" + re.escape(separator))
    counts = {b"ST": 0, b"ISA": 1}
    spool.seek(0)
    pending = b""
    while chunk := spool.read(CHUNK_BYTES):
        text = pending + chunk
        settled = len(text) - _MATCH_SPAN  # a match starting before this cannot change with more input
        for match in starts.finditer(text):
            if match.start() >= settled:
                break
            counts[match.group(1)] += 1
        pending = text[max(settled, 0):]
    for match in starts.finditer(pending):
        counts[match.group(1)] += 1
    spool.seek(0)
    return counts == {b"ST": 1, b"ISA": 1}


def _first_claims(fragment: ClaimFragment | None) -> list[str]:
    """CLP01 of the first claims of a fragment (to attribute the transaction set)."""
    if fragment is None:
        return []
    clp = "CLP" + fragment.delimiters.element
    return [piece.split(fragment.delimiters.element)[1]
            for piece in fragment.text.split(fragment.delimiters.segment, SAMPLE_CLAIMS * 40)
            if piece.startswith(clp)][:SAMPLE_CLAIMS]


async def _post_in_one_pass(engine: AsyncEngine, file_id: UUID, tenant_id: str | None,
                            spool: IO[bytes]) -> TransactionOutcome:
    """Attribute and post the file's one transaction set while reading it; raises X12Error (nothing
    posted) if any of the file is malformed, its trailers included."""
    streams = stream_835_fragments(spool, CLAIM_BATCH)
    stream = await asyncio.to_thread(next, streams)
    first = await asyncio.to_thread(next, stream.claims, None)
    scan = TransactionScan(stream.remittance, first.claim_count if first else 0, _first_claims(first))
    target = await _target(engine, scan, tenant_id, file_id, 0)
    claims = chain((first,), stream.claims) if first is not None else stream.claims

    async def rest_of_file_is_well_formed() -> None:
        if await asyncio.to_thread(next, streams, None) is not None:
            raise _MoreThanOneTransactionSet()

    return await post_transaction(engine, target, stream.remittance, claims, before_commit=rest_of_file_is_well_formed)


async def _record(engine: AsyncEngine, file_id: UUID, status: str, outcomes: list[TransactionOutcome],
                  error: dict | None) -> None:
    async with engine.begin() as conn:
        await conn.execute(remittance_files.update().where(remittance_files.c.id == file_id).values(
            status=status, processed_at=datetime.now(timezone.utc), error=error,
            result=[outcome.as_json() for outcome in outcomes]))


async def reprocess_remittance(engine: AsyncEngine, remittance_id: UUID) -> TransactionOutcome:
    """Post a held transaction set again from its stored file, with the manual matches made since.
    A webhook ERA whose practice was unknown (none of its claims was) is attributed again first."""
    async with engine.connect() as conn:
        held = (await conn.execute(sa.select(remittances).where(remittances.c.id == remittance_id))).one()
        manual = await manual_matches(conn, remittance_id)
    spool = await spool_file(engine, held.file_id)
    try:
        tenant_id, payer_id = held.tenant_id, held.payer_id
        if tenant_id == UNASSIGNED_TENANT:
            tenant_id, payer_id = await _attribute_again(engine, held, spool)
        streams = stream_835_fragments(spool, CLAIM_BATCH)
        for _ in range(held.transaction_index):
            drain((await asyncio.to_thread(next, streams)).claims)
        stream = await asyncio.to_thread(next, streams)
        target = TransactionTarget(tenant_id=tenant_id, payer_id=payer_id, file_id=held.file_id,
                                   transaction_index=held.transaction_index, reprocess_id=remittance_id,
                                   manual=manual)
        return await post_transaction(engine, target, stream.remittance, stream.claims)
    finally:
        spool.close()


async def _attribute_again(engine: AsyncEngine, held, spool) -> tuple[str, str]:
    """The practice whose claims the held ERA pays, now that they may be known; the row and its
    review items move to it. The spool is rewound for the caller."""
    scan = (await asyncio.to_thread(scan_file, spool))[held.transaction_index]
    spool.seek(0)
    owner, billed_payer = await _owners(engine, scan, None)
    if owner == UNASSIGNED_TENANT:
        return held.tenant_id, held.payer_id
    payer_id = payer_id_of(scan.header, billed_payer)
    async with engine.begin() as conn:
        taken = (await conn.execute(sa.select(remittances.c.id).where(
            remittances.c.tenant_id == owner, remittances.c.payer_id == payer_id,
            remittances.c.trace_number == held.trace_number,
            remittances.c.payment_amount == held.payment_amount))).first()
        if taken is not None:  # the practice has this payment already: it stays here, held, for a person
            return held.tenant_id, held.payer_id
        await conn.execute(remittances.update().where(remittances.c.id == held.id)
                           .values(tenant_id=owner, payer_id=payer_id))
        await conn.execute(unmatched_items.update().where(unmatched_items.c.remittance_id == held.id)
                           .values(tenant_id=owner))
    return owner, payer_id


async def held_unassigned_ids(engine: AsyncEngine, limit: int = 20) -> list[UUID]:
    """Held ERAs no practice could be told of yet (a webhook ERA for claims nobody knew)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(remittances.c.id).where(
            remittances.c.tenant_id == UNASSIGNED_TENANT, remittances.c.status == "held")
            .order_by(remittances.c.received_at).limit(limit))
        return [row.id for row in rows]


async def attribute_and_post(engine: AsyncEngine, remittance_id: UUID) -> TransactionOutcome | None:
    """Attribute a held unassigned ERA to the practice whose claims it now pays and post it again;
    None when its claims are still unknown (it stays held, unassigned). No practice's user can
    select the reserved `unassigned` practice, so this is how such an ERA reaches its practice."""
    async with engine.connect() as conn:
        held = (await conn.execute(sa.select(remittances).where(remittances.c.id == remittance_id))).one()
    if held.tenant_id != UNASSIGNED_TENANT or held.file_id is None:
        return None
    spool = await spool_file(engine, held.file_id)
    try:
        owner, _ = await _attribute_again(engine, held, spool)
    finally:
        spool.close()
    if owner == UNASSIGNED_TENANT:
        return None
    return await reprocess_remittance(engine, remittance_id)


async def held_for_claims_now_known(engine: AsyncEngine, limit: int = 20) -> list[UUID]:
    """Held ERAs of a practice with an unmatched claim (no billed claim had its CLP01) that the
    practice's billed claims now include: the ERA came before its claims' ClaimSubmitted reached
    this service (a clearinghouse quicker than our event stream, or the stream catching up after
    an outage), so posting it again matches them by the same rule as the first time. Once posted
    again the item is gone (matched, or the ERA posted), so an ERA is not found again for it."""
    query = (sa.select(unmatched_items.c.remittance_id)
             .join(remittances, sa.and_(remittances.c.id == unmatched_items.c.remittance_id,
                                        remittances.c.status == "held"))
             .join(expected_claims, sa.and_(
                 expected_claims.c.tenant_id == unmatched_items.c.tenant_id,
                 expected_claims.c.patient_control_number == unmatched_items.c.patient_control_number))
             .where(unmatched_items.c.status == "open", unmatched_items.c.kind == "claim",
                    unmatched_items.c.tenant_id != UNASSIGNED_TENANT)
             .group_by(unmatched_items.c.remittance_id)
             .order_by(sa.func.min(unmatched_items.c.created_at)).limit(limit))
    async with engine.connect() as conn:
        return [row.remittance_id for row in await conn.execute(query)]


async def pending_file_ids(engine: AsyncEngine, limit: int = 50) -> list[UUID]:
    """Files stored but not posted yet: webhook deliveries whose request died, and files whose
    posting stopped part way (the poster killed, the database away). Files never tried come
    first; one being posted right now is skipped by `process_file` (its lock is held)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(remittance_files.c.id)
                                  .where(remittance_files.c.status.in_(UNFINISHED))
                                  .order_by(remittance_files.c.status.desc(), remittance_files.c.received_at)
                                  .limit(limit))
        return [row.id for row in rows]

