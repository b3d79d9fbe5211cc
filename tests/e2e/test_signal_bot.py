"""End to end: the real `signal-bot` process against the real `sandbox-exchange` process.

Sweeps talk to a fake of our own treasury port (tests/support/fake_treasury.py:
real CURVE ROUTER/PUB sockets in this process) until `treasury-bot run` lands; the
tests with the real treasury are the lead's.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from common import messages
from signal_bot.sweep import sweep_intent_id
from signal_bot.webhook import signature_of
from tests.support.ports import free_port
from tests.support.procs import Proc, script
from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, DemoKey, start_sandbox
from tests.support.waiting import wait_until
from tests.support.fake_treasury import CurveFiles, FakeTreasury

pytestmark = pytest.mark.e2e

SECRET = "test-secret-not-real-0001"
CONFIG = """
[risk]
symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
max_quote_per_order = "2000"
max_orders_per_minute = 1000

[treasury]
timeout_seconds = 0.3
retries = 2
"""
SWEEP = """
[sweep]
asset = "USDT"
coin = "USDT"
network = "TRX"
destination = "cold-wallet"
keep = "1000"
min_sweep = "10"
step = "1"
retry_seconds = 1
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = start_sandbox(tmp_path_factory.mktemp("signal-e2e"), persistent=False)
    yield box
    box.stop()


@dataclass
class Bot:
    folder: Path
    proc: Proc
    port: int
    curve: CurveFiles
    intent_port: int
    event_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/signal"

    def post(self, body: dict, passphrase: str | None = SECRET) -> requests.Response:
        if passphrase is not None:
            body = {**body, "passphrase": passphrase}
        return requests.post(self.url, data=json.dumps(body), timeout=5)

    def log(self) -> str:
        return self.proc.log()

    def treasury(self) -> FakeTreasury:
        return FakeTreasury(self.curve, self.intent_port, self.event_port)


def write_bot_files(folder: Path, base_url: str, key: DemoKey = DEMO_SIGNAL, config: str = CONFIG,
                    extra_env: str = "") -> tuple[Path, int, CurveFiles, int, int]:
    folder.mkdir(parents=True, exist_ok=True)
    curve = CurveFiles.make(folder / "keys")
    port, intent_port, event_port = free_port(), free_port(), free_port()
    env_file = folder / "signal.env"
    env_file.write_text(
        f"BINANCE_BASE_URL={base_url}\n"
        f"SIGNAL_API_KEY={key.api_key}\nSIGNAL_API_SECRET={key.api_secret}\n"
        f"SIGNAL_WEBHOOK_BIND=127.0.0.1:{port}\nSIGNAL_WEBHOOK_SECRET={SECRET}\n"
        "SIGNAL_CURVE_SECRET_FILE=keys/signal/signal.key_secret\n"
        "TREASURY_CURVE_PUBLIC_FILE=keys/signal_side/treasury.key\n"
        f"TREASURY_INTENT_ENDPOINT=tcp://127.0.0.1:{intent_port}\n"
        f"TREASURY_EVENT_ENDPOINT=tcp://127.0.0.1:{event_port}\n"
        "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n" + extra_env)
    os.chmod(env_file, 0o600)
    (folder / "signal.toml").write_text(config)
    return env_file, port, curve, intent_port, event_port


def start_bot(folder: Path, sandbox, *, wait: bool = True, env: dict | None = None, **files) -> Bot:
    env_file, port, curve, intent_port, event_port = write_bot_files(folder, sandbox.base_url, **files)
    proc = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(env_file)],
                folder / "bot.log", env=env, cwd=folder).start()
    bot = Bot(folder, proc, port, curve, intent_port, event_port)
    if wait:
        proc.wait_for_log("event=signal_bot_started", timeout=20)
    return bot


@pytest.fixture
def bots(tmp_path, sandbox):
    started: list[Bot] = []

    def make(name: str = "bot", **kw) -> Bot:
        bot = start_bot(tmp_path / name, sandbox, **kw)
        started.append(bot)
        return bot
    yield make
    for bot in started:
        bot.proc.terminate()


def orders_with(sandbox, prefix: str) -> list[dict]:
    return [o for o in sandbox.orders() if o["clientOrderId"].startswith(prefix)]


