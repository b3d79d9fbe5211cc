"""What tests/unit/signal_bot/test_sweep.py and tests/integration/signal_bot/test_sweep.py share:
SWEEP, Balances."""

from __future__ import annotations

from decimal import Decimal

from common.binance import Amount
from signal_bot.config_file import Sweep

SWEEP = Sweep(asset="USDT", coin="USDT", network="TRX", destination="cold-wallet", keep="1000",
              min_sweep="50", step="1")


class Balances:
    """The balances the worker reads after a fill: USDT `free` in spot, `funding` in the
    Funding wallet; a whole SweepExchange (test_the_balances_double_is_a_whole_sweep_exchange)."""

    def __init__(self, free: str, funding: str = "0") -> None:
        self.free = free
        self.funding = funding
        self.closed = False
        self.wallets_read: list[str] = []

    def close(self) -> None:
        self.closed = True

    def free_in_wallet(self, asset: str, wallet: str) -> Decimal:
        self.wallets_read.append(wallet)
        if asset != "USDT":
            return Decimal(0)
        return Amount(self.funding if wallet == "funding" else self.free)
