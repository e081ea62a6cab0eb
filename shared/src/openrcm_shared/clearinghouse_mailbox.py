"""Taking from the clearinghouse's mailbox what its webhooks did not deliver.

Acknowledgements (999, 277CA) and ERAs (835) normally arrive by webhook. A clearinghouse also keeps
every document it produced in a mailbox its customers list and download (the reports mailbox or
outbound folder every clearinghouse offers beside push delivery). A webhook the sender gave up on
(the receiver down longer than the sender's retry budget, a 4xx from a bug since fixed) would
otherwise leave a 277CA unapplied or an ERA unposted until a person found the claim on the A/R
follow-up list. So each receiving service also lists the kinds it takes, every few minutes, and
takes any document it does not have through the same path as the webhook, under the document's
webhook id: a document that arrives both ways is taken once.

Guarantees:
- Every document the mailbox lists is taken, or is retried on the next round (the position in the
  mailbox only moves past a document once the receiver has it).
- A document younger than `settle_seconds` is left to its webhook for now (the position waits at
  it), so the usual case costs one listing and no download.
- The position is kept in memory: after a restart the mailbox is listed from its start, and what
  the receiver already has costs one query per page. Documents older than `max_age` are never
  taken (the receivers prune applied deliveries later than that, and would take them twice).

The mailbox API (the simulator's; an adapter for another clearinghouse maps its own onto it):

    GET {base}/v1/mailbox?kind=835&kind=...&cursor=N&limit=M
        -> {"documents": [{"id", "kind", "created_at", "cursor"}, ...]}, oldest first; a document's
           `cursor` continues the listing after it
    GET {base}/v1/mailbox/{id}   -> the document's raw X12
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import httpx
import sqlalchemy as sa
from prometheus_client import Counter
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

MAILBOX_RECOVERED = Counter(
    "openrcm_clearinghouse_mailbox_recovered_total",
    "Clearinghouse documents taken from its mailbox because their webhook never arrived", ["kind"])


@dataclass(frozen=True)
class MailboxDocument:
    id: str  # the webhook id the document is (or would have been) delivered under
    kind: str  # 999, 277CA, 835
    created_at: datetime
    cursor: int  # where the listing continues after this document


class MailboxUnavailable(Exception):
    """The mailbox did not answer (a transport error or a 5xx): try on the next round."""


class HttpMailbox:
    """The mailbox API over HTTP."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def list(self, kinds: tuple[str, ...], cursor: int, limit: int) -> list[MailboxDocument]:
        response = await self._get("/v1/mailbox", params={"kind": list(kinds), "cursor": cursor, "limit": limit})
        return [MailboxDocument(id=item["id"], kind=item["kind"], cursor=int(item["cursor"]),
                                created_at=datetime.fromisoformat(item["created_at"]))
                for item in response.json()["documents"]]

    async def fetch(self, document_id: str) -> bytes:
        return (await self._get(f"/v1/mailbox/{document_id}")).content

    async def _get(self, path: str, **options) -> httpx.Response:
        try:
            response = await self._client.get(path, **options)
        except httpx.HTTPError as exc:
            raise MailboxUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise MailboxUnavailable(f"HTTP {response.status_code}")
        response.raise_for_status()
        return response

    async def close(self) -> None:
        await self._client.aclose()


class Mailbox(Protocol):
    """What the reconciler needs of a mailbox (HttpMailbox, or a test's)."""

    async def list(self, kinds: tuple[str, ...], cursor: int, limit: int) -> list[MailboxDocument]: ...

    async def fetch(self, document_id: str) -> bytes: ...


# Which of these webhook ids the receiver already has.
KnownIds = Callable[[list[str]], Awaitable[set[str]]]
# Take one document as its webhook would have delivered it.
Receive = Callable[[MailboxDocument, bytes], Awaitable[None]]


def stored_in(engine, webhook_id_column: sa.Column) -> KnownIds:
    """`known` for a receiver that stores what it takes in a table keyed by webhook id."""
    async def known(webhook_ids: list[str]) -> set[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(webhook_id_column).where(webhook_id_column.in_(webhook_ids)))
            return {row[0] for row in rows}
    return known


class MailboxReconciler:
    def __init__(self, mailbox: Mailbox, kinds: tuple[str, ...], *, known: KnownIds, receive: Receive,
                 settle_seconds: float = 120.0, max_age: timedelta = timedelta(days=30), page: int = 500) -> None:
        self.mailbox, self.kinds = mailbox, kinds
        self.known, self.receive = known, receive
        self.settle = timedelta(seconds=settle_seconds)
        self.max_age = max_age
        self.page = page
        self.cursor = 0

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass over the mailbox from the last position; returns how many documents were taken."""
        now = now or datetime.now(timezone.utc)
        ripe_before, too_old = now - self.settle, now - self.max_age
        taken = 0
        while True:
            listed = await self.mailbox.list(self.kinds, self.cursor, self.page)
            ripe = []
            for document in listed:
                if document.created_at > ripe_before:
                    break  # its webhook may still be on its way; the position waits here
                ripe.append(document)
            wanted = [document for document in ripe if document.created_at >= too_old]
            have = await self.known([document.id for document in wanted]) if wanted else set()
            for document in ripe:
                if document.created_at >= too_old and document.id not in have:
                    await self.receive(document, await self.mailbox.fetch(document.id))
                    MAILBOX_RECOVERED.labels(document.kind).inc()
                    log.warning("took a clearinghouse document from the mailbox: its webhook never arrived",
                                extra={"webhook_id": document.id, "kind": document.kind})
                    taken += 1
                self.cursor = document.cursor
            if len(ripe) < len(listed) or len(listed) < self.page:
                return taken

    async def run(self, interval_seconds: float) -> None:
        """Reconcile every `interval_seconds`, forever; an unavailable mailbox or database waits
        for the next round."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("clearinghouse mailbox not reconciled; trying on the next round",
                            extra={"error_class": type(exc).__name__})
            await asyncio.sleep(interval_seconds)


class MailboxSettings(BaseSettings):
    """Where the clearinghouse's mailbox is and how it is reconciled (environment, prefix
    OPENRCM_CLEARINGHOUSE_MAILBOX_). Without a URL nothing is reconciled."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_CLEARINGHOUSE_MAILBOX_", extra="ignore")

    url: str | None = None
    interval_seconds: float = 300.0
    # Left to the webhook this long after the clearinghouse produced it.
    settle_seconds: float = 120.0
    # Older documents are not taken: the receivers prune what they applied after 90 days, and a
    # document older than that would be taken a second time.
    max_age_days: int = 30


async def reconcile_mailbox_forever(kinds: tuple[str, ...], *, known: KnownIds, receive: Receive,
                                    settings: MailboxSettings | None = None) -> None:
    """A service's background task: reconcile `kinds` with the configured mailbox, forever (or
    idle, when no mailbox is configured)."""
    settings = settings or MailboxSettings()
    if not settings.url:
        log.info("no clearinghouse mailbox configured; webhooks only")
        await asyncio.Event().wait()
    mailbox = HttpMailbox(settings.url)
    try:
        await MailboxReconciler(mailbox, kinds, known=known, receive=receive, settle_seconds=settings.settle_seconds,
                                max_age=timedelta(days=settings.max_age_days)).run(settings.interval_seconds)
    finally:
        await mailbox.close()
