"""`audit verify`: recompute every service's audit chains and name the first broken link."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from openrcm_shared.audit.chain import ChainReport
from openrcm_shared.audit.verification import verify_database
from openrcm_shared.db import create_engine


def databases_to_verify(database_urls: list[str] | None, manifest: Path) -> dict[str, str]:
    """Name -> URL: each `--database-url` (`NAME=URL`, or a URL named by its database), else every
    service database the running stack's manifest lists."""
    if database_urls:
        named = {}
        for value in database_urls:
            name, separator, url = value.partition("=")
            if not separator or "://" in name:
                url, name = value, value.rsplit("/", 1)[-1].split("?", 1)[0]
            named[name] = url
        return named
    if not manifest.exists():
        raise SystemExit(f"No running stack ({manifest} not found): pass --database-url.")
    return dict(json.loads(manifest.read_text())["postgres"]["databases"])


async def _verify_all(databases: dict[str, str]) -> dict[str, list[ChainReport]]:
    results = {}
    for name, url in databases.items():
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            results[name] = await verify_database(engine)
        finally:
            await engine.dispose()
    return results


def describe(name: str, report: ChainReport) -> str:
    waiting = f", {report.unchained} not chained yet" if report.unchained else ""
    pruned = f" (from the anchor at position {report.anchor.seq})" if report.anchor.seq else ""
    if report.intact:
        return f"{name:<12} {report.tenant_id}: {report.verified} entries verified{pruned}{waiting}"
    return (f"{name:<12} BROKEN after {report.verified} entries verified{pruned}{waiting}: "
            f"{report.first_break.describe()}")


def verify(databases: dict[str, str]) -> int:
    """Print one line per practice per database; 1 if any chain is broken, else 0."""
    results = asyncio.run(_verify_all(databases))
    broken = 0
    for name, reports in results.items():
        if not reports:
            print(f"{name:<12} no audit entries")
        for report in reports:
            print(describe(name, report))
            broken += not report.intact
    print(f"{broken} broken chain(s)" if broken else "every audit chain verified")
    return 1 if broken else 0
