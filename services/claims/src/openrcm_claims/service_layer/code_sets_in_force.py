"""The code sets this process scrubs with, kept current while it runs.

They are the shipped code sets, the CMS files configured in the environment (CodeSetSettings, read
once at start-up) and the files imported through the API that are in force today
(cms_files.files_in_force); an imported kind takes over from the configured file of that kind,
and imported ICD-10-CM order files join the configured ones as releases by date of service.

Every claims process (API and worker) runs `CodeSetsInForce.run` (the `code_sets` task): it checks
the imported files every few seconds (a query of a few small columns), and when what is in force
has changed — a file imported or withdrawn in any process, or a version's effective date come — it
loads the kinds that changed from the database in a thread and swaps the whole `CodeSets` in at
once, so each claim is scrubbed with one consistent set and the next claim with the new one. A
kind whose files did not change is reused as it is. The process that took an import looks at once.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import threading
from collections.abc import Mapping
from datetime import date, timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_claims.adapters import code_set_store
from openrcm_claims.adapters.code_set_files import ConfiguredCodeSets, discover, load_configured
from openrcm_claims.domain.scrubber import CodeSets
from openrcm_claims.domain.scrubber.codesets import Icd10CmCodeSet, shipped_code_set
from openrcm_claims.domain.scrubber.codesets.cms_files import (
    ICD10CM_ORDER, KINDS, ImportedFile, assemble_code_sets, files_in_force, load_cms_file,
)
from openrcm_claims.settings import CodeSetSettings
from openrcm_shared.messaging.errors import is_transient

log = logging.getLogger(__name__)

FILES_IN_FORCE = Gauge("openrcm_claims_code_set_files_in_force",
                       "Imported CMS code-set files this process scrubs with, by kind", ["kind"])
NEWEST_FILE_ID = Gauge("openrcm_claims_code_set_newest_file_id",
                       "The newest imported code-set file (by id) this process scrubs with; 0 when none")
RELOADS = Counter("openrcm_claims_code_set_reloads_total",
                  "Times this process swapped in new code sets, by outcome", ["outcome"])

ENVIRONMENT = "environment"
IMPORTED = "imported"


class CodeSetsUnavailable(RuntimeError):
    """The configured CMS files could not be loaded: claims are not scrubbed without them."""


def _warm(code_sets: CodeSets, last_days: int = 400) -> None:
    """Load the ICD-10-CM releases recent dates of service need, so the first claims after a swap
    are not the ones that pay for reading them (about 0.3 s per release)."""
    icd10cm = code_sets.icd10cm
    today = date.today()
    for day in {max(icd10cm.first_day, min(today, icd10cm.last_day)),
                max(icd10cm.first_day, min(today - timedelta(days=last_days), icd10cm.last_day))}:
        icd10cm.is_billable("E119", day)


class CodeSetsInForce:
    """The process's `CodeSets` and which imported files it was built from."""

    def __init__(self) -> None:
        self.current: CodeSets | None = None
        self.files: dict[str, tuple[int, ...]] = {}  # kind -> ids of the imported files in force
        self.sources: dict[str, str] = {}  # kind -> environment | imported
        self._configured: ConfiguredCodeSets | None = None
        self._loaded_kinds: dict[tuple[str, tuple[int, ...]], object] = {}
        self._icd10cm: tuple[tuple[int, ...], Icd10CmCodeSet] | None = None
        self._failed: dict[str, tuple[int, ...]] | None = None  # what could not be loaded: not tried again
        self._lock = threading.Lock()
        self._first_load: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._error: Exception | None = None

    # -- for the scrubber --------------------------------------------------------------------------

    def now(self) -> CodeSets:
        """The code sets; without the `code_sets` task (unit tests, tools), the configured files only,
        loaded by the first caller."""
        current = self.current
        if current is None:
            with self._lock:
                if self.current is None:
                    self.current = assemble_code_sets(self._configured_sets().loaded, self._icd10cm_for((), ()))
                current = self.current
        return current

    async def ready(self) -> CodeSets:
        """The code sets once the process has loaded them (waits for the `code_sets` task's first
        load, so no claim is scrubbed before the imported files are in)."""
        if self._first_load is not None and not self._first_load.is_set():
            await self._first_load.wait()
        if self._error is not None:
            raise CodeSetsUnavailable(str(self._error)) from self._error
        return self.current if self.current is not None else await asyncio.to_thread(self.now)

    def environment_files(self) -> dict[str, list[str]]:
        """Per kind, the names of the files the environment configured (loaded at start-up)."""
        return dict(self._configured.report.files) if self._configured is not None else {}

    def wake(self) -> None:
        """Look at the imported files now (this process took an import or a withdrawal)."""
        if self._wake is not None:
            self._wake.set()

    # -- the `code_sets` task ----------------------------------------------------------------------

    def starting(self) -> None:
        """From now on claims wait for `run`'s first load (called before the app serves requests)."""
        self._first_load, self._wake, self._error = asyncio.Event(), asyncio.Event(), None

    async def run(self, engine: AsyncEngine, settings: CodeSetSettings) -> None:
        """Load, then keep loading what comes into force, until cancelled. A configured file that
        cannot be loaded, or a first load failing other than for the database being away, ends the
        task (and /readyz names it); later failures are logged and tried again."""
        if self._first_load is None or self._first_load.is_set():
            self.starting()
        try:
            await asyncio.to_thread(self._configured_sets, settings)
        except Exception as failed:
            self._error = failed
            self._first_load.set()
            raise
        while True:
            try:
                await self.refresh(engine, date.today())
            except Exception as failed:
                if self.current is None and not is_transient(failed):
                    self._error = failed  # claims waiting for the first load must not wait forever
                    self._first_load.set()
                    raise
                # Once loaded, the process keeps scrubbing with what it has and tries again on the
                # next round: a database restart must not leave it not ready for good.
                RELOADS.labels("error").inc()
                log.warning("imported code-set files not readable now; trying again",
                            extra={"error_class": type(failed).__name__}, exc_info=not is_transient(failed))
            if not self._first_load.is_set() and self.current is not None:
                self._first_load.set()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=settings.code_set_refresh_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def refresh(self, engine: AsyncEngine, today: date) -> bool:
        """Swap in new code sets when the imported files in force differ from the loaded ones; True if swapped."""
        async with engine.connect() as conn:
            imported = await code_set_store.imported_files(conn)
        wanted = files_in_force(imported, today)
        if self.current is not None and (wanted == self.files or wanted == self._failed):
            return False
        by_id = {f.id: f for f in imported}
        try:
            loaded = {kind: await self._kind(engine, kind, [by_id[i] for i in ids]) for kind, ids in wanted.items()}
            code_sets = await asyncio.to_thread(self._assemble, loaded, wanted)
        except ValueError as failed:  # a stored file the loaders refuse: keep scrubbing with what we have
            self._failed = wanted
            RELOADS.labels("failed").inc()
            log.error("imported code-set files could not be loaded; the previous code sets stay in force",
                      extra={"code_set_files": wanted, "error": str(failed)})
            if self.current is None:
                self.now()
            return False
        self._swap(code_sets, wanted, loaded)
        return True

    # -- loading -----------------------------------------------------------------------------------

    def _configured_sets(self, settings: CodeSetSettings | None = None) -> ConfiguredCodeSets:
        if self._configured is None:
            files = discover(settings or CodeSetSettings())
            self._configured = load_configured(files)
            if files.configured:
                log.info("CMS code-set files loaded", extra={"code_set_counts": self._configured.report.counts,
                                                              "code_set_files": self._configured.report.files})
            else:
                log.info("no CMS code-set files configured: HCPCS validity, NCCI PTP and MUE edits are off "
                         "until files are imported (POST /v1/code-sets/files)")
        return self._configured

    async def _kind(self, engine: AsyncEngine, kind: str, files: list[ImportedFile]) -> object:
        """One kind's code set from its files in force (reused when they have not changed). ICD-10-CM:
        one release per order file."""
        ids = tuple(f.id for f in files)
        if (kind, ids) in self._loaded_kinds:
            return self._loaded_kinds[(kind, ids)]
        spools = [await code_set_store.spool_content(engine, f.id) for f in files]
        try:
            if kind == ICD10CM_ORDER:
                return tuple([await asyncio.to_thread(_load, kind, [spool], f) for spool, f in zip(spools, files)])
            return await asyncio.to_thread(_load, kind, spools, files[-1], ", ".join(f.file_name for f in files))
        finally:
            for spool in spools:
                spool.close()

    def _icd10cm_for(self, ids: tuple[int, ...], imported: tuple) -> Icd10CmCodeSet:
        """The shipped releases with the configured and imported order files, the same object while
        the imported files are the same (its releases are read on first use: ~0.3 s each)."""
        if self._icd10cm is not None and self._icd10cm[0] == ids:
            return self._icd10cm[1]
        releases = (*self._configured_sets().icd10cm_releases, *imported)  # an import replaces a configured release
        icd10cm = shipped_code_set().plus(*releases) if releases else shipped_code_set()
        self._icd10cm = (ids, icd10cm)
        return icd10cm

    def _assemble(self, loaded: Mapping[str, object], wanted: Mapping[str, tuple[int, ...]]) -> CodeSets:
        configured = self._configured_sets().loaded
        kinds = {**configured, **{kind: value for kind, value in loaded.items() if kind != ICD10CM_ORDER}}
        icd10cm = self._icd10cm_for(wanted.get(ICD10CM_ORDER, ()), tuple(loaded.get(ICD10CM_ORDER, ())))
        code_sets = assemble_code_sets(kinds, icd10cm)
        _warm(code_sets)
        return code_sets

    def _swap(self, code_sets: CodeSets, wanted: dict[str, tuple[int, ...]], loaded: dict[str, object]) -> None:
        self.current = code_sets  # one assignment: a claim being scrubbed keeps the set it started with
        self.files = wanted
        self._failed = None
        self._loaded_kinds = {(kind, ids): loaded[kind] for kind, ids in wanted.items()}  # the rest can go
        self.sources = {kind: ENVIRONMENT for kind in self._configured_sets().loaded}
        self.sources.update({kind: IMPORTED for kind in wanted})
        for kind in KINDS:
            FILES_IN_FORCE.labels(kind).set(len(wanted.get(kind, ())))
        NEWEST_FILE_ID.set(max((i for ids in wanted.values() for i in ids), default=0))
        RELOADS.labels("swapped").inc()
        # The code sets are most of this process's long-lived objects (~150 000 more for the cyclic
        # garbage collector): a full collection walked them in 100-300 ms, stalling every request in
        # flight. Frozen, they are left out of collections; the ones swapped out are freed by
        # reference counting as the last claim scrubbed with them finishes.
        gc.freeze()
        log.info("code sets in force", extra={"code_set_files": wanted, "code_set_sources": self.sources})


def _load(kind: str, spools: list, last, label: str | None = None) -> object:  # noqa: ANN001
    """Parse stored files of one kind (run in a thread); the effective date is the newest file's."""
    texts = [io.TextIOWrapper(spool, encoding="latin-1", newline="") for spool in spools]
    try:
        return load_cms_file(kind, *texts, label=label or last.file_name, effective=last.effective_date)
    finally:
        for text in texts:
            text.detach()


IN_FORCE = CodeSetsInForce()
