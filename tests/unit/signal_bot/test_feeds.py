"""Feed profiles: TradingView, mapped (3Commas-like) and text bodies become one Signal."""

from __future__ import annotations

import json

import pytest

from signal_bot.feeds import NATIVE, Profile, read_body, to_signal
from signal_bot.signals import SignalError

NOW_MS = 1_566_899_760_000          # 2019-08-27T09:56:00Z
TV = Profile("tradingview")
THREE = Profile("mapped", {"symbol": "tv_instrument", "side": "action", "quantity": "order.amount",
                           "passphrase": "secret", "time": "timestamp", "max_lag": "max_lag"},
                {"enter_long": "BUY", "exit_long": "SELL"}, ignore_unknown=True)


def signal_of(body: str | bytes, profile: Profile, now_ms: int = NOW_MS):
    raw = body.encode() if isinstance(body, str) else body
    return to_signal(read_body(raw, profile), profile, now_ms, lambda fields: "auto-id")


def test_a_tradingview_alert_maps_action_ticker_contracts():
    """action -> side, BINANCE:BTCUSDT -> BTCUSDT, contracts -> quantity, MARKET without a price."""
    s = signal_of('{"id": "BTCUSDT-2019-08-27T09:56:00Z", "action": "buy", "ticker": "BINANCE:BTCUSDT",'
                  ' "contracts": "0.001", "passphrase": "p"}', TV)
    assert (s.id, s.side, s.symbol, s.type, s.quantity) == ("BTCUSDT-2019-08-27T09:56:00Z", "BUY", "BTCUSDT",
                                                            "MARKET", "0.001")


def test_a_tradingview_close_makes_a_limit_price_and_numbers_stay_exact_text():
    """`"price": {{close}}` unquoted is the number's exact text, never a float; a price means LIMIT."""
    s = signal_of('{"id": "a", "action": "sell", "ticker": "BTCUSDT", "contracts": 0.00123,'
                  ' "price": 27123.10}', TV)
    assert (s.type, s.price, s.quantity) == ("LIMIT", "27123.10", "0.00123")


def test_tradingview_max_lag_refuses_an_old_alert_naming_timenow():
    """timenow older than max_lag is refused, the field named as the body spells it."""
    body = '{"id": "a", "action": "buy", "ticker": "BTCUSDT", "contracts": "1", "timenow": "2019-08-27T09:50:00Z", "max_lag": "60"}'
    with pytest.raises(SignalError) as err:
        signal_of(body, TV)
    assert err.value.field == "timenow" and "360 s old" in err.value.detail
    assert signal_of(body, TV, NOW_MS - 330_000).symbol == "BTCUSDT"


def test_a_ticker_of_another_exchange_is_refused():
    """COINBASE:BTCUSD is not this exchange's symbol: refused naming ticker."""
    with pytest.raises(SignalError) as err:
        signal_of('{"id": "a", "action": "buy", "ticker": "COINBASE:BTCUSDT", "contracts": "1"}', TV)
    assert err.value.field == "ticker"


def test_a_tradingview_refusal_names_the_alert_field():
    """A bad action is refused as `action`, the name the alert used."""
    with pytest.raises(SignalError) as err:
        signal_of('{"id": "a", "action": "hold", "ticker": "BTCUSDT", "contracts": "1"}', TV)
    assert err.value.field == "action"


def test_a_3commas_like_body_maps_through_the_declared_mapping():
    """secret, tv_instrument, action words and a dotted order.amount; unknown fields ignored."""
    body = {"secret": "p", "max_lag": "300", "timestamp": "2019-08-27T09:55:00Z", "trigger_price": "27000",
            "tv_exchange": "BINANCE", "tv_instrument": "BTCUSDT", "action": "enter_long", "bot_uuid": "x",
            "order": {"amount": "0.002", "currency_type": "base"}}
    read = read_body(json.dumps(body).encode(), THREE)
    assert read.passphrase == "p"
    s = to_signal(read, THREE, NOW_MS, lambda fields: "auto-id")
    assert (s.side, s.symbol, s.quantity, s.type, s.id) == ("BUY", "BTCUSDT", "0.002", "MARKET", "auto-id")


