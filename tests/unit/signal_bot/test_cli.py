"""The console script's pure parts (the `intent` command against a fake treasury over real
CURVE is in tests/integration/signal_bot/test_cli.py)."""

from __future__ import annotations

import json
import logging

import pytest

from signal_bot import cli
from signal_bot.app import read_signals
from signal_bot.signals import Signal, SignalError


@pytest.fixture(autouse=True)
def restore_logging():
    """cli.main installs a handler on the (captured) stderr; put the root logger back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_read_signals_numbers_lines_and_skips_blanks():
    """Good lines are Signals, bad ones SignalErrors with their 1-based line number."""
    lines = [json.dumps({"id": "a", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "10"}),
             "", "{oops", json.dumps({"id": "b", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"})]
    got = list(read_signals(lines))
    assert [n for n, _ in got] == [1, 3, 4]
    assert isinstance(got[0][1], Signal) and isinstance(got[1][1], SignalError)
    assert got[2][1].field == "quantity"


@pytest.mark.parametrize("command", ["run", "replay", "intent"])
def test_every_command_has_a_help(command, capsys):
    """--help prints usage with --env-file and exits 0."""
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    assert "--env-file" in capsys.readouterr().out
