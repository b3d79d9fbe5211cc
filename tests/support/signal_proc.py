"""A real `signal-bot run` process wired to a TreasuryProcess (keys, endpoints) and a sandbox."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import requests

from tests.support.ports import free_port
from tests.support.procs import Proc, script
from tests.support.sandbox import DEMO_SIGNAL
from tests.support.treasury_proc import TreasuryProcess

SECRET = "test-secret-not-real-0002"
CONFIG = """
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "2000"
max_orders_per_minute = 1000

[treasury]
timeout_seconds = 0.5
retries = 2

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


class SignalBot:
    """A real `signal-bot run` wired to a TreasuryProcess's endpoints and keys."""

    def __init__(self, folder: Path, sandbox, treasury: TreasuryProcess, config: str = CONFIG) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # The signal side holds its own key pair and a copy of the treasury's PUBLIC key only.
        side = folder / "treasury_public"
        side.mkdir()
        shutil.copy(treasury.curve.treasury_public, side / "treasury.key")
        self.port = free_port()
        self.metrics_port = free_port()  # issue 14: /metrics, /healthz, /readyz
        env = folder / "signal.env"
        env.write_text(
            f"BINANCE_BASE_URL={sandbox.base_url}\n"
            f"SIGNAL_API_KEY={DEMO_SIGNAL.api_key}\nSIGNAL_API_SECRET={DEMO_SIGNAL.api_secret}\n"
            f"SIGNAL_WEBHOOK_BIND=127.0.0.1:{self.port}\nSIGNAL_WEBHOOK_SECRET={SECRET}\n"
            f"SIGNAL_METRICS_BIND=127.0.0.1:{self.metrics_port}\n"
            f"SIGNAL_CURVE_SECRET_FILE={treasury.curve.client_secrets['signal']}\n"
            f"TREASURY_CURVE_PUBLIC_FILE={side / 'treasury.key'}\n"
            f"TREASURY_INTENT_ENDPOINT={treasury.intent_endpoint}\n"
            f"TREASURY_EVENT_ENDPOINT={treasury.event_endpoint}\n"
            "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n")
        os.chmod(env, 0o600)
        (folder / "signal.toml").write_text(config)
        self.proc = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(env)],
                         folder / "bot.log", cwd=folder,
                         env={k: "" for k in ("TREASURY_API_KEY", "TREASURY_API_SECRET")}).start()
        self.proc.wait_for_log("event=signal_bot_started", timeout=20)

    def http_get(self, path: str = "/metrics", timeout: float = 5.0) -> tuple[int, str]:
        """GET one of the metrics listener's pages: (HTTP status, body)."""
        reply = requests.get(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=timeout)
        return reply.status_code, reply.text

    def sell(self, signal_id: str, quote_amount: str) -> None:
        body = {"id": signal_id, "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                "quote_amount": quote_amount, "passphrase": SECRET}
        reply = requests.post(f"http://127.0.0.1:{self.port}/signal", data=json.dumps(body), timeout=5)
        assert reply.status_code == 202, reply.text
