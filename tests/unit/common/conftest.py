"""Fixtures the client's `responses` tests share: a client on a fake clock, and the mock."""

from __future__ import annotations

import pytest
import responses

from common.binance import BinanceClient
from common.clock import FakeClock
from tests.support.binance_cases import API_KEY, API_SECRET, BASE, NOW_MS


@pytest.fixture
def client() -> BinanceClient:
    """A client against the mocked BASE, its clock fixed at NOW_MS (a module may define its own)."""
    return BinanceClient(BASE, API_KEY, API_SECRET, clock=FakeClock(now_ms=NOW_MS))


@pytest.fixture
def mock():
    """Every request must be answered by a registered reply (an unregistered one fails the test)."""
    with responses.RequestsMock() as rsps:
        yield rsps
