"""What tests/unit/signal_bot/test_sweep.py and tests/integration/signal_bot/test_sweep.py share:
SWEEP, Balances."""

from __future__ import annotations

from common.binance import Account, Amount, Balance
from signal_bot.config_file import Sweep

SWEEP = Sweep(asset="USDT", coin="USDT", network="TRX", destination="cold-wallet", keep="1000",
              min_sweep="50", step="1")


class Balances:
    """The account the worker reads after a fill (real common.binance structs); a whole
    SweepExchange (test_the_balances_double_is_a_whole_sweep_exchange)."""

    def __init__(self, free: str) -> None:
        self.free = free
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def account(self) -> Account:
        return Account(can_trade=True, can_withdraw=False, can_deposit=True,
                       balances=[Balance(asset="USDT", free=Amount(self.free), locked=Amount("0"))])
