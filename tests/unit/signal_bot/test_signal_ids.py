"""Signal ids people can write and the exchange's client order id derived from them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from signal_bot.signal_ids import BINANCE_CLIENT_ID, body_id, client_order_id, id_problem
from signal_bot.signals import parse_signal

BASE = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.5"}


def test_an_old_style_id_is_its_own_client_order_id():
    """Ids of the old pattern (every id already in a state file) keep their exchange id."""
    for old in ("sig-1", "rnd-1", "A" * 36, "x_y-z"):
        assert client_order_id(old) == old


def test_a_tradingview_placeholder_id_is_accepted_and_derived_within_binance_rules():
    """`{{ticker}}-{{timenow}}` rendered is an id; its client order id matches Binance's pattern, 36 chars."""
    text = "BTCUSDT-2019-08-27T09:56:00Z"
    signal = parse_signal({**BASE, "id": text})
    assert signal.id == text
    derived = signal.client_order_id
    assert BINANCE_CLIENT_ID.match(derived) and len(derived) == 36 and derived.startswith("h.")
    assert client_order_id(text) == derived              # deterministic: a resend is the same order


def test_a_derived_id_maps_to_itself():
    """The journal's key rebuilt into a signal keeps its order (idempotent mapping)."""
    derived = client_order_id("My Alert {{ticker}} 1")
    assert client_order_id(derived) == derived


@given(st.text(min_size=1, max_size=64).filter(lambda t: id_problem(t) is None))
def test_every_printable_id_gets_a_valid_client_order_id(text):
    """Any id the schema admits gives an id within Binance's pattern and 36 characters."""
    assert BINANCE_CLIENT_ID.match(client_order_id(text))


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64))
def test_different_ids_give_different_client_order_ids(a, b):
    """No two distinct ids meet (old ids are themselves; hashed ones carry a '.' old ids cannot)."""
    if a != b and id_problem(a) is None and id_problem(b) is None:
        assert client_order_id(a) != client_order_id(b) or client_order_id(a) in (a, b)


@pytest.mark.parametrize("bad", ["", "x" * 65, "a\nb", "tab\there", "nul\x00"])
def test_ids_that_are_not_printable_text_up_to_64_are_refused(bad):
    """Empty, too long, or carrying control characters: a problem is named."""
    assert id_problem(bad) is not None


def test_a_body_id_is_stable_within_a_window_and_changes_with_it():
    """The same fields in the same window name the same signal; the next window a new one."""
    fields = {**BASE}
    first = body_id(fields, 100)
    assert first == body_id(dict(reversed(list(fields.items()))), 100)
    assert first != body_id(fields, 101) and first != body_id({**fields, "quantity": "0.6"}, 100)
    assert re.fullmatch(r"b-[a-z2-7]{32}", first) and client_order_id(first) == first
