"""Two hosts (issue 7 item 6): the treasury and the signal bot in two network namespaces.

Host A (namespace A) runs the sandbox exchange and the treasury; the treasury binds its
ROUTER and PUB on A's veth address (CURVE is always on; a non-loopback bind is allowed
with it) and reaches the exchange on A's loopback. Host B (namespace B) runs the signal
bot, which reaches the treasury at tcp://<A's veth address> and the exchange through a
relay on B's own loopback (a bot takes plain http:// only for a loopback URL; in
production both use https://api.binance.com). The two veth addresses exist only between
the namespaces, so no traffic leaves the machine. A SELL signal posted to the bot's
webhook inside B becomes a sweep intent over CURVE across the link, a withdrawal at
the exchange, `completed` in the treasury's ledger and a `completed` event the bot logs.
The namespaces are removed afterwards, whatever happened; without root or `ip` the test
skips, saying why.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from signal_bot.sweep import sweep_intent_id
from tests.support.netns import NetnsPair, NetnsUnavailable
from tests.support.procs import Proc, script
from tests.support.sandbox import DEMO_SIGNAL, demo_config_text
from tests.support.signal_proc import CONFIG as SIGNAL_CONFIG
from tests.support.treasury_proc import TreasuryProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

EXCHANGE_PORT = 18080          # fresh namespaces: no port can be taken already
INTENT_PORT, EVENT_PORT = 7701, 7702
RELAY_PORT, WEBHOOK_PORT = 18081, 8080
WEBHOOK_SECRET = "test-secret-not-real-two-hosts-01"
ROOT = Path(__file__).resolve().parents[2]


class _ExchangeInA:
    """What TreasuryProcess needs of a sandbox: the exchange's URL as seen from host A."""

    base_url = f"http://127.0.0.1:{EXCHANGE_PORT}"


@pytest.fixture
def hosts() -> Iterator[NetnsPair]:
    try:
        pair = NetnsPair.create()
    except NetnsUnavailable as exc:
        print(f"SKIP two hosts: {exc}")
        pytest.skip(f"network namespaces cannot be made here: {exc}")
    procs: list[Proc] = []
    pair.procs = procs  # type: ignore[attr-defined]
    try:
        yield pair
    finally:
        for proc in reversed(procs):
            proc.terminate(timeout=10)
        pair.remove()


def start_in(hosts: NetnsPair, ns: str, name: str, argv: list[str], log: Path, ready: str, **kw) -> Proc:
    proc = Proc(name, hosts.exec_argv(ns, argv), log, **kw).start()
    hosts.procs.append(proc)  # type: ignore[attr-defined]
    proc.wait_for_log(ready, timeout=30)
    return proc


