"""What tests/unit/sandbox/test_app.py and tests/integration/sandbox/test_app.py share: CONFIG,
SIGNAL, TREASURY, GOOD, T0, Harness."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import urlencode

from sandbox.app import SandboxApp
from sandbox.cli import fresh_state
from sandbox.config import load_config
from sandbox.replies import Reply
from sandbox.state import Store

CONFIG = load_config()

SIGNAL = CONFIG.find_key_by_name("signal")

TREASURY = CONFIG.find_key_by_name("treasury")

GOOD = "TSandboxDemoCo1dWa11etAddress11111"

T0 = 1_700_000_000_000


class Harness:
    def __init__(self, config=CONFIG, store: Store | None = None) -> None:
        self.now = T0
        self.slept: list[float] = []
        self.store = store or Store(fresh_state(config))
        self.app = SandboxApp(config, self.store, clock=lambda: self.now, sleep=self.slept.append)

    def call(self, method: str, path: str, key=None, client_ip: str = "127.0.0.1",
             timestamp: int | None = None, **params) -> Reply:
        query = urlencode(params).encode()
        if key is not None:
            query = urlencode({**params, "timestamp": timestamp if timestamp is not None else self.now}).encode()
            signature = hmac.new(key.api_secret.encode(), query, hashlib.sha256).hexdigest()
            query += b"&signature=" + signature.encode()
        return self.app.handle(method, path, query, b"", key.api_key if key else None, client_ip)

    def ok(self, *args, **kwargs):
        reply = self.call(*args, **kwargs)
        assert reply.status == 200, reply.body
        return json.loads(reply.body)

    def error(self, *args, **kwargs) -> int:
        reply = self.call(*args, **kwargs)
        assert reply.status >= 400, reply.body
        return json.loads(reply.body)["code"]

    def admin(self, method: str, path: str, body=None, client_ip: str = "127.0.0.1"):
        reply = self.app.handle(method, path, b"", json.dumps(body).encode() if body is not None else b"",
                                None, client_ip)
        return reply.status, json.loads(reply.body)

    def withdraw(self, amount="20", address=GOOD, order_id="w-1", **extra):
        return self.call("POST", "/sapi/v1/capital/withdraw/apply", TREASURY, coin="USDT", network="TRX",
                         address=address, amount=amount, withdrawOrderId=order_id, **extra)

    def history(self, **params):
        return self.ok("GET", "/sapi/v1/capital/withdraw/history", TREASURY, **params)

    def free(self, asset: str) -> Decimal:
        account = self.ok("GET", "/api/v3/account", SIGNAL)
        return Decimal(next(b["free"] for b in account["balances"] if b["asset"] == asset))
