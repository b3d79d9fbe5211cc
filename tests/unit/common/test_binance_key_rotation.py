"""Issue 16: a rotated key is taken up at the client's next call, never in the middle of one."""

from __future__ import annotations

import threading

import pytest
import responses

from common.binance import BinanceClient
from common.clock import FakeClock
from tests.support.binance_cases import API_KEY, API_SECRET, BASE, NOW_MS

NEW_KEY = "test-rotated-key-not-real-0001"
NEW_SECRET = "test-rotated-secret-not-real-0001"


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_a_rotated_key_signs_the_next_request_and_not_the_one_before(mock):
    """The request before set_credentials carries the old key, the one after the new key."""
    client = BinanceClient(BASE, API_KEY, API_SECRET, clock=FakeClock(now_ms=NOW_MS))
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", json=[])
    client.withdraw_history()
    client.set_credentials(NEW_KEY, NEW_SECRET)
    assert client.api_key_in_use == NEW_KEY
    client.withdraw_history()
    keys = [call.request.headers["X-MBX-APIKEY"] for call in mock.calls]
    assert keys == [API_KEY, NEW_KEY]


def test_a_request_in_flight_finishes_with_the_key_it_started_with_and_the_rotation_does_not_wait(mock):
    """set_credentials during a request returns at once; that request was signed with the old key."""
    client = BinanceClient(BASE, API_KEY, API_SECRET, clock=FakeClock(now_ms=NOW_MS))
    inside, release = threading.Event(), threading.Event()

    def slow(request):
        inside.set()
        assert release.wait(5)
        return 200, {}, "[]"
    mock.add_callback(responses.GET, f"{BASE}/sapi/v1/capital/withdraw/history", callback=slow)
    worker = threading.Thread(target=client.withdraw_history)
    worker.start()
    assert inside.wait(5)
    client.set_credentials(NEW_KEY, NEW_SECRET)   # returns while the request is held
    release.set()
    worker.join(5)
    client.withdraw_history()
    keys = [call.request.headers["X-MBX-APIKEY"] for call in mock.calls]
    assert keys == [API_KEY, NEW_KEY]


def test_an_empty_key_is_refused_and_changes_nothing():
    """set_credentials('') raises ValueError; the key in use stays."""
    client = BinanceClient(BASE, API_KEY, API_SECRET, clock=FakeClock(now_ms=NOW_MS))
    with pytest.raises(ValueError):
        client.set_credentials("", NEW_SECRET)
    assert client.api_key_in_use == API_KEY
