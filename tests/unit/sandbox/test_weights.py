"""sandbox/weights.py: used-weight headers, minute windows and enforcement."""

from __future__ import annotations

import pytest

from sandbox.errors import ApiError
from sandbox.weights import Cost, WeightMeter

MINUTE = 60_000
T = 1_700_000_020_000   # 40 s into a minute


def test_weight_accumulates_within_a_minute_and_resets_on_the_next():
    """The header reports the minute's total, per bucket."""
    meter = WeightMeter()
    assert meter.charge(Cost("ip", 20), T) == {"X-MBX-USED-WEIGHT-1M": "20"}
    assert meter.charge(Cost("ip", 1), T + 1) == {"X-MBX-USED-WEIGHT-1M": "21"}
    assert meter.charge(Cost("sapi_uid", 900), T) == {"X-SAPI-USED-UID-WEIGHT-1M": "900"}
    assert meter.charge(Cost("ip", 1), T + MINUTE) == {"X-MBX-USED-WEIGHT-1M": "1"}


def test_enforced_limit_answers_429_with_retry_after_to_the_minute_end():
    """Over 180,000 UID weight in a minute: 429 / -1003, Retry-After until the minute ends."""
    meter = WeightMeter(enforce=True)
    for _ in range(10):
        meter.charge(Cost("sapi_uid", 18000), T)
    with pytest.raises(ApiError) as caught:
        meter.charge(Cost("sapi_uid", 18000), T)
    error = caught.value
    assert (error.code, error.http_status, error.headers["Retry-After"]) == (-1003, 429, "20")


def test_not_enforced_by_default():
    """Without enforcement the weight is only reported."""
    meter = WeightMeter()
    for _ in range(11):
        headers = meter.charge(Cost("sapi_uid", 18000), T)
    assert headers == {"X-SAPI-USED-UID-WEIGHT-1M": "198000"}


def test_order_count_headers():
    """Orders are counted per 10 seconds and per day."""
    meter = WeightMeter()
    meter.count_order(T)
    assert meter.count_order(T + 1) == {"X-MBX-ORDER-COUNT-10S": "2", "X-MBX-ORDER-COUNT-1D": "2"}
    assert meter.count_order(T + 10_000)["X-MBX-ORDER-COUNT-10S"] == "1"
