"""common/binance/client.py: signed requests as sent, clock offset, typed errors and reply
decoding, against `responses` (the exchange's replies) and, for connection failures, real
local sockets. The pure parts alone: test_binance_signing.py, test_binance_errors.py."""

from __future__ import annotations

import socket

import pytest

from common.binance import (
    BinanceClient, ExchangeUnavailable, OutcomeUnknown,
)
from common.clock import FakeClock
from tests.support.ports import free_port
from tests.support.binance_cases import API_KEY, API_SECRET, NOW_MS, withdraw


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now_ms=NOW_MS)


# --------------------------------------------------------------------------- 5XX, timeouts, connections


def test_refused_connection_is_unavailable_even_for_a_withdrawal(clock):
    """A real refused TCP connection (nothing listening) proves the request never left: ExchangeUnavailable."""
    port = free_port()
    client = BinanceClient(f"http://127.0.0.1:{port}", API_KEY, API_SECRET, clock=clock,
                           connect_timeout=2, read_timeout=2)
    with pytest.raises(ExchangeUnavailable) as caught:
        withdraw(client)
    assert "nothing was sent" in caught.value.message


def test_real_read_timeout_on_a_withdrawal_is_outcome_unknown(clock):
    """A real server that accepts the connection and never answers: the read times out, outcome unknown."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)   # the kernel completes the handshake; nobody ever replies
        port = listener.getsockname()[1]
        client = BinanceClient(f"http://127.0.0.1:{port}", API_KEY, API_SECRET, clock=clock,
                               connect_timeout=2, read_timeout=0.3)
        with pytest.raises(OutcomeUnknown) as caught:
            withdraw(client)
    assert "signature=" not in str(caught.value)
