"""Tests for treasury_bot/usage.py: what counts against the limits, and the 80% window warning."""

import dataclasses
import decimal
from decimal import Decimal

import pytest

from demo.policy_text import CoinTable, DestinationTable, policy_toml
from treasury_bot.policy import IntentFacts
from treasury_bot.policy_file import parse_policy
from treasury_bot.usage import CountedTransfer, Usage, WindowPressure, summarize_usage, window_pressure

NOW = 1_700_000_000_000
HOUR = 3_600_000
D = Decimal

HOT = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
# The caps the warnings read: USDT 10000 in the window, cold-wallet 2000, hot-wallet none.
POLICY = parse_policy(policy_toml(
    [DestinationTable("cold-wallet", "TQ5NbRmLKdSCzxRBZWmQqF3PBRGY2cmQpz", max_per_transfer="500",
                      window_cap="2000"),
     DestinationTable("hot-wallet", HOT)],
    coins={"USDT": CoinTable(max_per_transfer="3000", window_cap="10000")}))


def facts(destination="hot-wallet", amount="100") -> IntentFacts:
    return IntentFacts("i-1", "signal", "USDT", "TRX", destination, D(amount), NOW)


def sums(hour_count=0, coin=None, dest=None) -> Usage:
    return Usage(hour_count=hour_count, coin_sums=coin or {}, destination_sums=dest or {})


def counted(intent_id="t", coin="USDT", destination="hot-wallet", amount="10", at=NOW - 1, in_window=True):
    return CountedTransfer(intent_id=intent_id, coin=coin, destination=destination, amount=D(amount),
                           accepted_at_ms=at, in_window=in_window)


@pytest.mark.parametrize("accepted_at,in_hour", [
    pytest.param(NOW - HOUR, False, id="exactly-1h-ago-is-out"),
    pytest.param(NOW - HOUR + 1, True, id="1h-minus-1ms-is-in"),
    pytest.param(NOW, True, id="now"),
    pytest.param(NOW + 5_000, True, id="future-counts-fail-closed"),
])
def test_hour_count_edge(accepted_at, in_hour):
    """A transfer counts in the hour while accepted_at_ms > now - 1 h."""
    usage = summarize_usage([counted(at=accepted_at)], NOW, window_hours=24)
    assert usage.hour_count == (1 if in_hour else 0)


@pytest.mark.parametrize("window_hours,accepted_at,in_window", [
    pytest.param(24, NOW - 24 * HOUR, False, id="exactly-24h-ago-is-out"),
    pytest.param(24, NOW - 24 * HOUR + 1, True, id="24h-minus-1ms-is-in"),
    pytest.param(1, NOW - HOUR, False, id="1h-window-edge-out"),
    pytest.param(1, NOW - HOUR + 1, True, id="1h-window-edge-in"),
    pytest.param(2, NOW - HOUR, True, id="older-than-an-hour-still-in-2h-window"),
])
def test_window_edge(window_hours, accepted_at, in_window):
    """A transfer counts in the window sums while accepted_at_ms > now - window_hours."""
    usage = summarize_usage([counted(amount="7", at=accepted_at)], NOW, window_hours=window_hours)
    expected = D(7) if in_window else D(0)
    assert usage.coin_sum("USDT") == expected and usage.destination_sum("hot-wallet") == expected


def test_failed_transfers_count_in_the_hour_but_not_the_window():
    """Failed, rejected or cancelled transfers still count per hour, never in the window sums."""
    usage = summarize_usage([counted("a", amount="5"), counted("b", amount="9", in_window=False)], NOW, 24)
    assert usage.hour_count == 2
    assert usage.coin_sum("USDT") == D(5)
    assert usage.destination_sum("hot-wallet") == D(5)


def test_sums_are_per_coin_and_per_destination_and_exact():
    """Sums are kept apart per coin and per label, in exact decimal (0.1 + 0.2 == 0.3)."""
    usage = summarize_usage([
        counted("a", amount="0.1"), counted("b", amount="0.2", destination="cold-wallet"),
        counted("c", coin="BTC", destination="btc-vault", amount="0.000000000000000001"),
        counted("d", amount="3", at=NOW - 3 * HOUR),
    ], NOW, window_hours=24)
    assert usage.hour_count == 3
    assert dict(usage.coin_sums) == {"USDT": D("3.3"), "BTC": D("1E-18")}
    assert dict(usage.destination_sums) == {"hot-wallet": D("3.1"), "cold-wallet": D("0.2"),
                                            "btc-vault": D("1E-18")}
    assert usage.coin_sum("ETH") == 0 and usage.destination_sum("nowhere") == 0


