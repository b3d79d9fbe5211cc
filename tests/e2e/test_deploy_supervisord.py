"""End to end: the production supervisord configs (deploy/*-host.conf) run the real bots.

Each host's config is used as shipped except for its filesystem roots, rewritten to a
temp layout (/opt/X/venv/bin -> this venv, /etc/X -> generated config, /run/X and
/var/log/X -> temp folders) and without `user=` (the tests do not run as root). The two
supervisords stand for the two hosts; the sandbox stands for Binance.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

from demo.prepare import DemoPorts, prepare
from demo.var_texts import DEMO_WEBHOOK_SECRET
from tests.support.ports import free_port
from tests.support.procs import BIN, Proc, script
from tests.support.sandbox import demo_config_text, start_sandbox
from tests.support.waiting import Timeout, wait_until

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def host_config(tmp: Path, host: str, bot: str, etc: Path) -> tuple[Path, Path]:
    """deploy/HOST-host.conf with its roots moved under tmp; returns (config, program log)."""
    run, logs = tmp / f"run-{bot}", tmp / f"log-{bot}"
    run.mkdir()
    logs.mkdir()
    text = (DEPLOY / f"{host}-host.conf").read_text()
    for old, new in ((f"/opt/{bot}/venv/bin", BIN), (f"/etc/{bot}", etc), (f"/run/{bot}", run),
                     (f"/var/log/{bot}", logs)):
        text = text.replace(old, str(new))
    text = re.sub(r"^user=.*$", "", text, flags=re.MULTILINE)
    settings = "\n".join(line for line in text.splitlines() if not line.startswith(";"))
    assert "/opt/" not in settings and "/var/log/" not in settings and "/run/" not in settings
    config = tmp / f"{host}-host.conf"
    config.write_text(text)
    return config, logs / f"{host}.log"


def ctl(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([script("supervisorctl"), "-c", str(config), *args], capture_output=True, text=True,
                          timeout=60)


def test_the_two_host_configs_run_both_bots_that_sweep_and_stop_cleanly(tmp_path):
    """treasury-host.conf and signal-host.conf: both bots start, a sell is swept to completed, shutdown exits 0."""
    ports = DemoPorts(*distinct_free_ports(5))
    etc = prepare(tmp_path / "etc", ports).files.var
    # The sandbox config prepare() wrote: it holds the treasury's Ed25519 public key.
    sandbox = start_sandbox(tmp_path, demo_config_text(etc / "sandbox.toml", complete_after_seconds=0.5),
                            persistent=False, port=ports.sandbox)
    supervisors: list[tuple[Path, Proc]] = []
    try:
        for host, bot, ready in (("treasury", "treasury-bot", "event=treasury_ready"),
                                 ("signal", "signal-bot", "event=signal_bot_started")):
            config, program_log = host_config(tmp_path, host, bot, etc)
            proc = Proc(f"supervisord-{host}", [script("supervisord"), "-c", str(config)],
                        tmp_path / f"supervisord-{host}.out").start()
            supervisors.append((config, proc))
            try:
                wait_until(lambda: ready in (program_log.read_text() if program_log.exists() else ""), timeout=30,
                           what=f"{bot} started by its supervisord")
            except Timeout as exc:
                program = program_log.read_text() if program_log.exists() else "(no program log)"
                raise AssertionError(f"{exc}\n{proc.log()[-3000:]}\n{program[-3000:]}") from None
        answer = requests.post(f"http://127.0.0.1:{ports.webhook}/signal", timeout=10, data=json.dumps({
            "id": "deploy-sell-1", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01",
            "passphrase": DEMO_WEBHOOK_SECRET}))
        assert answer.status_code == 202

        def completed_sweeps() -> list:
            conn = sqlite3.connect(f"file:{etc / 'treasury-ledger.sqlite'}?mode=ro", uri=True, timeout=10)
            try:
                return conn.execute("SELECT intent_id FROM intents WHERE intent_id LIKE 'sw-%'"
                                    " AND status = 'completed'").fetchall()
            finally:
                conn.close()
        wait_until(completed_sweeps, timeout=30, what="the sweep withdrawn to completed")
        # Issue 16: `supervisorctl signal HUP <program>` reaches each bot, which reloads and runs on.
        for (config, _), program in zip(supervisors, ("treasury", "signal")):
            result = ctl(config, "signal", "HUP", program)
            assert result.returncode == 0, result.stdout + result.stderr
        for host in ("treasury", "signal"):
            program_log = tmp_path / f"log-{host}-bot" / f"{host}.log"
            wait_until(lambda: "event=reload_done" in program_log.read_text(), timeout=30,
                       what=f"the {host} bot's reload_done after supervisorctl signal HUP")
        for config, proc in reversed(supervisors):
            result = ctl(config, "shutdown")
            assert result.returncode == 0, result.stdout + result.stderr
            assert proc.wait_exit(60) == 0
        treasury_out, signal_out = (proc.log() for _, proc in supervisors)
        assert "stopped: treasury (exit status 0)" in treasury_out
        assert "stopped: signal (exit status 0)" in signal_out
        assert "SIGKILL" not in treasury_out + signal_out
    finally:
        for _, proc in supervisors:
            proc.terminate(30)
        sandbox.stop()
