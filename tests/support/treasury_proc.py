"""A real `treasury-bot run` process for end-to-end tests, wired to a running sandbox.

    treasury = TreasuryProcess(tmp_path, sandbox).start()
    with treasury.client("signal") as client: client.send_intent(...)
    treasury.kill9(); treasury.start()      # crash and restart on the same files
    treasury.intent_status_in_ledger("id")  # read the ledger file directly
"""

from __future__ import annotations

import subprocess

import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any, Mapping

from common import messages
from common.intent_client import EventSubscriber, IntentClient, TreasuryUnavailable
from demo.policy_text import CoinTable, DestinationTable, policy_toml
from tests.support.ports import free_port
from tests.support.procs import Proc, script
from tests.support.sandbox import (DEMO_TRX_ADDRESS, DEMO_TRX_FAILING, DEMO_TRX_HOT_ADDRESS,
                                   DEMO_TRX_REJECTING, DEMO_TREASURY, Sandbox)
from tests.support.treasury import CurveFiles, make_curve
from tests.support.waiting import wait_until

# The sandbox's four demo addresses: one that completes, one for client "other" only, one
# whose withdrawals fail at the exchange and one the exchange rejects.
E2E_DESTINATIONS = (
    DestinationTable("cold-wallet", DEMO_TRX_ADDRESS),
    DestinationTable("hot-wallet", DEMO_TRX_HOT_ADDRESS, clients=("other",)),
    DestinationTable("failing-wallet", DEMO_TRX_FAILING),
    DestinationTable("rejecting-wallet", DEMO_TRX_REJECTING),
)
E2E_USDT = CoinTable(max_per_transfer="1000", window_cap="100000", approval_above="900")


def e2e_policy(*, usdt: Mapping[str, Any] | None = None, **over: Any) -> str:
    """The e2e treasury's policy (quarantine 0, 1000 transfers an hour, USDT 1000 a transfer
    and 100000 a day, approval above 900, a reconcile grace of 1 s); `usdt` changes fields
    of the USDT table, `over` is given to policy_toml instead of these values."""
    coin = dataclasses.replace(E2E_USDT, **(usdt or {}))
    return policy_toml(**{"destinations": E2E_DESTINATIONS, "coins": {"USDT": coin},
                          "max_transfers_per_hour": 1000, "reconcile_grace_seconds": 1,
                          "reconcile_deadline_minutes": 2, **over})


E2E_POLICY = e2e_policy()


def new_intent(intent_id: str, amount: str = "25", destination: str = "cold-wallet",
               **over) -> messages.TransferIntent:
    fields = dict(intent_id=intent_id, coin="USDT", network="TRX", destination=destination,
                  amount=amount, reason="e2e", created_at=int(time.time() * 1000))
    fields.update(over)
    return messages.TransferIntent(**fields)


