"""What tests/unit/common/test_binance.py and tests/integration/common/test_binance.py share:
BASE, API_KEY, API_SECRET, NOW_MS, withdraw."""

from __future__ import annotations

from decimal import Decimal

from common.binance import (
    BinanceClient,
)

BASE = "https://api.test.invalid"

API_KEY = "test-key-not-real-0001-abcdefghijkl"

API_SECRET = "test-secret-not-real-0001"

NOW_MS = 1_700_000_000_000


def withdraw(client: BinanceClient, **overrides):
    args = dict(coin="USDT", network="TRX", address="TXYZ1234567890abcdefghijklmnopqrs",
                amount=Decimal("100.5"), withdraw_order_id="intent-1")
    args.update(overrides)
    return client.withdraw_apply(**args)