def expected_sweep(sandbox, signal_id: str) -> str:
    """With USDT set to keep (1000) before a SELL, the sweep is the fill's quote amount floored to 1."""
    (order,) = orders_with(sandbox, signal_id)
    return str(int(Decimal(order["cummulativeQuoteQty"])))


def test_a_webhook_signal_becomes_a_correctly_rounded_order(bots, sandbox):
    """LIMIT quantity/price are floored to stepSize/tickSize; the id is the clientOrderId."""
    bot = bots()
    answer = bot.post({"id": "rnd-1", "symbol": "BTCUSDT", "side": "buy", "type": "limit",
                       "quantity": "0.0123456", "price": "59999.999"})
    assert answer.status_code == 202 and answer.json() == {"accepted": True, "id": "rnd-1"}
    (order,) = wait_until(lambda: orders_with(sandbox, "rnd-1"), what="the order on the sandbox")
    assert (order["symbol"], order["side"], order["type"], order["timeInForce"]) == ("BTCUSDT", "BUY", "LIMIT", "GTC")
    assert (order["origQty"], order["price"]) == ("0.01234000", "59999.99000000")
    bot.proc.wait_for_log("event=order_placed id=rnd-1")


def test_a_signed_market_signal_by_quote_amount_fills(bots, sandbox):
    """X-Signature authentication; MARKET quoteOrderQty fills and the fill is logged."""
    bot = bots()
    body = json.dumps({"id": "quote-1", "symbol": "ETHUSDT", "side": "BUY", "type": "MARKET",
                       "quote_amount": "30"}).encode()
    answer = requests.post(bot.url, data=body, headers={"X-Signature": signature_of(SECRET, body)}, timeout=5)
    assert answer.status_code == 202
    (order,) = wait_until(lambda: orders_with(sandbox, "quote-1"), what="the order")
    assert order["type"] == "MARKET" and order["status"] == "FILLED" and order["origQuoteOrderQty"] == "30.00000000"
    bot.proc.wait_for_log("event=order_placed id=quote-1")
    line = next(l for l in bot.log().splitlines() if "event=order_placed id=quote-1" in l)
    assert "status=FILLED" in line and "executed_qty=0.01" in line and "cummulative_quote_qty=30" in line


def test_bad_secret_duplicate_unknown_symbol_and_small_notional_make_no_order(bots, sandbox):
    """Each of the four is refused; a marker signal sent after them is the only new order."""
    bot = bots()
    good = {"id": "ref-ok", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"}
    assert bot.post({**good, "id": "ref-badsecret"}, passphrase="wrong-secret-not-real-9").status_code == 401
    assert bot.post(good).status_code == 202
    assert bot.post({**good, "quantity": "0.002"}).status_code == 202                        # duplicate id
    assert bot.post({**good, "id": "ref-sym", "symbol": "DOGEUSDT"}).status_code == 202      # not allowed
    assert bot.post({**good, "id": "ref-small", "quantity": "0.00001"}).status_code == 202   # 0.5 USDT < 5
    assert bot.post({**good, "id": "ref-marker"}).status_code == 202
    wait_until(lambda: orders_with(sandbox, "ref-marker"), what="the marker order")
    assert sorted(o["clientOrderId"] for o in orders_with(sandbox, "ref-")) == ["ref-marker", "ref-ok"]
    assert orders_with(sandbox, "ref-ok")[0]["origQty"] == "0.00100000"
    log = bot.log()
    assert "reason=duplicate" in log and "reason=unknown_symbol" in log and "reason=below_min_notional" in log
    assert SECRET not in log


def test_a_seen_id_is_not_retraded_after_a_restart_and_sigterm_exits_zero(bots, sandbox, tmp_path):
    """SIGTERM: exit 0 within 10 s; the next run over the same state file refuses the same id."""
    bot = bots("first")
    signal = {"id": "rs-1", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"}
    bot.post(signal)
    wait_until(lambda: orders_with(sandbox, "rs-1"), what="the first order")
    began = time.monotonic()
    assert bot.proc.terminate(timeout=10) == 0
    assert time.monotonic() - began < 10
    assert "event=signal_bot_stopped" in bot.log()
    again = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(bot.folder / "signal.env")],
                 bot.folder / "bot2.log", cwd=bot.folder).start()
    try:
        again.wait_for_log("event=signal_bot_started", timeout=20)
        bot.post(signal)
        bot.post({**signal, "id": "rs-marker"})
        wait_until(lambda: orders_with(sandbox, "rs-marker"), what="the marker order")
        assert len(orders_with(sandbox, "rs-1")) == 1
        assert "id=rs-1" in again.log() and "reason=duplicate" in again.log()
    finally:
        assert again.terminate() == 0