def post_signal_in_b(hosts: NetnsPair, signal_id: str, quote_amount: str) -> int:
    body = json.dumps({"id": signal_id, "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                       "quote_amount": quote_amount, "passphrase": WEBHOOK_SECRET})
    out = hosts.python(hosts.ns_b, "import requests, sys\n"
                       "print(requests.post(sys.argv[1], data=sys.argv[2], timeout=10).status_code)",
                       f"http://127.0.0.1:{WEBHOOK_PORT}/signal", body)
    return int(out.strip())


def exchange_withdrawals_from_a(hosts: NetnsPair) -> dict:
    out = hosts.python(hosts.ns_a, "import requests, sys\n"
                       "print(requests.get(sys.argv[1], timeout=10).text)",
                       f"http://127.0.0.1:{EXCHANGE_PORT}/sandbox/withdrawals")
    return json.loads(out)


def test_a_sweep_runs_end_to_end_over_curve_between_two_network_namespaces(tmp_path, hosts):
    """SELL in B -> sweep intent over CURVE to the treasury on A's veth address -> one
    withdrawal at the exchange -> `completed` in the ledger and in the bot's log."""
    assert hosts.ip_a not in hosts.addresses() and hosts.ip_b not in hosts.addresses(), \
        "the link's addresses must exist only inside the namespaces"
    assert f"inet {hosts.ip_a}/30" in hosts.addresses(hosts.ns_a)
    assert f"inet {hosts.ip_b}/30" in hosts.addresses(hosts.ns_b)

    # Host A: the exchange (on A's loopback and its veth address) and the treasury.
    exchange_dir = tmp_path / "host-a" / "exchange"
    exchange_dir.mkdir(parents=True)
    config = exchange_dir / "sandbox.toml"
    text = demo_config_text(complete_after_seconds=0.5)
    text, swapped = re.subn(r'USDT = "100000"', 'USDT = "1000"', text, count=1)  # room for one sweep
    assert swapped == 1
    config.write_text(text)
    start_in(hosts, hosts.ns_a, "sandbox", [script("sandbox-exchange"), "--host", "0.0.0.0", "--port",
                                            str(EXCHANGE_PORT), "--config", str(config), "--state",
                                            str(exchange_dir / "state.json")],
             exchange_dir / "sandbox.log", "sandbox listening on ")

    treasury = TreasuryProcess(tmp_path / "host-a", _ExchangeInA())
    treasury.intent_endpoint = f"tcp://{hosts.ip_a}:{INTENT_PORT}"
    treasury.event_endpoint = f"tcp://{hosts.ip_a}:{EVENT_PORT}"
    treasury.write_env({**treasury.env, "TREASURY_INTENT_ENDPOINT": treasury.intent_endpoint,
                        "TREASURY_EVENT_ENDPOINT": treasury.event_endpoint})
    treasury.proc = start_in(hosts, hosts.ns_a, "treasury",
                             [script("treasury-bot"), "run", "--env-file", str(treasury.env_path)],
                             treasury.dir / "treasury.1.log", "event=treasury_ready", cwd=treasury.dir)
    assert f"intent_endpoint=tcp://{hosts.ip_a}:{INTENT_PORT}" in treasury.log()

    # Host B: the signal bot with its own key pair and the treasury's PUBLIC key only.
    bot_dir = tmp_path / "host-b" / "signal"
    (bot_dir / "keys").mkdir(parents=True)
    (bot_dir / "treasury_public").mkdir()
    shutil.copy(treasury.curve.client_secrets["signal"], bot_dir / "keys" / "signal.key_secret")
    shutil.copy(treasury.curve.treasury_public, bot_dir / "treasury_public" / "treasury.key")
    env = bot_dir / "signal.env"
    env.write_text(
        f"BINANCE_BASE_URL=http://127.0.0.1:{RELAY_PORT}\n"
        f"SIGNAL_API_KEY={DEMO_SIGNAL.api_key}\nSIGNAL_API_SECRET={DEMO_SIGNAL.api_secret}\n"
        f"SIGNAL_WEBHOOK_BIND=127.0.0.1:{WEBHOOK_PORT}\nSIGNAL_WEBHOOK_SECRET={WEBHOOK_SECRET}\n"
        "SIGNAL_CURVE_SECRET_FILE=keys/signal.key_secret\nTREASURY_CURVE_PUBLIC_FILE=treasury_public/treasury.key\n"
        f"TREASURY_INTENT_ENDPOINT=tcp://{hosts.ip_a}:{INTENT_PORT}\n"
        f"TREASURY_EVENT_ENDPOINT=tcp://{hosts.ip_a}:{EVENT_PORT}\n"
        "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n")
    env.chmod(0o600)
    (bot_dir / "signal.toml").write_text(SIGNAL_CONFIG)
    start_in(hosts, hosts.ns_b, "relay", [sys.executable, "-m", "tests.support.netns", "relay",
                                          f"127.0.0.1:{RELAY_PORT}", f"{hosts.ip_a}:{EXCHANGE_PORT}"],
             tmp_path / "host-b" / "relay.log", "relay listening on ", env={"PYTHONPATH": str(ROOT)}, cwd=ROOT)
    bot = start_in(hosts, hosts.ns_b, "signal-bot", [script("signal-bot"), "run", "--env-file", str(env)],
                   bot_dir / "bot.log", "event=signal_bot_started", cwd=bot_dir,
                   env={"TREASURY_API_KEY": "", "TREASURY_API_SECRET": ""})

    # The sweep, end to end across the link.
    assert post_signal_in_b(hosts, "two-hosts-1", "120") == 202
    intent_id = sweep_intent_id("two-hosts-1")
    treasury.wait_status(intent_id, "completed", timeout=45)
    wait_until(lambda: f"event=treasury_event intent_id={intent_id} status=completed" in bot.log(),
               timeout=20, what="the signal bot (host B) to log the completed event")

    assert treasury.query("SELECT client FROM intents WHERE intent_id = ?", (intent_id,)) == [("signal",)]
    state = exchange_withdrawals_from_a(hosts)
    assert state["apply_calls"] == {intent_id: 1}
    (withdrawal,) = state["withdrawals"]
    assert withdrawal["withdrawOrderId"] == intent_id and withdrawal["status"] == 6
    assert Decimal(withdrawal["amount"]) == Decimal(treasury.query(
        "SELECT amount FROM intents WHERE intent_id = ?", (intent_id,))[0][0])
