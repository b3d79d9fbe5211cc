"""sandbox/rules.py: Binance's filters and the withdrawal checks, each with its code."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sandbox.config import load_config
from sandbox.errors import ApiError
from sandbox.rules import (WithdrawContext, WithdrawRequest, check_order_filters, check_withdrawal,
                           quantity_for_quote)

CONFIG = load_config()
BTCUSDT = CONFIG.find_symbol("BTCUSDT")
BNBUSDT = CONFIG.find_symbol("BNBUSDT")
USDT = CONFIG.find_coin("USDT")
GOOD_TRX = "TSandboxDemoCo1dWa11etAddress11111"


def failure(callable_, *args) -> str:
    with pytest.raises(ApiError) as caught:
        callable_(*args)
    assert caught.value.code == -1013
    return caught.value.msg


@pytest.mark.parametrize("quantity, price", [
    (D("0.00001"), D("60000.00")),      # minQty at a valid tick: notional 0.6 fails NOTIONAL, see below
])
def test_min_qty_passes_lot_size_but_small_notional_fails(quantity, price):
    """LOT_SIZE accepts minQty; NOTIONAL then refuses a 0.6 USDT order (min 5)."""
    assert failure(check_order_filters, BTCUSDT, quantity, price, False) == "Filter failure: NOTIONAL"


@pytest.mark.parametrize("quantity, price, expected", [
    (D("0.001"), D("60000.005"), "Filter failure: PRICE_FILTER"),    # off tick (0.01)
    (D("0.001"), D("0.001"), "Filter failure: PRICE_FILTER"),        # below minPrice
    (D("0.001"), D("1000000.01"), "Filter failure: PRICE_FILTER"),   # above maxPrice
    (D("0.000001"), D("60000"), "Filter failure: LOT_SIZE"),         # below minQty
    (D("0.000015"), D("60000"), "Filter failure: LOT_SIZE"),         # off step (0.00001)
    (D("9000.00001"), D("60000"), "Filter failure: LOT_SIZE"),       # above maxQty
    (D("200"), D("60000"), "Filter failure: NOTIONAL"),              # 12,000,000 > maxNotional
])
def test_limit_order_filter_failures(quantity, price, expected):
    """Each filter refuses with -1013 and its own name."""
    assert failure(check_order_filters, BTCUSDT, quantity, price, False) == expected


def test_valid_limit_order_passes_every_filter():
    """On tick, on step, notional inside [5, 9,000,000]: accepted."""
    check_order_filters(BTCUSDT, D("0.001"), D("59999.99"), False)
    check_order_filters(BTCUSDT, D("150"), D("60000"), False)  # 9,000,000 exactly


def test_market_orders_skip_price_filter_and_max_notional_but_check_market_lot_size():
    """MARKET: no PRICE_FILTER, maxNotional not applied (applyMaxToMarket false), MARKET_LOT_SIZE maxQty 100."""
    check_order_filters(BTCUSDT, D("100"), D("60000"), True)
    assert failure(check_order_filters, BTCUSDT, D("100.00001"), D("60000"), True) == \
        "Filter failure: MARKET_LOT_SIZE"
    assert failure(check_order_filters, BTCUSDT, D("0.00005"), D("60000"), True) == "Filter failure: NOTIONAL"


def test_legacy_min_notional_filter_applies_to_limit_and_market():
    """MIN_NOTIONAL (BNBUSDT) refuses orders under 5 USDT, MARKET too (applyToMarket)."""
    assert failure(check_order_filters, BNBUSDT, D("0.001"), D("600"), False) == "Filter failure: MIN_NOTIONAL"
    assert failure(check_order_filters, BNBUSDT, D("0.008"), D("600"), True) == "Filter failure: MIN_NOTIONAL"
    check_order_filters(BNBUSDT, D("0.009"), D("600"), True)


@pytest.mark.parametrize("quote, price, step, expected", [
    (D("100"), D("60000"), D("0.00001"), D("0.00166")),
    (D("5"), D("3000"), D("0.0001"), D("0.0016")),
    (D("0.5"), D("60000"), D("0.00001"), D("0.00000")),
    (D("100"), D("3"), D("0"), D("33.33333333")),
])
def test_quote_order_quantity_rounds_down_to_the_step(quote, price, step, expected):
    """A quoteOrderQty buys the largest on-step quantity whose cost fits."""
    quantity = quantity_for_quote(quote, price, step)
    assert quantity == expected
    assert quantity * price <= quote


def request(amount: str, address: str = GOOD_TRX, network: str | None = "TRX",
            tag: str | None = None, coin: str = "USDT") -> WithdrawRequest:
    return WithdrawRequest(coin=coin, network=network, address=address, address_tag=tag,
                           amount=D(amount), withdraw_order_id="w-1", name=None, wallet_type=0)


def context(free: str = "1000", whitelist_enabled: bool = False, can_withdraw: bool = True,
            whitelist: tuple[str, ...] = ()) -> WithdrawContext:
    return WithdrawContext(account_can_withdraw=can_withdraw, whitelist_enabled=whitelist_enabled,
                           whitelist=whitelist, free_balance=D(free))


def refused(req: WithdrawRequest, ctx: WithdrawContext, coin=USDT) -> int:
    with pytest.raises(ApiError) as caught:
        check_withdrawal(req, coin, ctx)
    return caught.value.code


def test_valid_withdrawal_returns_its_network():
    """A well-formed USDT/TRX withdrawal passes and uses the TRX rules."""
    assert check_withdrawal(request("20"), USDT, context()).network == "TRX"


def test_network_omitted_uses_the_default_network():
    """No `network`: the coin's isDefault network (TRX for USDT in demo.toml)."""
    assert check_withdrawal(request("20", network=None), USDT, context()).network == "TRX"


