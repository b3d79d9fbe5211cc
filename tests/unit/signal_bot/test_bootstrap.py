"""signal_bot/bootstrap.py: building the bot's objects from settings touches nothing.

Settings point at an exchange, a treasury and a webhook address nobody listens on and at
a state file in a folder that does not exist; every socket, file and request is refused
while building (tests/support/no_io.py). The start steps (open, start, acquire) are where
I/O happens, in signal_bot/app.py's order.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from common.clock import FakeClock
from common.config import ApiCredentials, SignalSettings
from common.curve import KeyPair
from signal_bot import bootstrap
from signal_bot.config_file import parse_config
from signal_bot.orders import OrderDesk
from signal_bot.symbol_rules import LotRule, SymbolRules
from tests.support.no_io import forbid_io

NOWHERE = Path("/nonexistent-signal-bot-dir/state.sqlite")

CONFIG = parse_config("""
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "100"
max_orders_per_minute = 10

[sweep]
asset = "USDT"
coin = "USDT"
network = "TRX"
destination = "cold"
keep = "10"
min_sweep = "5"
step = "1"
""")


def settings() -> SignalSettings:
    return SignalSettings(
        env_path=None, base_url="http://127.0.0.1:9",
        credentials=ApiCredentials("signal-key-not-real-000000000000", "signal-secret-not-real-0000"),
        webhook_host="127.0.0.1", webhook_port=9, webhook_secret="test-secret-not-real-0001",
        intent_endpoint="tcp://127.0.0.1:9", event_endpoint="tcp://127.0.0.1:9", state_path=NOWHERE)


def started(clock: FakeClock) -> bootstrap.Started:
    rules = {"BTCUSDT": SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT",
                                    LotRule(Decimal("0.0001"), Decimal("100"), Decimal("0.0001")))}
    return bootstrap.Started(KeyPair(b"p" * 40, b"s" * 40), b"q" * 40,
                             bootstrap.make_client(settings(), clock), rules)


@pytest.mark.parametrize("dry_run", [False, True])
def test_building_the_run_graph_opens_no_socket_reads_no_file_and_sends_nothing(monkeypatch, dry_run):
    """build_run returns every object of `run`, unstarted, with I/O refused throughout."""
    clock = FakeClock()
    audited = started(clock)
    touched = forbid_io(monkeypatch)
    bot = bootstrap.build_run(settings(), CONFIG, audited, clock, dry_run=dry_run, locked_at_ms=0)
    assert touched == []
    assert isinstance(bot.desk, OrderDesk) and bot.server.port == 9
    assert bot.intake.queue is not None and not bot.orders.recovered.is_set()


def test_building_the_replay_graph_touches_nothing(monkeypatch):
    """build_replay: the desk and the sweeps, unstarted, the state file not opened."""
    clock = FakeClock()
    audited = started(clock)
    touched = forbid_io(monkeypatch)
    bot = bootstrap.build_replay(settings(), CONFIG, audited, clock, dry_run=False)
    assert touched == [] and isinstance(bot.desk, OrderDesk)
    assert bot.store.path == NOWHERE


def test_the_exchange_client_and_the_instance_lock_are_built_without_io(monkeypatch):
    """make_client sends no request (its clock sync is a start step); the lock file is not created."""
    touched = forbid_io(monkeypatch)
    client = bootstrap.make_client(settings(), FakeClock())
    lock = bootstrap.instance_lock(settings())
    assert touched == [] and client.base_url == "http://127.0.0.1:9"
    assert lock.path == Path(str(NOWHERE) + ".lock")


def test_the_guard_does_refuse_io(monkeypatch):
    """The guard itself: opening the state store under it is refused and noted."""
    touched = forbid_io(monkeypatch)
    store = bootstrap.build_replay(settings(), CONFIG, started(FakeClock()), FakeClock(), dry_run=False).store
    with pytest.raises(AssertionError):
        store.open()
    assert touched and touched[0] in ("os.mkdir", "Path.mkdir", "sqlite3.connect")


def test_the_intent_client_is_built_without_a_socket(monkeypatch):
    """`signal-bot intent`'s client: the REQ socket opens at the first request, not when built."""
    touched = forbid_io(monkeypatch)
    client = bootstrap.intent_client(settings(), KeyPair(b"p" * 40, b"s" * 40), b"q" * 40, CONFIG.treasury)
    assert touched == [] and client.endpoint == "tcp://127.0.0.1:9"
    assert (client.timeout, client.retries) == (CONFIG.treasury.timeout_seconds, CONFIG.treasury.retries)