def test_an_unknown_order_outcome_is_reconciled_not_resent(bots, sandbox):
    """A 5XX after the order was booked: the bot looks it up and finds it; one order only."""
    bot = bots()
    sandbox.add_fault("/api/v3/order", "5xx_after", method="POST")
    try:
        bot.post({"id": "unk-1", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001",
                  "price": "50000"})
        bot.proc.wait_for_log("event=order_placed id=unk-1", timeout=15)
    finally:
        sandbox.clear_faults()
    assert "event=order_outcome_unknown id=unk-1" in bot.log()
    assert "reconciled=True" in next(l for l in bot.log().splitlines() if "event=order_placed id=unk-1" in l)
    assert len(orders_with(sandbox, "unk-1")) == 1


def test_refuses_to_start_with_a_withdraw_capable_key(tmp_path, sandbox):
    """The sandbox's treasury key can withdraw: the bot exits non-zero with a one-line reason."""
    env_file, *_ = write_bot_files(tmp_path / "wd", sandbox.base_url, key=DEMO_TREASURY)
    proc = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(env_file)],
                tmp_path / "wd.log", cwd=tmp_path).start()
    assert proc.wait_exit(20) == 2
    assert "refusing to start" in proc.log() and "withdrawal permission" in proc.log()
    assert DEMO_TREASURY.api_secret not in proc.log()


@pytest.mark.parametrize("where", ["environment", "env_file"])
def test_refuses_to_start_with_a_treasury_secret_in_its_environment(tmp_path, sandbox, where):
    """TREASURY_API_SECRET in the real environment or in signal.env stops the start."""
    fake = "treasury-secret-not-real-0003"
    extra = f"TREASURY_API_SECRET={fake}\n" if where == "env_file" else ""
    env_file, *_ = write_bot_files(tmp_path / where, sandbox.base_url, extra_env=extra)
    env = {"TREASURY_API_SECRET": fake} if where == "environment" else None
    proc = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(env_file)],
                tmp_path / f"{where}.log", env=env, cwd=tmp_path).start()
    assert proc.wait_exit(20) == 2
    assert "TREASURY_API_SECRET is set" in proc.log() and fake not in proc.log()


