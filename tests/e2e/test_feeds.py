"""End to end (issue 15): TradingView-shaped bodies, JSON and text, through a real HTTP client
against the real `signal-bot run` and `sandbox-exchange` processes; a refused address; answers
within TradingView's 3 s under load; a resend after a 5XX trades once."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import pytest
import requests

from signal_bot.signal_ids import client_order_id
from tests.e2e.test_signal_bot import CONFIG, SECRET, bots, orders_with, sandbox  # noqa: F401 - fixtures
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

TV_CONFIG = CONFIG + """
[feed]
profile = "tradingview"
dedupe_window_seconds = 60

[access]
allow = ["tradingview"]
trusted_proxies = ["127.0.0.1"]
"""
TRADINGVIEW = {"X-Forwarded-For": "52.89.214.238"}     # what the front (Caddy/nginx) adds


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(bot, body: str | dict, headers: dict | None = None, content_type: str = "application/json"):
    data = json.dumps(body) if isinstance(body, dict) else body
    return requests.post(bot.url, data=data.encode(), timeout=5,
                         headers={"Content-Type": content_type, **TRADINGVIEW, **(headers or {})})


def test_tradingview_json_and_text_alerts_trade_once_each_even_when_resent(bots, sandbox):  # noqa: F811 - fixtures
    """A `{{ticker}}-{{timenow}}` id and a text command without id: one order each, resends duplicates."""
    bot = bots(config=TV_CONFIG)
    alert_id = f"BTCUSDT-{now_text()}"
    alert = {"id": alert_id, "action": "buy", "ticker": "BINANCE:BTCUSDT", "contracts": 0.001,
             "price": 50000.5, "timenow": now_text(), "max_lag": "60", "passphrase": SECRET}
    derived = client_order_id(alert_id)
    first = post(bot, alert)
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": True, "id": alert_id, "client_order_id": derived}
    (order,) = wait_until(lambda: orders_with(sandbox, derived), what="the TradingView order")
    assert (order["side"], order["type"], order["origQty"], order["price"]) == (
        "BUY", "LIMIT", "0.00100000", "50000.50000000")
    for _ in range(3):                                   # TradingView resends up to three times
        again = post(bot, alert)
        assert again.status_code == 202 and again.json()["duplicate"] is True
    text = f"sell BTCUSDT quote=12 passphrase={SECRET}"
    answer = post(bot, text, content_type="text/plain")
    assert answer.status_code == 202, answer.text
    reply = answer.json()
    assert reply["id_from"] == "body_hash" and reply["dedupe_window_seconds"] == 60
    wait_until(lambda: orders_with(sandbox, reply["id"]), what="the text command's order")
    resent = post(bot, text, content_type="text/plain")
    assert resent.json() == {**reply, "duplicate": True}
    bot.proc.wait_for_log(f"event=order_refused id={reply['id']}")
    assert len(orders_with(sandbox, derived)) == 1 and len(orders_with(sandbox, reply["id"])) == 1
    stale = {**alert, "id": "stale-1", "timenow": "2019-08-27T09:56:00Z"}
    refused = post(bot, stale)
    assert refused.status_code == 422 and refused.json()["field"] == "timenow"
    assert SECRET not in bot.log()


def test_a_body_from_a_refused_address_is_403_and_trades_nothing(bots, sandbox):  # noqa: F811 - fixtures
    """Outside the allow-list (directly, or named by the trusted front) is 403; X-Forwarded-For
    from an untrusted peer is never believed."""
    bot = bots(config=TV_CONFIG)
    body = {"id": "ip-refused", "action": "buy", "ticker": "BTCUSDT", "contracts": "0.001", "price": "50000",
            "passphrase": SECRET}
    for forwarded in ("203.0.113.9", "52.89.214.238, 203.0.113.9"):
        answer = post(bot, body, headers={"X-Forwarded-For": forwarded})
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    direct = requests.post(bot.url, data=json.dumps(body), timeout=5)   # 127.0.0.1 itself: not TradingView
    assert direct.status_code == 403
    assert post(bot, {**body, "id": "ip-marker"}).status_code == 202
    wait_until(lambda: orders_with(sandbox, "ip-marker"), what="the marker order")
    assert orders_with(sandbox, "ip-refused") == []
    bot.proc.wait_for_log("event=webhook_forbidden caller=203.0.113.9")


def test_answers_stay_within_three_seconds_under_load(bots, sandbox):  # noqa: F811 - fixtures
    """120 posts from 12 threads while each order takes 0.3 s at the exchange: the slowest
    answer is printed and under TradingView's 3 s."""
    bot = bots(config=TV_CONFIG)
    sandbox.add_fault("/api/v3/order", "latency", count=-1, seconds=0.3)
    times: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        session = requests.Session()
        for i in range(10):
            kind = i % 3
            body = {"id": f"load-{n}-{i // 2}", "action": "buy", "ticker": "BTCUSDT", "contracts": "0.0002",
                    "price": "30000", "passphrase": SECRET if kind != 2 else "wrong-not-real"}
            began = time.perf_counter()
            answer = session.post(bot.url, data=json.dumps(body), headers=TRADINGVIEW, timeout=5)
            with lock:
                times.append(time.perf_counter() - began)
                statuses.append(answer.status_code)
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        sandbox.clear_faults()
    times.sort()
    print(f"\nwebhook answers under load: n={len(times)} p50={times[len(times) // 2] * 1000:.1f} ms "
          f"max={times[-1] * 1000:.1f} ms statuses={sorted(set(statuses))}")
    assert len(times) == 120 and times[-1] < 3.0
    assert set(statuses) <= {202, 401}


