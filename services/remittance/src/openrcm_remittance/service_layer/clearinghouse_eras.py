"""ERAs from the clearinghouse: by webhook, or from its mailbox when the webhook never came.

Both ways end here: the raw 835 is stored under its webhook id (the same id again is a duplicate,
so an ERA that came both ways is posted once) and posted by `era_intake.process_file`, which also
posts a stored file whose earlier posting did not finish.
"""

from __future__ import annotations

from openrcm_remittance.adapters.tables import remittance_files
from openrcm_remittance.service_layer import era_intake
from openrcm_remittance.service_layer.files import CLEARINGHOUSE_SCOPE, StoredFile, store_file
from openrcm_shared.clearinghouse_mailbox import MailboxDocument, reconcile_mailbox_forever, stored_in


async def take_era(runtime, body: bytes, webhook_id: str, *, source: str, content_type: str | None) -> StoredFile:
    """Store the 835 and post it now, unless it is done or being posted. The file names no practice
    until its claims are looked up (and may pay several): the system role."""
    engine = runtime.system_engine

    async def once():
        yield body

    stored = await store_file(engine, once(), scope=CLEARINGHOUSE_SCOPE, tenant_id=None, source=source,
                              content_type=content_type, webhook_id=webhook_id)
    if await era_intake.process_file(engine, stored.id) is not None:
        runtime.events_staged()
    return stored


async def take_missed_eras(runtime) -> None:
    """Background task: 835s the clearinghouse's mailbox has and no webhook brought."""

    async def receive(document: MailboxDocument, body: bytes) -> None:
        await take_era(runtime, body, document.id, source="mailbox", content_type="application/edi-x12")

    await reconcile_mailbox_forever(("835",), known=stored_in(runtime.system_engine, remittance_files.c.webhook_id),
                                    receive=receive)
