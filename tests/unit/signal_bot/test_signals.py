"""Signal parsing: every feed's one validated struct, with errors naming the field."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from signal_bot.signals import Signal, SignalError, decode_json_object, parse_signal

BASE = {"id": "sig-1", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.5"}


def test_a_market_signal_by_quantity_parses():
    """A complete MARKET-by-quantity signal becomes a Signal with its strings intact."""
    signal = parse_signal(BASE)
    assert signal == Signal(id="sig-1", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.5")


def test_side_type_and_time_in_force_are_case_insensitive():
    """TradingView's {{strategy.order.action}} says "buy": it is BUY."""
    signal = parse_signal({**BASE, "side": "sell", "type": "limit", "price": "100", "time_in_force": "ioc"})
    assert (signal.side, signal.type, signal.time_in_force) == ("SELL", "LIMIT", "IOC")


def test_the_passphrase_is_removed_before_parsing():
    """A passphrase field is not an unknown field and never reaches the struct."""
    signal = parse_signal({**BASE, "passphrase": "test-secret-not-real-0001"})
    assert "test-secret-not-real-0001" not in repr(signal)


@pytest.mark.parametrize("change, field", [
    ({"id": "x" * 65}, "id"),                  # issue 15: up to 64 printable characters
    ({"id": "tab\there"}, "id"),
    ({"id": ""}, "id"),
    ({"id": "abc\n"}, "id"),
    ({"symbol": "btc/usdt"}, "symbol"),
    ({"side": "HOLD"}, "side"),
    ({"type": "STOP_LOSS"}, "type"),
    ({"quantity": 0.5}, "quantity"),           # a JSON number: never a float for money
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "-1"}, "quantity"),
    ({"quantity": "1e3"}, "quantity"),
    ({"quantity": "NaN"}, "quantity"),
    ({"quantity": " 1"}, "quantity"),
    ({"quote_amount": "10"}, "quantity"),      # both given
    ({"price": "100"}, "price"),               # MARKET takes no price
    ({"time_in_force": "GTC"}, "time_in_force"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_fields_are_refused_naming_the_field(change, field):
    """Each bad value is a SignalError whose field is the key at fault."""
    with pytest.raises(SignalError) as err:
        parse_signal({**BASE, **change})
    assert err.value.field == field


@pytest.mark.parametrize("missing", ["id", "symbol", "side", "type"])
def test_a_missing_required_field_is_named(missing):
    """Leaving out a required key names that key."""
    fields = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SignalError) as err:
        parse_signal(fields)
    assert err.value.field == missing


def test_neither_quantity_nor_quote_amount_is_refused():
    """A signal must say how much."""
    with pytest.raises(SignalError) as err:
        parse_signal({k: v for k, v in BASE.items() if k != "quantity"})
    assert err.value.field == "quantity"


def test_limit_needs_a_price_and_takes_no_quote_amount():
    """LIMIT: quantity and price; quote_amount is MARKET only."""
    with pytest.raises(SignalError) as err:
        parse_signal({**BASE, "type": "LIMIT"})
    assert err.value.field == "price"
    with pytest.raises(SignalError) as err:
        parse_signal({k: v for k, v in BASE.items() if k != "quantity"} | {"type": "LIMIT", "price": "1",
                                                                           "quote_amount": "5"})
    assert err.value.field == "quote_amount"


def test_market_by_quote_amount_parses():
    """MARKET with quote_amount (quoteOrderQty) is a valid signal."""
    signal = parse_signal({k: v for k, v in BASE.items() if k != "quantity"} | {"quote_amount": "25.5"})
    assert signal.quote_amount == "25.5" and signal.quantity is None


@pytest.mark.parametrize("body", [b"{", b"[]", b'"x"', b"1", b"", b"\xff\xfe"])
def test_decode_json_object_refuses_what_is_not_one_object(body):
    """Only a JSON object is a signal body."""
    with pytest.raises(SignalError) as err:
        decode_json_object(body)
    assert err.value.field is None


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=40),
                                                       st.floats(allow_nan=True)), max_size=8))
def test_arbitrary_objects_either_parse_or_raise_signal_error(fields):
    """No input makes parsing raise anything but SignalError."""
    try:
        parse_signal({**BASE, **fields})
    except SignalError:
        pass


@given(st.decimals(min_value="0.00000001", max_value="1000000", places=8))
def test_any_positive_plain_decimal_quantity_is_kept_exactly(value):
    """Amounts are carried as their exact strings."""
    text = format(value, "f")
    assert parse_signal({**BASE, "quantity": text}).quantity == text


# -- issue 15 item 4: exits and close signals ------------------------------------------------------
EXIT_BASE = {"id": "x-1", "symbol": "BNBUSDT", "side": "buy", "type": "market", "quantity": "0.1"}


def test_a_signal_may_carry_take_profit_and_stop_loss_as_prices_or_percentages():
    """"2%" and "594.5" are both exit levels; they are kept as sent."""
    signal = parse_signal({**EXIT_BASE, "take_profit": "2%", "stop_loss": "594.5"})
    assert (signal.take_profit, signal.stop_loss, signal.action) == ("2%", "594.5", "open")


@pytest.mark.parametrize("fields, field", [
    ({"take_profit": "2%"}, "take_profit"),                         # an OCO needs both legs
    ({"take_profit": "2%", "stop_loss": "0%"}, "stop_loss"),
    ({"take_profit": "-2%", "stop_loss": "1%"}, "take_profit"),
    ({"take_profit": "2 %", "stop_loss": "1%"}, "take_profit"),
    ({"take_profit": 2, "stop_loss": "1%"}, "take_profit"),       # never a JSON number
    ({"closes": "x-0"}, "closes"),                                  # only for a close
])
def test_bad_exit_levels_are_refused_naming_the_field(fields, field):
    """Each refusal is a SignalError naming the offending field."""
    with pytest.raises(SignalError) as caught:
        parse_signal({**EXIT_BASE, **fields})
    assert caught.value.field == field


def test_a_close_signal_names_its_entry_and_carries_no_amount():
    """action "CLOSE" is read case-insensitively; a quantity or a LIMIT type is refused."""
    close = {"id": "c-1", "symbol": "BNBUSDT", "side": "sell", "type": "market", "action": "CLOSE", "closes": "x-1"}
    assert parse_signal(close).action == "close" and parse_signal(close).closes == "x-1"
    for extra, field in (({"quantity": "0.1"}, "quantity"), ({"type": "limit", "price": "1"}, "type"),
                         ({"closes": None}, "closes")):
        with pytest.raises(SignalError) as caught:
            parse_signal({**close, **extra})
        assert caught.value.field == field