def test_exclude_intent_id_leaves_that_intent_out_of_everything():
    """The intent being approved is excluded from both the hourly count and the sums."""
    transfers = [counted("pending-1", amount="2600"), counted("other", amount="100")]
    usage = summarize_usage(transfers, NOW, 24, exclude_intent_id="pending-1")
    assert (usage.hour_count, usage.coin_sum("USDT")) == (1, D(100))


def test_sums_never_round_silently():
    """A sum that cannot be exact raises decimal.Inexact instead of rounding."""
    transfers = [counted("a", amount="1" + "0" * 70), counted("b", amount="0.000000000000000001")]
    with pytest.raises(decimal.Inexact):
        summarize_usage(transfers, NOW, 24)


def test_usage_plus_returns_a_new_usage_and_leaves_the_old_one():
    """plus() adds one transfer to the count and both sums, without changing the original."""
    before = sums(hour_count=1, coin={"USDT": D("5")}, dest={"hot-wallet": D("5")})
    after = before.plus("USDT", "cold-wallet", D("2.50"))
    assert (after.hour_count, after.coin_sum("USDT"), after.destination_sum("cold-wallet"),
            after.destination_sum("hot-wallet")) == (2, D("7.5"), D("2.5"), D(5))
    assert (before.hour_count, before.coin_sum("USDT"), before.destination_sum("cold-wallet")) == (1, D(5), 0)


def test_usage_maps_are_read_only():
    """A Usage cannot be changed in place, not even through its sums."""
    source = {"USDT": D(1)}
    usage = Usage(hour_count=0, coin_sums=source, destination_sums={})
    source["USDT"] = D(999)
    assert usage.coin_sum("USDT") == D(1)
    with pytest.raises(TypeError):
        usage.coin_sums["USDT"] = D(0)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.hour_count = 0  # type: ignore[misc]


# --- window pressure -------------------------------------------------------------------

def pressure(intent_changes, before):
    intent = facts(**intent_changes)
    after = before.plus(intent.coin, intent.destination, intent.amount)
    return window_pressure(intent, POLICY, before, after)


@pytest.mark.parametrize("intent,before,expected", [
    pytest.param({"amount": "1000"}, sums(coin={"USDT": D("7000")}), [("coin", "USDT", D("8000"))],
                 id="coin-lands-exactly-on-80"),
    pytest.param({"amount": "999.999999"}, sums(coin={"USDT": D("7000")}), [], id="coin-stays-under-80"),
    pytest.param({"amount": "100"}, sums(coin={"USDT": D("8000")}), [], id="coin-was-already-at-80"),
    pytest.param({"amount": "100"}, sums(coin={"USDT": D("7999.999999")}), [("coin", "USDT", D("8099.999999"))],
                 id="coin-crosses-from-just-under"),
    pytest.param({"destination": "cold-wallet", "amount": "500"},
                 sums(coin={"USDT": D("100")}, dest={"cold-wallet": D("1100")}),
                 [("destination", "cold-wallet", D("1600"))], id="destination-crosses"),
    pytest.param({"destination": "cold-wallet", "amount": "500"},
                 sums(coin={"USDT": D("7600")}, dest={"cold-wallet": D("1200")}),
                 [("coin", "USDT", D("8100")), ("destination", "cold-wallet", D("1700"))], id="both-cross"),
    pytest.param({"amount": "500"}, sums(coin={"USDT": D("100")}, dest={"hot-wallet": D("99999")}), [],
                 id="destination-without-window-cap-never-warns"),
])
def test_window_pressure_reports_caps_crossing_80_percent_with_this_transfer(intent, before, expected):
    """A cap is reported when this transfer takes its sum from under 80% to 80% or more."""
    assert [(p.scope, p.name, p.used) for p in pressure(intent, before)] == expected


def test_window_pressure_detail_names_the_cap_and_the_percentage():
    """The warning says the sum, the percentage and the cap."""
    coin, dest = pressure({"destination": "cold-wallet", "amount": "500"},
                          sums(coin={"USDT": D("7600")}, dest={"cold-wallet": D("1200")}))
    assert coin == WindowPressure("coin", "USDT", "USDT", D("8100"), D("10000"), 24)
    assert coin.detail == "8100 USDT in 24 h is 81% of the USDT window_cap 10000"
    assert dest.detail == "1700 USDT in 24 h is 85% of cold-wallet's window_cap 2000"
