"""How a consumer classifies failures: retry in process, or dead-letter."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from openrcm_shared.x12.reader import X12Error


class PermanentEventError(Exception):
    """The event can never be applied as it is (bad data, broken invariant).

    The message must not contain PHI: it is copied into the DLQ headers and logs.
    """


class ParkedBehindFailure(PermanentEventError):
    """Not this event's fault: an earlier event with the same key failed for good, and a key's
    events are applied in order (openrcm_shared.messaging.parking). The message names that
    event's id only."""

    def __init__(self, blocking_event_id) -> None:  # noqa: ANN001 - a UUID
        super().__init__(f"waits behind event {blocking_event_id}, which failed; applied after it is replayed "
                         "or skipped")


class TransientEventError(Exception):
    """Worth retrying: a dependency was briefly unavailable. Messages carry no PHI."""


_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientEventError, ConnectionError, OSError, asyncio.TimeoutError, TimeoutError,
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, _TRANSIENT_TYPES):
        return True
    # asyncpg's errors arrive wrapped in SQLAlchemy's DBAPIError, or bare from the raw asyncpg paths
    # (a deadlock on a hot path raised as asyncpg's own DeadlockDetectedError was answered 500).
    cause = getattr(error, "orig", None) or error.__cause__
    return type(error).__name__ in _TRANSIENT_ASYNCPG_ERRORS or (
        cause is not None and cause is not error and type(cause).__name__ in _TRANSIENT_ASYNCPG_ERRORS)


_TRANSIENT_ASYNCPG_ERRORS = frozenset({
    "ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError",
    "AdminShutdownError", "SerializationError", "DeadlockDetectedError", "TooManyConnectionsError",
})


def sanitized_message(error: BaseException) -> str:
    """A description safe for DLQ headers: no field values, which may be PHI."""
    if isinstance(error, ValidationError):
        problems = ["/".join(str(p) for p in e["loc"]) + f": {e['type']}" for e in error.errors(include_input=False)]
        return ("schema validation failed: " + "; ".join(problems))[:1000]
    if isinstance(error, (PermanentEventError, TransientEventError, X12Error, OSError)):
        # Ours promise no PHI; X12 errors name segments, never element values; OS errors name
        # hosts, ports and files.
        return str(error)[:1000]
    # Anything else (a library exception) may echo values; keep only its class.
    return type(error).__name__
