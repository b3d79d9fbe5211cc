"""Start the real `sandbox-exchange` process for end-to-end tests, and drive its admin API.

    from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, sandbox_process

    with sandbox_process(tmp_path, complete_after_seconds=0.5) as sandbox:
        client = BinanceClient(sandbox.base_url, DEMO_TREASURY.api_key, DEMO_TREASURY.api_secret)
        ...
        sandbox.add_fault("/sapi/v1/capital/withdraw/apply", "5xx_after")
        record = sandbox.wait_for_withdrawal(lambda w: w["status"] == 6)

`start_sandbox` returns a started `Sandbox` (stop it yourself, or use the context
manager). The process runs with a state file in `tmp_path` so `restart()` keeps
everything. Admin calls raise `AdminCallFailed` on any non-2XX answer.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from tests.support.procs import Proc, script
from tests.support.waiting import wait_until

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "sandbox" / "demo.toml"
LISTENING = re.compile(r"sandbox listening on (http://\S+)")


@dataclass(frozen=True)
class DemoKey:
    name: str
    api_key: str
    api_secret: str


# The fake keys of sandbox/demo.toml (one shared account).
DEMO_SIGNAL = DemoKey("signal", "demo-signal-key-000000000000000000000000000000000000000000000000",
                      "demo-signal-secret-not-real-000000000000000000000000000000000000")
DEMO_TREASURY = DemoKey("treasury", "demo-treasury-key-0000000000000000000000000000000000000000000000",
                        "demo-treasury-secret-not-real-0000000000000000000000000000000000")
DEMO_READER = DemoKey("reader", "demo-reader-key-000000000000000000000000000000000000000000000000",
                      "demo-reader-secret-not-real-000000000000000000000000000000000000")

# Addresses of sandbox/demo.toml: a TRX address that completes, one that fails (5), one
# that is rejected (3), and an ETH/BSC-format address.
DEMO_TRX_ADDRESS = "TSandboxDemoCo1dWa11etAddress11111"
DEMO_TRX_HOT_ADDRESS = "TSandboxDemoHotWa11etAddress111111"
DEMO_TRX_FAILING = "TSandboxDemoFai1sAddress1111111111"
DEMO_TRX_REJECTING = "TSandboxDemoRejectsAddress11111111"
DEMO_EVM_ADDRESS = "0x5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d"


class AdminCallFailed(AssertionError):
    pass


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def demo_config_text(base: Path = DEMO_CONFIG, **exchange: Any) -> str:
    """demo.toml (or another config in its shape, such as the demo's generated
    var/sandbox.toml) with some settings replaced, e.g.
    `demo_config_text(complete_after_seconds=0.5, email_sent_seconds=0.2)`."""
    text = base.read_text(encoding="utf-8")
    for name, value in exchange.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        if not pattern.search(text):
            raise KeyError(f"demo.toml has no [exchange] setting {name!r}")
        text = pattern.sub(lambda _: f"{name} = {_toml_value(value)}", text, count=1)
    return text


class Sandbox:
    """A running sandbox process: its URL, its files, and its admin API."""

    def __init__(self, workdir: Path, config_path: Path, state_path: Path | None,
                 name: str = "sandbox", port: int = 0) -> None:
        self.workdir = workdir
        self.config_path = config_path
        self.state_path = state_path
        self.name = name
        self.port = port
        self.base_url = ""
        self.proc: Proc | None = None
        self.http = requests.Session()
        self._starts = 0

    # --- process -----------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> "Sandbox":
        self._starts += 1
        argv = [script("sandbox-exchange"), "--port", str(self.port), "--config", str(self.config_path)]
        if self.state_path is not None:
            argv += ["--state", str(self.state_path)]
        log_path = self.workdir / f"{self.name}.{self._starts}.log"
        self.proc = Proc(self.name, argv, log_path).start()
        self.proc.wait_for_log("sandbox listening on ", timeout=timeout)
        match = LISTENING.search(self.proc.log())
        assert match, self.proc.log()
        self.base_url = match.group(1)
        return self

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        self.http.close()
        return self.proc.terminate() if self.proc is not None else 0

    def restart(self, same_port: bool = True) -> "Sandbox":
        """Stop and start again with the same config and state file."""
        if same_port and self.base_url:
            self.port = int(self.base_url.rsplit(":", 1)[1])
        self.stop()
        self.http = requests.Session()
        return self.start()

    def log(self) -> str:
        return self.proc.log() if self.proc is not None else ""

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- admin API ---------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, self.url(path), json=body, timeout=10)
        if not 200 <= response.status_code < 300:
            raise AdminCallFailed(f"{method} {path} -> {response.status_code} {response.text}")
        return response.json()

    def health(self) -> dict:
        return self.admin("GET", "/sandbox/health")

    def withdrawals(self) -> list[dict]:
        return self.admin("GET", "/sandbox/withdrawals")["withdrawals"]

    def apply_calls(self) -> dict[str, int]:
        return self.admin("GET", "/sandbox/withdrawals")["apply_calls"]

    def orders(self) -> list[dict]:
        return self.admin("GET", "/sandbox/orders")["orders"]

    def test_orders(self) -> list[dict]:
        return self.admin("GET", "/sandbox/orders")["test_orders"]

    def add_fault(self, path: str, kind: str, count: int = 1, **options: Any) -> list[dict]:
        """One fault: kind in latency, 5xx_before, 5xx_after, drop_before, drop_after,
        429, 418, -1021, auth; options: method, seconds, retry_after, status."""
        return self.add_faults({"path": path, "kind": kind, "count": count, **options})

    def add_faults(self, *faults: dict) -> list[dict]:
        return self.admin("POST", "/sandbox/faults", {"faults": list(faults)})["faults"]

    def clear_faults(self) -> None:
        self.admin("DELETE", "/sandbox/faults")

    def faults(self) -> list[dict]:
        return self.admin("GET", "/sandbox/faults")["faults"]

    def set_clock_offset(self, offset_ms: int) -> dict:
        return self.admin("POST", "/sandbox/clock", {"offset_ms": offset_ms})

    def advance_clock(self, ms: int) -> dict:
        return self.admin("POST", "/sandbox/clock", {"advance_ms": ms})

    def server_time(self) -> int:
        return self.health()["server_time"]

    def set_key(self, name: str, **flags: Any) -> dict:
        """Change a key's rights, e.g. `set_key("treasury", can_withdraw=False)`."""
        return self.admin("POST", f"/sandbox/keys/{name}", flags)

    def keys(self) -> list[dict]:
        return self.admin("GET", "/sandbox/keys")["keys"]

    def set_balance(self, asset: str, free: str, locked: str | None = None) -> dict:
        body = {"asset": asset, "free": free}
        if locked is not None:
            body["locked"] = locked
        return self.admin("POST", "/sandbox/balances", body)["balances"]

    def balances(self) -> dict[str, dict[str, str]]:
        return self.admin("GET", "/sandbox/balances")["balances"]

    def set_price(self, symbol: str, price: str) -> dict:
        return self.admin("POST", "/sandbox/prices", {"symbol": symbol, "price": price})

    def force_withdrawal_status(self, withdrawal_id: str, status: int, info: str | None = None) -> dict:
        body: dict[str, Any] = {"status": status}
        if info is not None:
            body["info"] = info
        return self.admin("POST", f"/sandbox/withdrawals/{withdrawal_id}/status", body)

    def plant_withdrawal(self, **fields: Any) -> dict:
        """A withdrawal made outside the bot: coin, network, address, amount, withdrawOrderId."""
        return self.admin("POST", "/sandbox/withdrawals", fields)

    def wait_for_withdrawal(self, predicate: Callable[[dict], bool], timeout: float = 10.0,
                            what: str = "a matching withdrawal") -> dict:
        """Poll the admin list (no exchange weight used) until a withdrawal matches."""
        return wait_until(lambda: next((w for w in self.withdrawals() if predicate(w)), None),
                          timeout=timeout, interval=0.05, what=what)


def start_sandbox(tmp_path: Path, config: str | Path | None = None, *, persistent: bool = True,
                  name: str = "sandbox", port: int = 0, **exchange: Any) -> Sandbox:
    """Start `sandbox-exchange` on a free port. `config`: a TOML text or a path (default:
    demo.toml with `exchange` overrides, e.g. complete_after_seconds=0.3)."""
    if config is not None and exchange:
        raise TypeError("give either a config or [exchange] overrides, not both")
    workdir = tmp_path / name
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, Path):
        config_path = config
    else:
        config_path = workdir / "sandbox.toml"
        config_path.write_text(config if config is not None else demo_config_text(**exchange),
                               encoding="utf-8")
    state_path = workdir / "state.json" if persistent else None
    return Sandbox(workdir, config_path, state_path, name=name, port=port).start()


@contextmanager
def sandbox_process(tmp_path: Path, config: str | Path | None = None, **options: Any) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path, config, **options)
    try:
        yield sandbox
    finally:
        sandbox.stop()
