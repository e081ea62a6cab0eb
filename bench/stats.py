"""Percentiles and latency summaries (no numpy: a sort is enough at these sizes)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values: the smallest value with at least p% of
    the values at or below it. Never interpolates, so a reported p99 is a latency that happened."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(values: Iterable[float], points: Sequence[float] = (50, 95, 99)) -> dict:
    """count, min, mean, the given percentiles (keys p50, p95, ...) and max, in the values' unit."""
    ordered = sorted(values)
    summary: dict = {"count": len(ordered)}
    if not ordered:
        return summary
    summary["min"] = ordered[0]
    summary["mean"] = sum(ordered) / len(ordered)
    for p in points:
        summary[f"p{p:g}"] = percentile(ordered, p)
    summary["max"] = ordered[-1]
    return summary


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Upper bound of the cumulative-histogram bucket holding quantile q (Prometheus buckets:
    sorted (le, cumulative count) pairs, +Inf last). A bound, not an estimate."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    target = q * buckets[-1][1]
    for upper, cumulative in buckets:
        if cumulative >= target:
            return upper
    return math.inf
