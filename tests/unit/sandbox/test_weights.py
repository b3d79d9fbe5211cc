"""sandbox/weights.py: used-weight headers, minute windows and enforcement."""

from __future__ import annotations

import pytest

from sandbox.errors import ApiError
from sandbox.weights import SECOND_MS, Cost, WeightMeter

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
    """Over 180,000 UID weight in a minute on one /sapi endpoint: 429 / -1003, Retry-After
    until the minute ends."""
    meter = WeightMeter(enforce=True)
    for _ in range(200):
        meter.charge(Cost("sapi_uid", 900), T, "/sapi/v1/capital/withdraw/apply")
    with pytest.raises(ApiError) as caught:
        meter.charge(Cost("sapi_uid", 900), T, "/sapi/v1/capital/withdraw/apply")
    error = caught.value
    assert (error.code, error.http_status, error.headers["Retry-After"]) == (-1003, 429, "20")


def test_each_sapi_endpoint_has_its_own_limit_and_api_endpoints_share_one():
    """/sapi: a full apply bucket does not block the address book; /api: exchangeInfo's
    weight and account's add up in one IP bucket."""
    meter = WeightMeter(enforce=True)
    for _ in range(200):
        meter.charge(Cost("sapi_uid", 900), T, "/sapi/v1/capital/withdraw/apply")
    assert meter.charge(Cost("sapi_ip", 10), T, "/sapi/v1/capital/withdraw/address/list") == {
        "X-SAPI-USED-IP-WEIGHT-1M": "10"}
    assert meter.charge(Cost("sapi_ip", 1), T, "/sapi/v1/account/apiRestrictions") == {
        "X-SAPI-USED-IP-WEIGHT-1M": "1"}
    meter.charge(Cost("ip", 20), T, "/api/v3/exchangeInfo")
    assert meter.charge(Cost("ip", 20), T, "/api/v3/account") == {"X-MBX-USED-WEIGHT-1M": "40"}


def test_withdraw_history_is_ten_a_second_not_ten_a_minute():
    """18000 of 180000 per SECOND: the 11th call in one second is 429 with Retry-After 1;
    the next second has room again."""
    meter = WeightMeter(enforce=True)
    history = "/sapi/v1/capital/withdraw/history"
    for _ in range(10):
        meter.charge(Cost("sapi_uid", 18000, SECOND_MS), T, history)
    with pytest.raises(ApiError) as caught:
        meter.charge(Cost("sapi_uid", 18000, SECOND_MS), T, history)
    assert caught.value.headers["Retry-After"] == "1" and "1 SECOND" in caught.value.msg
    assert meter.charge(Cost("sapi_uid", 18000, SECOND_MS), T + 1000, history) == {
        "X-SAPI-USED-UID-WEIGHT-1M": "18000"}


def test_not_enforced_when_turned_off():
    """With enforcement off the weight is only reported."""
    meter = WeightMeter()
    for _ in range(201):
        headers = meter.charge(Cost("sapi_uid", 900), T, "/sapi/v1/capital/withdraw/apply")
    assert headers == {"X-SAPI-USED-UID-WEIGHT-1M": "180900"}


def test_order_count_headers():
    """Orders are counted per 10 seconds and per day."""
    meter = WeightMeter()
    meter.count_order(T)
    assert meter.count_order(T + 1) == {"X-MBX-ORDER-COUNT-10S": "2", "X-MBX-ORDER-COUNT-1D": "2"}
    assert meter.count_order(T + 10_000)["X-MBX-ORDER-COUNT-10S"] == "1"
