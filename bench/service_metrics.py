"""The services' own view of a run, from their Prometheus /metrics endpoints.

Scraped before and after a run; the difference is what the run did. The claims service's
request-duration histogram covers the request inside the application (middleware to response),
so the gap to the client's latency is time spent outside it: in the event loop's queue, the
HTTP layer and the network stack. Histogram quantiles are bucket upper bounds, not estimates.
"""

from __future__ import annotations

import asyncio
import math
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

from bench.stats import histogram_quantile

ENCOUNTER_ROUTE = {"service": "claims", "method": "POST", "route": "/v1/encounters"}
REQUEST_DURATION = "openrcm_http_request_duration_seconds"
CONSUMER_DURATION = "openrcm_consumer_processing_duration_seconds"
OUTBOX_PUBLISHED = "openrcm_outbox_published"
OUTBOX_BACKLOG = "openrcm_outbox_backlog_events"


Scrape = dict[str, list[tuple[str, dict[str, str], float]]]  # family -> (sample name, labels, value)


SCRAPE_TIMEOUT_SECONDS = 20.0


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_SECONDS) as response:
        return response.read().decode()


async def scrape(service_url: str) -> Scrape:
    text = await asyncio.to_thread(_fetch, f"{service_url}/metrics")
    families: Scrape = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            families[family.name].append((sample.name, dict(sample.labels), sample.value))
    return families


def _matches(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def histogram_delta(before: Scrape, after: Scrape, family: str, selector: dict[str, str],
                    split_by: str | None = None) -> dict:
    """Count, mean and bucket-bound p50/p90/p99 of what a histogram observed between two scrapes,
    summed over the series matching `selector` (optionally one result per value of `split_by`)."""
    def totals(scrape: Scrape):
        groups: dict[str, dict] = defaultdict(lambda: {"buckets": defaultdict(float), "sum": 0.0, "count": 0.0})
        for name, labels, value in scrape.get(family, []):
            if not _matches(labels, selector):
                continue
            group = groups[labels.get(split_by, "all") if split_by else "all"]
            if name.endswith("_bucket"):
                group["buckets"][float(labels["le"])] += value
            elif name.endswith("_sum"):
                group["sum"] += value
            elif name.endswith("_count"):
                group["count"] += value
        return groups

    old, new = totals(before), totals(after)
    result = {}
    for key, group in new.items():
        previous = old.get(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
        count = group["count"] - previous["count"]
        if count <= 0:
            continue
        buckets = sorted((le, group["buckets"][le] - previous["buckets"].get(le, 0.0)) for le in group["buckets"])
        result[key] = {
            "count": int(count),
            "mean_ms": round(1000 * (group["sum"] - previous["sum"]) / count, 2),
            **{f"p{q}_bucket_ms": _ms(histogram_quantile(buckets, q / 100)) for q in (50, 90, 99)},
            "buckets_ms": {("+Inf" if math.isinf(le) else f"{le * 1000:g}"): int(n) for le, n in buckets},
        }
    return result


def counter_delta(before: Scrape, after: Scrape, family: str, selector: dict[str, str]) -> float:
    def total(scrape: Scrape) -> float:
        return sum(value for name, labels, value in scrape.get(family, [])
                   if name.endswith("_total") and _matches(labels, selector))
    return total(after) - total(before)


def gauge_value(scrape: Scrape, family: str, selector: dict[str, str]) -> float | None:
    values = [value for _, labels, value in scrape.get(family, []) if _matches(labels, selector)]
    return sum(values) if values else None


def _ms(seconds: float | None) -> float | str | None:
    if seconds is None:
        return None
    return "+Inf" if math.isinf(seconds) else round(seconds * 1000, 3)