@pytest.mark.parametrize("text, expected", [
    ("buy BTCUSDT quote=100", ("BUY", "BTCUSDT", "MARKET", None, "100", None)),
    ("SELL BINANCE:BTCUSDT qty=0.01 price=30000 id=my-alert", ("SELL", "BTCUSDT", "LIMIT", "0.01", None, "30000")),
])
def test_a_text_command_is_a_signal(text, expected):
    """One line `side symbol key=value...` in every profile (TradingView's text/plain)."""
    for profile in (NATIVE, TV):
        s = signal_of(text + " passphrase=p", profile)
        assert (s.side, s.symbol, s.type, s.quantity, s.quote_amount, s.price) == expected


@pytest.mark.parametrize("text, field", [
    ("buy BTCUSDT color=red", "color"), ("buy BTCUSDT quote=1 quote=2", "quote"),
    ("buy BTCUSDT quote=ten", "quote"), ("buy", "side"), ("hold BTCUSDT quote=1", "side"),
])
def test_a_bad_text_command_names_its_field(text, field):
    """Each refusal of a text command names the key at fault."""
    with pytest.raises(SignalError) as err:
        signal_of(text, NATIVE)
    assert err.value.field == field


def test_the_native_profile_is_todays_shape_and_an_id_less_body_gets_the_hash_id():
    """Native JSON as before; without an id the supplied body id is used."""
    s = signal_of('{"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "10"}', NATIVE)
    assert s.id == "auto-id" and s.quote_amount == "10"
    with pytest.raises(SignalError) as err:
        signal_of('{"id": "a", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": 10}', NATIVE)
    assert err.value.field == "quote_amount"      # JSON numbers stay refused in the native shape


def test_the_configured_max_lag_judges_a_time_without_max_lag_and_no_time_is_not_judged():
    """[feed] max_lag_seconds applies to a body with a time and no max_lag; a body without a time passes."""
    lagged = Profile("tradingview", max_lag_seconds=30)
    body = '{"id": "a", "action": "buy", "ticker": "BTCUSDT", "contracts": "1", "timenow": "2019-08-27T09:55:00Z"}'
    with pytest.raises(SignalError) as err:
        signal_of(body, lagged)
    assert err.value.field == "timenow"
    assert signal_of('{"id": "a", "action": "buy", "ticker": "BTCUSDT", "contracts": "1"}', lagged).id == "a"
    with pytest.raises(SignalError) as err:
        signal_of('{"id": "a", "action": "buy", "ticker": "BTCUSDT", "contracts": "1", "max_lag": "60"}', TV)
    assert err.value.field == "timenow"


def test_fields_the_profile_does_not_map_pass_through_to_the_schema():
    """An exit's `take_profit` reaches the signal schema under its own name (JSON and text)."""
    read = read_body(b'{"id": "a", "action": "buy", "ticker": "BTCUSDT", "contracts": "1", "take_profit": "2%"}', TV)
    assert read.fields["take_profit"] == "2%"
    with pytest.raises(SignalError) as err:       # today's schema has no such field: named as sent
        to_signal(read, TV, NOW_MS, lambda fields: "x")
    assert err.value.field == "take_profit"


def test_a_native_name_the_profile_maps_elsewhere_is_refused_naming_it():
    """In the tradingview profile `symbol` is not read (`ticker` is): refused, not silently used."""
    with pytest.raises(SignalError) as err:
        signal_of('{"id": "a", "action": "buy", "ticker": "BTCUSDT", "symbol": "ETHUSDT", "contracts": "1"}', TV)
    assert err.value.field == "symbol" and "ticker" in err.value.detail


def test_a_misplaced_passphrase_in_a_text_command_is_never_echoed():
    """A word without `=`, or a secret where the side should be, is refused by position or key only."""
    for text in ("buy BTCUSDT test-secret-not-real-0009", "passphrase=test-secret-not-real-0009 buy BTCUSDT"):
        with pytest.raises(SignalError) as err:
            signal_of(text, NATIVE)
        assert "test-secret-not-real-0009" not in f"{err.value.field} {err.value.detail}"


@pytest.mark.parametrize("body", [b"null", b" true\n", b"false"])
def test_a_bare_json_word_is_json_not_a_text_command(body):
    """`null` starts with a letter but is JSON: refused as a non-object body, not as a command
    (found by the webhook fuzzer)."""
    with pytest.raises(SignalError) as refused:
        read_body(body, NATIVE)
    assert refused.value.field is None and "text command" not in str(refused.value)
