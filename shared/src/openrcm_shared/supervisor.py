"""One supervisor for every long-running task of a service process: the outbox relay, the event
consumer, retention pruning and the service's own background work.

Guarantee: a task that ends - with an exception, or by returning, since these tasks are meant to
run until the process stops - is started again, after a backoff that doubles from
`first_backoff` to `max_backoff` (with jitter, so replicas do not restart in step). A task that
ends more than `max_restarts` times within `window` seconds is given up on: restarting it inside
the process has not helped, so `/livez` fails and the orchestrator restarts the process. While a
task waits to be restarted, or after it was given up on, `/readyz` names it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from openrcm_shared.leadership import being_cancelled

log = logging.getLogger(__name__)


@dataclass
class SupervisedTask:
    name: str
    run: Callable[[], Awaitable[None]]
    task: asyncio.Task | None = None
    ended_at: deque[float] = field(default_factory=deque)  # monotonic times it ended, within the window
    last_error: str | None = None
    restarting: bool = False
    given_up: bool = False

    def state(self) -> str:
        """ok; restarting (after an error class); or failed (given up on, or ended by something
        that is not an Exception, which nothing here catches)."""
        if self.given_up:
            return f"failed: {self.last_error}"
        if self.task is not None and self.task.done() and not self.task.cancelled():
            return f"failed: {type(self.task.exception()).__name__}"
        if self.restarting:
            return f"restarting after {self.last_error}"
        return "ok"


class TaskSupervisor:
    def __init__(self, *, first_backoff: float = 1.0, max_backoff: float = 60.0, max_restarts: int = 5,
                 window: float = 300.0) -> None:
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.max_restarts = max_restarts
        self.window = window
        self._supervised: dict[str, SupervisedTask] = {}

    @classmethod
    def from_settings(cls, settings) -> "TaskSupervisor":  # noqa: ANN001 - openrcm_shared.settings.ServiceSettings
        """`OPENRCM_TASK_RESTART_FIRST_BACKOFF_SECONDS`, `OPENRCM_TASK_RESTART_MAX_BACKOFF_SECONDS`,
        `OPENRCM_TASK_MAX_RESTARTS` and `OPENRCM_TASK_RESTART_WINDOW_SECONDS`."""
        return cls(first_backoff=settings.task_restart_first_backoff_seconds,
                   max_backoff=settings.task_restart_max_backoff_seconds, max_restarts=settings.task_max_restarts,
                   window=settings.task_restart_window_seconds)

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task:
        """Run `run()` as the task `name`, started again whenever it ends (see the module). Returns
        the supervising task: cancelling it stops the task for good."""
        supervised = SupervisedTask(name, run)
        supervised.task = asyncio.create_task(self._keep_running(supervised), name=name)
        self._supervised[name] = supervised
        return supervised.task

    def supervises(self, name: str) -> bool:
        return name in self._supervised

    def state(self, name: str) -> str:
        return self._supervised[name].state()

    def given_up(self) -> dict[str, str]:
        """The tasks that cannot be restarted, with their state."""
        return {name: task.state() for name, task in self._supervised.items() if task.state().startswith("failed")}

    async def _keep_running(self, supervised: SupervisedTask) -> None:
        backoff = self.first_backoff
        while True:
            started = time.monotonic()
            try:
                await supervised.run()
                supervised.last_error = "stopped"  # meant to run until cancelled
                log.error("background task stopped; restarting it", extra={"task": supervised.name})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if being_cancelled():  # an error raised on the way out: the process is stopping
                    raise asyncio.CancelledError() from exc
                supervised.last_error = type(exc).__name__
                log.exception("background task failed; restarting it", extra={"task": supervised.name})
            if self._too_many_ends(supervised):
                supervised.given_up = True
                log.error("background task keeps failing; given up (the process is no longer live)",
                          extra={"task": supervised.name, "error_class": supervised.last_error})
                return
            if time.monotonic() - started > self.window:  # it had been running well: start small again
                backoff = self.first_backoff
            supervised.restarting = True
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            supervised.restarting = False
            backoff = min(backoff * 2, self.max_backoff)

    def _too_many_ends(self, supervised: SupervisedTask) -> bool:
        now = time.monotonic()
        supervised.ended_at.append(now)
        while supervised.ended_at and now - supervised.ended_at[0] > self.window:
            supervised.ended_at.popleft()
        return len(supervised.ended_at) > self.max_restarts
