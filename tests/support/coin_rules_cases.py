"""What tests/unit/treasury_bot/test_coin_rules.py and
tests/integration/treasury_bot/test_coin_rules.py share: network, CONFIG, FakeConfigClient."""

from __future__ import annotations

from common.binance import Amount, CoinConfig, NetworkConfig


def network(name: str, **over) -> NetworkConfig:
    fields = dict(network=name, coin="USDT", withdraw_enable=True, withdraw_min=Amount("10"),
                  withdraw_max=Amount("100000"), withdraw_integer_multiple=Amount("0.000001"),
                  withdraw_fee=Amount("1"), address_regex="^T[1-9A-HJ-NP-Za-km-z]{33}$", memo_regex="")
    fields.update(over)
    return NetworkConfig(**fields)


CONFIG = [CoinConfig(coin="USDT", network_list=[network("TRX"), network("BSC", withdraw_enable=False,
                                                                          address_regex="^0x[0-9a-fA-F]{40}$",
                                                                          memo_regex="^[0-9]+$")]),
          CoinConfig(coin="BTC", network_list=[network("BTC", coin="BTC", withdraw_min=Amount("0.0005"),
                                                       withdraw_max=Amount("0"))])]


class FakeConfigClient:
    """Our port's coin_config only, scripted: raise the queued errors, then answer."""

    def __init__(self, config, errors=()) -> None:
        self.config = config
        self.errors = list(errors)
        self.calls = 0

    def coin_config(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.config
