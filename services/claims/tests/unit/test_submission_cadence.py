"""The 837 batcher's rounds start a fixed interval apart (service_layer/batches.py)."""

from __future__ import annotations

import pytest

from openrcm_claims.service_layer.batches import until_next_round


@pytest.mark.parametrize(("round_took", "wait"), [(0.0, 1.0), (0.3, 0.7), (1.0, 0.0), (2.5, 0.0)])
def test_the_next_round_starts_one_interval_after_the_last_began(round_took, wait):
    assert until_next_round(1.0, round_took) == pytest.approx(wait)