def test_a_resend_after_a_503_trades_once(bots, sandbox):  # noqa: F811 - fixtures
    """With a queue of one and a slow exchange some posts are 503 (nothing journaled); each body
    is resent until 202, as TradingView does after a 5XX: every body is one order, none two."""
    bot = bots(config=TV_CONFIG.replace("[feed]", "[webhook]\nqueue_size = 1\n\n[feed]"))
    sandbox.add_fault("/api/v3/order", "latency", count=4, seconds=1.0)
    bodies = [{"id": f"r5-{n}", "action": "buy", "ticker": "BTCUSDT", "contracts": "0.0002", "price": "30000",
               "passphrase": SECRET} for n in range(6)]
    answers: dict[str, list[int]] = {b["id"]: [] for b in bodies}
    threads = []
    for body in bodies:
        def send(body=body) -> None:
            answers[body["id"]].append(post(bot, body).status_code)
        threads.append(threading.Thread(target=send))
        threads[-1].start()
    for t in threads:
        t.join(10)
    assert any(503 in codes for codes in answers.values()), answers
    for body in bodies:                                      # resent after a 5XX, as TradingView does
        wait_until(lambda: post(bot, body).status_code == 202, timeout=15, interval=0.3,
                   what=f"a 202 for {body['id']}")
    for body in bodies:
        wait_until(lambda: orders_with(sandbox, body["id"]), timeout=15, what=f"the order of {body['id']}")
    bot.proc.wait_for_log("event=webhook_queue_full")
    assert {b["id"]: len(orders_with(sandbox, b["id"])) for b in bodies} == {b["id"]: 1 for b in bodies}


def test_test_signal_prints_the_rounded_order_and_trades_nothing(tmp_path, sandbox):  # noqa: F811 - fixtures
    """`signal-bot test-signal` with the bot's env: the order rounded to the sandbox's filters,
    the passphrase checked; no order on the exchange, no state file."""
    import subprocess

    from tests.e2e.test_signal_bot import write_bot_files
    from tests.support.procs import script

    folder = tmp_path / "ts"
    env_file, *_ = write_bot_files(folder, sandbox.base_url, config=TV_CONFIG)
    alert = {"id": "ts-{{ticker}} 1", "action": "buy", "ticker": "BINANCE:BTCUSDT", "contracts": "0.0123456",
             "price": 59999.999, "passphrase": SECRET}
    # `.alert`: an input the user writes, holding the passphrase by design (the secret scan
    # treats it as it treats the env file: tests/security/secret_scan.py INPUT_SUFFIXES).
    (folder / "tradingview.alert").write_text(json.dumps(alert))
    done = subprocess.run([script("signal-bot"), "test-signal", "tradingview.alert", "--env-file", str(env_file)],
                          cwd=folder, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    derived = client_order_id("ts-{{ticker}} 1")
    assert report["order"] == {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01234",
                               "price": "59999.99", "time_in_force": "GTC", "newClientOrderId": derived,
                               "notional": report["order"]["notional"]}
    assert SECRET not in done.stdout
    wrong = subprocess.run([script("signal-bot"), "test-signal", "-", "--env-file", str(env_file)], cwd=folder,
                           input=json.dumps({**alert, "passphrase": "wrong-not-real"}), capture_output=True,
                           text=True, timeout=30)
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["refused"]["status"] == 401
    assert orders_with(sandbox, derived) == [] and not (folder / "state.sqlite").exists()