class TreasuryProcess:
    def __init__(self, tmp: Path, sandbox: Sandbox, *, policy_text: str = E2E_POLICY,
                 poll_seconds: float = 0.2, smtp: tuple[str, int] | None = None,
                 api_key: str = DEMO_TREASURY.api_key, api_secret: str = DEMO_TREASURY.api_secret,
                 extra_env: dict[str, str] | None = None) -> None:
        self.dir = tmp / "treasury"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sandbox = sandbox
        self.curve: CurveFiles = make_curve(self.dir)
        self.policy_path = self.dir / "treasury.toml"
        self.policy_path.write_text(policy_text, encoding="utf-8")
        self.ledger_path = self.dir / "ledger.sqlite"
        self.intent_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.event_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.metrics_port = free_port()  # issue 14: /metrics, /healthz, /readyz
        env = {
            "BINANCE_BASE_URL": sandbox.base_url,
            "TREASURY_API_KEY": api_key,
            "TREASURY_API_SECRET": api_secret,
            "TREASURY_POLICY_FILE": "treasury.toml",
            "TREASURY_LEDGER_PATH": "ledger.sqlite",
            "TREASURY_INTENT_ENDPOINT": self.intent_endpoint,
            "TREASURY_EVENT_ENDPOINT": self.event_endpoint,
            "TREASURY_CURVE_SECRET_FILE": str(self.curve.treasury_secret),
            "TREASURY_AUTHORIZED_CLIENTS_DIR": str(self.curve.clients_dir),
            "TREASURY_SANDBOX_POLL_SECONDS": str(poll_seconds),
            "TREASURY_METRICS_BIND": f"127.0.0.1:{self.metrics_port}",
            "LOG_LEVEL": "INFO",
        }
        if smtp is not None:
            env.update({"SMTP_HOST": smtp[0], "SMTP_PORT": str(smtp[1]), "SMTP_SECURITY": "none",
                        "ALERT_EMAIL_FROM": "treasury@example.test",
                        "ALERT_EMAIL_TO": "ops@example.test,cfo@example.test"})
        env.update(extra_env or {})
        self.env_path = self.dir / "treasury.env"
        self.write_env(env)
        self.proc: Proc | None = None
        self.starts = 0

    def write_env(self, env: dict[str, str]) -> None:
        self.env = env
        self.env_path.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
        self.env_path.chmod(0o600)

    def start(self, *, wait_ready: bool = True, timeout: float = 20.0) -> "TreasuryProcess":
        self.starts += 1
        self.proc = Proc("treasury", [script("treasury-bot"), "run", "--env-file", str(self.env_path)],
                         self.dir / f"treasury.{self.starts}.log", cwd=self.dir,
                         ).start()
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Ready when it answers a ping (and still running)."""
        def answers() -> bool:
            if not self.proc.alive():
                raise AssertionError(f"treasury exited ({self.proc.popen.returncode}):\n{self.log()[-3000:]}")
            with self.client(timeout=0.3, retries=1) as client:
                try:
                    return client.ping().version is not None
                except TreasuryUnavailable:
                    return False
        wait_until(answers, timeout=timeout, what="the treasury to answer a ping")

    def http_get(self, path: str = "/metrics", timeout: float = 5.0) -> tuple[int, str]:
        """GET one of the metrics listener's pages: (HTTP status, body)."""
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=timeout) as reply:
                return reply.status, reply.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8")

    def check(self) -> "subprocess.CompletedProcess[str]":
        """`treasuryctl check` on this treasury's env file, as an operator runs it."""
        return subprocess.run([script("treasuryctl"), "check", "--env-file", str(self.env_path)],
                              capture_output=True, text=True, timeout=60, cwd=self.dir)

    def ctl(self, *args: str, timeout: float = 60) -> "subprocess.CompletedProcess[str]":
        """`treasuryctl ARGS --env-file ...` as an operator runs it on the treasury's host."""
        return subprocess.run([script("treasuryctl"), "--env-file", str(self.env_path), *args],
                              capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def withdraw_once(self, intent_id: str, amount: str, final: str = "completed", **over) -> None:
        """Send one intent, see it accepted, and wait for its final status."""
        with self.client() as client:
            decision = client.send_intent(new_intent(intent_id, amount=amount, **over))
        assert decision.outcome == "accepted", decision
        self.wait_status(intent_id, final)

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("treasury.*.log")))

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def terminate(self, timeout: float = 10.0) -> int:
        return self.proc.terminate(timeout) if self.proc is not None else 0

    def client(self, name: str = "signal", *, timeout: float = 2.0, retries: int = 3) -> IntentClient:
        return IntentClient(self.intent_endpoint, self.curve.keys(name), self.curve.server_public,
                            timeout=timeout, retries=retries)

    def subscriber(self, name: str = "signal") -> EventSubscriber:
        return EventSubscriber(self.event_endpoint, self.curve.keys(name), self.curve.server_public)

    # -- the ledger, read directly -----------------------------------------------------------

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.ledger_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def status_of(self, intent_id: str) -> str | None:
        rows = self.query("SELECT status FROM intents WHERE intent_id = ?", (intent_id,))
        return rows[0][0] if rows else None

    def wait_status(self, intent_id: str, status: str, timeout: float = 20.0) -> None:
        wait_until(lambda: self.status_of(intent_id) == status, timeout=timeout,
                   what=f"intent {intent_id} to reach {status} (now {self.status_of(intent_id)})")

    def statuses_of(self, intent_id: str) -> list[str]:
        return [row[0] for row in self.query(
            "SELECT t.to_status FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            " WHERE i.intent_id = ? ORDER BY t.seq", (intent_id,))]