def test_a_fill_above_the_threshold_becomes_one_intent_and_events_are_logged(bots, sandbox):
    """SELL fill -> free USDT above keep + min_sweep -> one intent for the excess; the event is logged."""
    bot = bots("sweeper", config=CONFIG + SWEEP, wait=False)
    treasury = bot.treasury().start()
    try:
        bot.proc.wait_for_log("event=signal_bot_started", timeout=20)
        sandbox.set_balance("USDT", "1000")
        bot.post({"id": "sw-fill-1", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quote_amount": "120"})
        intent_id = sweep_intent_id("sw-fill-1")
        wait_until(lambda: treasury.transfer_requests(intent_id), timeout=15, what="the sweep intent")
        bot.proc.wait_for_log(f"event=sweep_intent_decided intent_id={intent_id}")
        (intent,) = treasury.transfer_requests(intent_id)
        assert (intent.amount, intent.destination, intent.coin, intent.network) == (
            expected_sweep(sandbox, "sw-fill-1"), "cold-wallet", "USDT", "TRX")
        event = messages.WithdrawalEvent(intent_id=intent_id, status="completed", withdrawal_id="w-1",
                                         tx_id="tx-1", at=1)

        def event_logged():  # slow joiner: publish until the bot has logged it
            if f"event=treasury_event intent_id={intent_id} status=completed" in bot.log():
                return True
            treasury.publish(event)
            return False
        wait_until(event_logged, timeout=10, interval=0.2, what="the treasury_event line")
    finally:
        treasury.stop()


def test_with_the_treasury_down_a_sweep_is_retried_with_the_same_id_and_decided_once(bots, sandbox):
    """No treasury: the intent is kept and retried; once the treasury is up, one decision."""
    bot = bots("patient", config=CONFIG + SWEEP)
    sandbox.set_balance("USDT", "1000")
    bot.post({"id": "sw-down-1", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quote_amount": "50"})
    intent_id = sweep_intent_id("sw-down-1")
    bot.proc.wait_for_log(f"event=sweep_intent_unanswered intent_id={intent_id}", timeout=15)
    treasury = bot.treasury().start()
    try:
        bot.proc.wait_for_log(f"event=sweep_intent_decided intent_id={intent_id}", timeout=15)
        sent = treasury.transfer_requests(intent_id)
        assert len(treasury.decided) == 1 and all(s == sent[0] for s in sent)
        assert sent[0].amount == expected_sweep(sandbox, "sw-down-1")
    finally:
        treasury.stop()


def test_replay_trades_good_lines_and_reports_bad_ones(tmp_path, sandbox):
    """A JSON-lines file: good lines become orders; a bad line is named by number; exit 1."""
    env_file, *_ = write_bot_files(tmp_path / "replay", sandbox.base_url)
    lines = tmp_path / "signals.jsonl"
    lines.write_text("\n".join([
        json.dumps({"id": "rp-1", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001",
                    "price": "50000"}),
        "{not json",
        json.dumps({"id": "rp-2", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": 1}),
        "",
        json.dumps({"id": "rp-3", "symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "20"}),
    ]) + "\n")
    proc = Proc("replay", [script("signal-bot"), "replay", str(lines), "--env-file", str(env_file)],
                tmp_path / "replay.log", cwd=tmp_path).start()
    assert proc.wait_exit(30) == 1
    log = proc.log()
    assert "line 2: skipped" in log and "line 3: skipped (quantity)" in log
    assert {o["clientOrderId"] for o in orders_with(sandbox, "rp-")} == {"rp-1", "rp-3"}


def test_signals_accepted_just_before_a_sigkill_are_traded_exactly_once_after_a_restart(bots, sandbox):
    """Two 202s, then SIGKILL while the first order is held in flight at the exchange and the second is
    still queued behind it: after a restart each id is on the sandbox exactly once, in arrival order - the
    held one found by its client order id (not resent), the queued one placed from the journal."""
    bot = bots("killed")
    held, queued = "die-held", "die-queued"
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"}
    sandbox.add_fault("/api/v3/order", "latency", count=1, seconds=4.0, method="POST")
    try:
        assert bot.post({**order, "id": held}).status_code == 202
        assert bot.post({**order, "id": queued}).status_code == 202
        wait_until(lambda: sandbox.faults() == [], timeout=5, interval=0.01,
                   what="the sandbox to hold the first order")
    finally:
        sandbox.clear_faults()
    bot.proc.kill9()
    assert "event=order_placed" not in bot.log()          # nothing was answered before it died
    again = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(bot.folder / "signal.env")],
                 bot.folder / "restarted.log", cwd=bot.folder).start()
    try:
        again.wait_for_log(f"event=order_placed id={queued}", timeout=30)
        again.wait_for_log("event=recovery_done", timeout=5)
        log = again.log()
    finally:
        assert again.terminate() == 0
    (first,) = orders_with(sandbox, held)
    (second,) = orders_with(sandbox, queued)
    assert first["receivedAt"] < second["receivedAt"]
    assert "reconciled=True" in next(l for l in log.splitlines() if f"event=order_placed id={held}" in l)
    assert f"event=signal_recovered id={queued}" in log
    assert f"event=signal_recovered id={held}" not in log


# -- issue 15 item 4: exits (OCO), close signals, LIMIT time to live ----------------------------
EXITS_CONFIG = CONFIG + """
[exits]
limit_ttl_seconds = 2
poll_seconds = 0.2
"""


def order_list(sandbox, list_client_order_id: str) -> list[dict]:
    return [o for o in sandbox.orders() if o.get("orderListId", -1) != -1
            and o["clientOrderId"][3:] == list_client_order_id[3:]]


def exit_legs(sandbox, entry_id: str) -> dict[str, dict]:
    from signal_bot.exit_plan import exit_ids
    ids = exit_ids(entry_id)
    return {o["clientOrderId"][:2]: o for o in sandbox.orders() if o["clientOrderId"] in (ids.take_profit, ids.stop_loss)}


@pytest.fixture
def bnb_price(sandbox):
    """BNBUSDT's price is moved by these tests; it is put back after each."""
    yield lambda price: sandbox.set_price("BNBUSDT", price)
    sandbox.set_price("BNBUSDT", "600")


def test_an_entry_with_exits_reaches_its_take_profit_on_the_sandbox(bots, sandbox, bnb_price):
    """A BUY fills, its OCO (LIMIT_MAKER 612 above, STOP_LOSS 594 below) rests; a move to 613 fills the take-profit."""
    bot = bots(config=EXITS_CONFIG)
    assert bot.post({"id": "tp-entry-1", "symbol": "BNBUSDT", "side": "BUY", "type": "MARKET",
                     "quantity": "0.1", "take_profit": "2%", "stop_loss": "1%"}).status_code == 202
    legs = wait_until(lambda: len(exit_legs(sandbox, "tp-entry-1")) == 2 and exit_legs(sandbox, "tp-entry-1"),
                      what="the OCO's two legs")
    assert (legs["tp"]["type"], legs["tp"]["side"], legs["tp"]["price"], legs["tp"]["origQty"]) == \
        ("LIMIT_MAKER", "SELL", "612.00000000", "0.10000000")
    assert (legs["sl"]["type"], legs["sl"]["stopPrice"]) == ("STOP_LOSS", "594.00000000")
    bot.proc.wait_for_log("event=exit_placed id=tp-entry-1")
    bnb_price("613")
    bot.proc.wait_for_log("event=exit_filled id=tp-entry-1 leg=take_profit")
    legs = exit_legs(sandbox, "tp-entry-1")
    assert (legs["tp"]["status"], legs["sl"]["status"]) == ("FILLED", "EXPIRED")
    assert legs["tp"]["cummulativeQuoteQty"] == "61.20000000"


def test_an_entry_with_exits_reaches_its_stop_loss_on_the_sandbox(bots, sandbox, bnb_price):
    """A BUY with price levels; a drop through the stop (594) triggers the STOP_LOSS leg at the market price."""
    bot = bots(config=EXITS_CONFIG)
    assert bot.post({"id": "sl-entry-1", "symbol": "BNBUSDT", "side": "BUY", "type": "MARKET",
                     "quantity": "0.1", "take_profit": "620.004", "stop_loss": "593.996"}).status_code == 202
    legs = wait_until(lambda: len(exit_legs(sandbox, "sl-entry-1")) == 2 and exit_legs(sandbox, "sl-entry-1"),
                      what="the OCO's two legs")
    # A SELL exit rounds both up to the tick: never sells for less, never loses more than asked.
    assert (legs["tp"]["price"], legs["sl"]["stopPrice"]) == ("620.01000000", "594.00000000")
    bot.proc.wait_for_log("event=exit_placed id=sl-entry-1")
    bnb_price("590")
    bot.proc.wait_for_log("event=exit_filled id=sl-entry-1 leg=stop_loss")
    legs = exit_legs(sandbox, "sl-entry-1")
    assert (legs["tp"]["status"], legs["sl"]["status"]) == ("EXPIRED", "FILLED")
    assert legs["sl"]["cummulativeQuoteQty"] == "59.00000000"


def test_a_close_signal_cancels_the_exit_and_sells_at_market(bots, sandbox, bnb_price):
    """The OCO is cancelled (both legs CANCELED) and one MARKET SELL of the entry's quantity goes out under the close's id."""
    bot = bots(config=EXITS_CONFIG)
    bot.post({"id": "cl-entry-1", "symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1",
              "take_profit": "2%", "stop_loss": "1%"})
    bot.proc.wait_for_log("event=exit_placed id=cl-entry-1")
    assert bot.post({"id": "cl-close-1", "symbol": "BNBUSDT", "side": "sell", "type": "market", "action": "close",
                     "closes": "cl-entry-1"}).status_code == 202
    (close,) = wait_until(lambda: orders_with(sandbox, "cl-close-1"), what="the close's market order")
    assert (close["type"], close["side"], close["origQty"], close["status"]) == ("MARKET", "SELL", "0.10000000", "FILLED")
    legs = exit_legs(sandbox, "cl-entry-1")
    assert (legs["tp"]["status"], legs["sl"]["status"]) == ("CANCELED", "CANCELED")
    bnb_price("700")     # the cancelled take-profit can no longer fill
    assert exit_legs(sandbox, "cl-entry-1")["tp"]["status"] == "CANCELED"
    assert bot.post({"id": "cl-close-2", "symbol": "BNBUSDT", "side": "SELL", "type": "MARKET", "action": "close",
                     "closes": "cl-entry-1"}).status_code == 202
    bot.proc.wait_for_log("event=order_refused id=cl-close-2")
    assert orders_with(sandbox, "cl-close-2") == []


def test_a_limit_entry_not_filled_within_its_ttl_is_cancelled(bots, sandbox):
    """A resting LIMIT BUY far below the market is CANCELED by the bot after limit_ttl_seconds (2 s)."""
    bot = bots(config=EXITS_CONFIG)
    bot.post({"id": "ttl-entry-1", "symbol": "BNBUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1",
              "price": "500", "take_profit": "2%", "stop_loss": "1%"})
    (order,) = wait_until(lambda: orders_with(sandbox, "ttl-entry-1"), what="the resting entry")
    assert order["status"] == "NEW"
    bot.proc.wait_for_log("event=entry_expired id=ttl-entry-1", timeout=10)
    assert orders_with(sandbox, "ttl-entry-1")[0]["status"] == "CANCELED"
    assert exit_legs(sandbox, "ttl-entry-1") == {}


def test_a_kill_between_journaling_and_sending_an_oco_does_not_double_it(bots, sandbox, bnb_price):
    """SIGKILL while the OCO request is held by the sandbox; after a restart the list is looked up, found and not resent."""
    sandbox.add_fault("/api/v3/orderList/oco", "latency", seconds=3)
    bot = bots("killed", config=EXITS_CONFIG)
    bot.post({"id": "kill-entry-1", "symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1",
              "take_profit": "2%", "stop_loss": "1%"})
    bot.proc.wait_for_log("event=exit_journaled id=kill-entry-1")
    bot.proc.kill9()
    again = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(bot.folder / "signal.env")],
                 bot.folder / "bot2.log", cwd=bot.folder).start()
    try:
        again.wait_for_log("event=exit_found id=kill-entry-1", timeout=30)
        again.wait_for_log("event=exit_placed id=kill-entry-1")
        assert len(exit_legs(sandbox, "kill-entry-1")) == 2
        assert len([o for o in sandbox.orders() if o["clientOrderId"].startswith(("tp-", "sl-"))
                    and o["clientOrderId"][3:] in {leg["clientOrderId"][3:] for leg in exit_legs(sandbox, "kill-entry-1").values()}]) == 2
        assert "event=exit_resent" not in again.log()
    finally:
        again.terminate()


# -- issue 15 item 5: realised_profit sweeps -----------------------------------------------------
PROFIT_SWEEP = SWEEP.replace('min_sweep = "10"', 'min_sweep = "1"').replace('step = "1"', 'step = "0.01"') + \
    'mode = "realised_profit"\n'


def test_a_realised_profit_sweep_sends_only_the_closed_trades_profit(bots, sandbox, bnb_price):
    """Free USDT far above keep, yet only the take-profit's 1.2 USDT (61.2 - 60, zero fees) is swept, once."""
    from signal_bot.exit_plan import exit_ids
    bot = bots("profit", config=EXITS_CONFIG + PROFIT_SWEEP, wait=False)
    treasury = bot.treasury().start()
    try:
        bot.proc.wait_for_log("event=signal_bot_started", timeout=20)
        sandbox.set_balance("USDT", "5000")
        bot.post({"id": "pr-entry-1", "symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1",
                  "take_profit": "2%", "stop_loss": "1%"})
        bot.proc.wait_for_log("event=exit_placed id=pr-entry-1")
        assert treasury.transfer_requests(sweep_intent_id("pr-entry-1")) == []     # a fill is not a profit
        bnb_price("613")
        bot.proc.wait_for_log("event=profit_realised entry=pr-entry-1")
        intent_id = sweep_intent_id("profit:" + exit_ids("pr-entry-1").list_client_order_id)
        wait_until(lambda: treasury.transfer_requests(intent_id), timeout=15, what="the profit sweep")
        bot.proc.wait_for_log(f"event=sweep_intent_decided intent_id={intent_id}")
        (intent,) = {(i.intent_id, i.amount) for i in treasury.transfer_requests(intent_id)}
        assert Decimal(intent[1]) == Decimal("1.2")
        assert list(treasury.decided) == [intent_id]
    finally:
        treasury.stop()