@pytest.mark.parametrize("req, ctx, code", [
    (request("20"), context(can_withdraw=False), -4015),
    (request("20", network="SOL"), context(), -4019),                 # no such network
    (request("9.999999"), context(), -4022),                          # below withdrawMin 10
    (request("10000000.000001"), context(free="20000000"), -4023),    # above withdrawMax
    (request("10.0000001"), context(), -4021),                        # not a multiple of 0.000001
    (request("20", address="0x5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d"), context(), -4033),
    (request("20", address=GOOD_TRX + "\n"), context(), -4033),       # the whole value must match
    (request("20"), context(whitelist_enabled=True, whitelist=("TOther",)), -4035),
    (request("20"), context(free="19.999999"), -4026),
])
def test_each_withdrawal_check_has_its_wallet_code(req, ctx, code):
    """Every refusal carries Binance's documented wallet code."""
    assert refused(req, ctx) == code


def test_unknown_coin_is_4018():
    """A coin the exchange does not list: -4018."""
    assert refused(request("20", coin="DOGE"), context(), coin=None) == -4018


def test_amount_not_above_fee_is_4028():
    """An amount equal to the fee (with a min below it) is refused: it must be greater."""
    from sandbox.config import parse_config
    config = parse_config("""
[[coin]]
coin = "XYZ"
  [[coin.network]]
  network = "XYZ"
  is_default = true
  withdraw_min = "0.5"
  withdraw_max = "100"
  withdraw_integer_multiple = "0.1"
  withdraw_fee = "1"
  address_regex = "^x[0-9]+$"
  memo_regex = "^[0-9]{1,10}$"
""")
    coin = config.find_coin("XYZ")
    assert refused(request("1", address="x1", coin="XYZ", network=None), context(), coin=coin) == -4028
    assert check_withdrawal(request("1.1", address="x1", coin="XYZ", network=None), coin, context()).network == "XYZ"
    bad_tag = request("2", address="x1", coin="XYZ", network=None, tag="abc")
    assert refused(bad_tag, context(), coin=coin) == -4008


def test_disabled_network_is_4019():
    """withdrawEnable false: -4019, before any amount check."""
    from sandbox.config import parse_config
    config = parse_config("""
[[coin]]
coin = "XYZ"
  [[coin.network]]
  network = "XYZ"
  withdraw_enable = false
  withdraw_min = "1"
  withdraw_max = "100"
  withdraw_integer_multiple = "1"
  withdraw_fee = "0"
  address_regex = ".*"
""")
    assert refused(request("0", network="XYZ", coin="XYZ"), context(), config.find_coin("XYZ")) == -4019


def test_checks_run_in_documented_order():
    """Below the minimum and not whitelisted and broke: the minimum is reported first."""
    ctx = context(free="0", whitelist_enabled=True)
    assert refused(request("1"), ctx) == -4022
    assert refused(request("20", address="bad"), ctx) == -4033
    assert refused(request("20"), ctx) == -4035
