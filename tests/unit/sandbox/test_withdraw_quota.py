"""sandbox/withdraw_quota.py through the in-process app (issue 12 item 4): the quota as Binance
documents it (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota), its
24-hour use in USDT, and -4023 (our choice of code) for an apply that would go over it."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from sandbox import withdraw_quota
from sandbox.config import parse_config
from tests.support.sandbox import demo_config_text
from tests.support.sandbox_app_cases import CONFIG, TREASURY, Harness

URL = "/sapi/v1/capital/withdraw/quota"
LOW = parse_config(demo_config_text(withdraw_quota_usdt="100"))


@pytest.fixture
def h() -> Harness:
    return Harness(LOW)


def test_the_quota_answers_binances_documented_fields_from_the_config(h):
    """wdQuota is [exchange] withdraw_quota_usdt; nothing applied yet: usedWdQuota "0"."""
    assert h.ok("GET", URL, TREASURY) == {"wdQuota": "100", "usedWdQuota": "0"}
    assert Harness().ok("GET", URL, TREASURY)["wdQuota"] == "8000000"


def test_it_is_signed_and_takes_no_parameters(h):
    """Unsigned: refused; an unknown parameter: -1104, as for the address list."""
    assert h.call("GET", URL).status >= 400
    assert h.error("GET", URL, TREASURY, coin="USDT") == -1104


def test_applied_withdrawals_count_in_usdt_for_24_hours(h):
    """Two USDT applies count 1:1; 24 hours after the first, only the second still counts."""
    assert h.withdraw(amount="30", order_id="w-1").status == 200
    h.now += 3_600_000
    assert h.withdraw(amount="20", order_id="w-2").status == 200
    assert h.ok("GET", URL, TREASURY)["usedWdQuota"] == "50"
    h.now += 86_400_000 - 3_600_000
    assert h.ok("GET", URL, TREASURY)["usedWdQuota"] == "20"


def test_an_apply_over_the_quota_is_refused_minus_4023_and_books_nothing(h):
    """70 used of 100: a 40 apply answers -4023, the balance and the use stay; a 30 one passes."""
    assert h.withdraw(amount="70", order_id="w-1").status == 200
    before = h.free("USDT")
    assert h.error("POST", "/sapi/v1/capital/withdraw/apply", TREASURY, coin="USDT", network="TRX",
                   address="TSandboxDemoCo1dWa11etAddress11111", amount="40", withdrawOrderId="w-2") == -4023
    assert h.free("USDT") == before
    assert h.ok("GET", URL, TREASURY)["usedWdQuota"] == "70"
    assert h.withdraw(amount="30", order_id="w-3").status == 200
    assert h.ok("GET", URL, TREASURY)["usedWdQuota"] == "100"


def test_a_refused_apply_is_still_counted_as_a_call(h):
    """Like every apply that passes authentication, a quota refusal is in apply_calls."""
    h.withdraw(amount="70", order_id="w-1")
    h.withdraw(amount="40", order_id="w-2")
    status, body = h.admin("GET", "/sandbox/withdrawals")
    assert status == 200 and body["apply_calls"] == {"w-1": 1, "w-2": 1}
    assert len(body["withdrawals"]) == 1


def test_coins_are_valued_at_the_sandboxs_own_usdt_price():
    """Stablecoins 1:1; BTC at BTCUSDT's price, a set price first; a coin with no USDT symbol counts 0."""
    session = SimpleNamespace(data=SimpleNamespace(prices={}))
    value = withdraw_quota.value_in_usdt
    assert value(CONFIG, session, "USDC", Decimal("5")) == Decimal("5")
    assert value(CONFIG, session, "FDUSD", Decimal("5")) == Decimal("5")
    assert value(CONFIG, session, "BTC", Decimal("0.5")) == Decimal("30000")
    session.data.prices["BTCUSDT"] = Decimal("50000")
    assert value(CONFIG, session, "BTC", Decimal("0.5")) == Decimal("25000")
    assert value(CONFIG, session, "DOGE", Decimal("1000")) == Decimal("0")


def test_a_quota_that_is_not_a_decimal_string_is_a_config_error():
    """withdraw_quota_usdt = 100 (a TOML number) is refused, as every amount is."""
    with pytest.raises(Exception, match="withdraw_quota_usdt|decimal"):
        parse_config(demo_config_text(withdraw_quota_usdt=100))
