"""The mailbox reconciler: what it takes, what it leaves to the webhook, and where it resumes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from openrcm_shared.clearinghouse_mailbox import MailboxDocument, MailboxReconciler

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


class ListedMailbox:
    """A clearinghouse mailbox as a list (the order documents were produced in)."""

    def __init__(self, documents: list[tuple[str, str, timedelta]]) -> None:
        self.documents = [MailboxDocument(id=id_, kind=kind, created_at=NOW - age, cursor=position + 1)
                          for position, (id_, kind, age) in enumerate(documents)]
        self.fetched: list[str] = []

    async def list(self, kinds, cursor, limit):
        return [d for d in self.documents[cursor:] if d.kind in kinds][:limit]

    async def fetch(self, document_id):
        self.fetched.append(document_id)
        return f"X12 of {document_id}".encode()


class Receiver:
    def __init__(self, have: set[str] = frozenset(), fail_on: str | None = None) -> None:
        self.have = set(have)
        self.fail_on = fail_on
        self.received: list[str] = []

    async def known(self, ids):
        return {id_ for id_ in ids if id_ in self.have}

    async def receive(self, document, body):
        if document.id == self.fail_on:
            raise ConnectionError("database away")
        assert body == f"X12 of {document.id}".encode()
        self.have.add(document.id)
        self.received.append(document.id)


def reconciler(mailbox, receiver, kinds=("835",), **options):
    return MailboxReconciler(mailbox, kinds, known=receiver.known, receive=receiver.receive,
                             settle_seconds=60, **options)


async def test_takes_only_what_the_receiver_lacks_and_leaves_young_documents_to_their_webhook():
    mailbox = ListedMailbox([("b1.999.1", "999", timedelta(minutes=9)), ("b1.835.1", "835", timedelta(minutes=8)),
                             ("b2.835.1", "835", timedelta(minutes=7)), ("b3.835.1", "835", timedelta(seconds=10)),
                             ("b4.835.1", "835", timedelta(minutes=6))])
    receiver = Receiver(have={"b1.835.1"})
    work = reconciler(mailbox, receiver)
    assert await work.run_once(NOW) == 1
    assert receiver.received == ["b2.835.1"] and mailbox.fetched == ["b2.835.1"]  # no 999, nothing it had
    assert work.cursor == 3  # waits at the young one, and so at everything after it

    # Its webhook never came: once it has settled, the next round takes it and the one after it.
    assert await work.run_once(NOW + timedelta(minutes=2)) == 2
    assert receiver.received == ["b2.835.1", "b3.835.1", "b4.835.1"] and work.cursor == 5
    assert await work.run_once(NOW + timedelta(minutes=3)) == 0 and mailbox.fetched[-1] == "b4.835.1"


async def test_a_failed_take_is_tried_again_on_the_next_round():
    mailbox = ListedMailbox([("b1.835.1", "835", timedelta(minutes=9)), ("b2.835.1", "835", timedelta(minutes=8))])
    receiver = Receiver(fail_on="b2.835.1")
    work = reconciler(mailbox, receiver)
    with pytest.raises(ConnectionError):
        await work.run_once(NOW)
    assert receiver.received == ["b1.835.1"] and work.cursor == 1
    receiver.fail_on = None
    assert await work.run_once(NOW) == 1 and receiver.received == ["b1.835.1", "b2.835.1"]


async def test_pages_through_a_long_mailbox_and_never_takes_documents_past_the_age_limit():
    documents = [(f"b{n}.835.1", "835", timedelta(days=40 - n)) for n in range(30)]
    mailbox = ListedMailbox(documents)
    receiver = Receiver()
    work = reconciler(mailbox, receiver, page=4, max_age=timedelta(days=30))
    assert await work.run_once(NOW) == 20  # ages 30 days to 11 days: b10 .. b29
    assert receiver.received == [f"b{n}.835.1" for n in range(10, 30)] and work.cursor == 30
