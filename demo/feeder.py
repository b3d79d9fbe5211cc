"""The demo's signal feed: posts a realistic sequence of signals to the signal bot's webhook.

    python -m demo.feeder --env-file var/feeder.env

It stands in for a TradingView alert: JSON bodies to `POST /signal`, authenticated with the
shared secret as a `passphrase` field or as an `X-Signature` HMAC-SHA256 header. The
sequence: two buys, a signal with a wrong secret, a duplicate, a symbol outside the
allow-list, an order under the exchange's minimum notional, and a sell whose fill lifts
the USDT balance above the sweep threshold, so that the signal bot asks the treasury for a
sweep. It first waits (bounded) until the webhook answers, never a fixed sleep, then
checks each HTTP answer and exits 0 when every answer was the expected one (1 otherwise,
2 if the webhook never came up). Signal ids carry a per-run tag, so a second `make demo`
over the same state trades again instead of being refused as duplicates.

Env file: FEEDER_WEBHOOK_URL (http://127.0.0.1:PORT/signal), FEEDER_WEBHOOK_SECRET.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import string
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import requests
from dotenv import dotenv_values

WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Step:
    title: str
    body: dict[str, Any]
    auth: str            # "passphrase" | "signature" | "wrong"
    expect_status: int
    then: str            # what the signal bot's log shows for it


def run_tag(now: float) -> str:
    """A short base-36 tag from the clock, unique per run (ids stay well under 36 characters)."""
    digits = string.digits + string.ascii_lowercase
    number, text = int(now), ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text[-6:] or "0"


def sequence(tag: str) -> list[Step]:
    """The demo's signals (pure)."""
    first_buy = {"id": f"demo-{tag}-buy-btc", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                 "quantity": "0.001", "price": "61000"}
    return [
        Step("buy 0.001 BTC, LIMIT at 61000 (crosses the 60000 market, so it fills)", first_buy,
             "passphrase", 202, "order_placed"),
        Step("buy ETH for 50 USDT, MARKET by quote amount, signed with X-Signature",
             {"id": f"demo-{tag}-buy-eth", "symbol": "ETHUSDT", "side": "BUY", "type": "MARKET",
              "quote_amount": "50"}, "signature", 202, "order_placed"),
        Step("a signal with the wrong secret",
             {"id": f"demo-{tag}-forged", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
              "quote_amount": "900"}, "wrong", 401, "webhook_refused status=401"),
        Step("the first BTC buy again, same id (a replayed alert)", first_buy, "passphrase", 202,
             "order_refused reason=duplicate"),
        Step("buy DOGE: not on the signal bot's allow-list",
             {"id": f"demo-{tag}-doge", "symbol": "DOGEUSDT", "side": "BUY", "type": "MARKET",
              "quote_amount": "20"}, "passphrase", 202, "order_refused reason=unknown_symbol"),
        Step("buy 0.00001 BTC at 60000 = 0.6 USDT, under the exchange's 5 USDT minimum",
             {"id": f"demo-{tag}-tiny", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
              "quantity": "0.00001", "price": "60000"}, "passphrase", 202,
             "order_refused reason=below_min_notional"),
        Step("sell 0.01 BTC, MARKET: the fill lifts USDT above keep + min_sweep",
             {"id": f"demo-{tag}-sell-btc", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
              "quantity": "0.01"}, "signature", 202, "order_placed, then sweep_created and the treasury's decision"),
    ]


def request_for(step: Step, secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers for one step (pure)."""
    headers = {"Content-Type": "application/json"}
    if step.auth == "signature":
        body = json.dumps(step.body).encode()
        headers["X-Signature"] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return body, headers
    passphrase = secret if step.auth == "passphrase" else "wrong-secret-not-real-0000"
    return json.dumps({**step.body, "passphrase": passphrase}).encode(), headers


def wait_for_webhook(url: str, timeout: float, clock: Callable[[], float] = time.monotonic) -> bool:
    """True once the webhook's port accepts a connection (a bare TCP probe: the bot logs
    every HTTP request it refuses, and a probe is not a signal)."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    deadline = clock() + timeout
    while True:
        try:
            with socket.create_connection(address, timeout=1.0):
                return True
        except OSError:
            if clock() >= deadline:
                return False
            time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.feeder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", default="var/feeder.env", help="FEEDER_WEBHOOK_URL and FEEDER_WEBHOOK_SECRET")
    parser.add_argument("--wait-seconds", type=float, default=WAIT_SECONDS, help="how long to wait for the webhook")
    args = parser.parse_args(argv)
    env = dotenv_values(args.env_file)
    url, secret = env.get("FEEDER_WEBHOOK_URL"), env.get("FEEDER_WEBHOOK_SECRET")
    if not url or not secret:
        print(f"feeder: {args.env_file} must set FEEDER_WEBHOOK_URL and FEEDER_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    print(f"waiting for the signal bot's webhook at {url}", flush=True)
    if not wait_for_webhook(url, args.wait_seconds):
        print(f"feeder: the webhook at {url} did not answer within {args.wait_seconds:g} s", flush=True)
        return 2
    steps = sequence(run_tag(time.time()))
    surprises = 0
    with requests.Session() as http:
        for number, step in enumerate(steps, start=1):
            body, headers = request_for(step, secret)
            answer = http.post(url, data=body, headers=headers, timeout=10)
            ok = answer.status_code == step.expect_status
            surprises += not ok
            print(f"signal {number}/{len(steps)}: {step.title}\n"
                  f"    sent {json.dumps(step.body)} ({step.auth})\n"
                  f"    -> HTTP {answer.status_code} {answer.text.strip()}"
                  f"{'' if ok else f'  UNEXPECTED, wanted {step.expect_status}'}; watch for: {step.then}",
                  flush=True)
    if surprises:
        print(f"feeder: {surprises} answer(s) were not the expected ones", flush=True)
        return 1
    print(f"feeder: all {len(steps)} signals answered as expected; done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
