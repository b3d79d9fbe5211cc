"""Building blocks for treasury tests: CURVE keys, a policy file, coin rules, an in-process server."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import zmq

from common.clock import Clock, SystemClock
from common.curve import KeyPair, generate, load_authorized_clients, load_key_pair, load_public_key
from common.intent_client import IntentClient
from treasury_bot.decider import DecisionContext
from treasury_bot.ledger import Ledger
from treasury_bot.policy import NetworkRule
from treasury_bot.policy_file import Policy, parse_policy
from treasury_bot.server import Authenticator, IntentServer
from tests.support.ports import free_port
from tests.support.waiting import wait_until

# Addresses that match the sandbox's and the coin rules' TRX regex; obviously not real.
COLD_ADDRESS = "TTestCo1dWa11etFakeAddress99999999"
HOT_ADDRESS = "TTestHotWa11etFakeAddress888888888"

POLICY_TOML = f"""
quarantine_hours = 0
allow_trading_key = false
allow_unrestricted_ip = false

[limits]
window_hours = 24
max_transfers_per_hour = 20
max_intent_age_seconds = 300
min_seconds_between_withdrawals = 0
poll_interval_seconds = 6
stuck_after_minutes = 60

[limits.coins.USDT]
max_per_transfer = "1000"
window_cap = "5000"
approval_above = "800"

[executor]
reconcile_grace_seconds = 2
reconcile_deadline_minutes = 5

[[destination]]
label = "cold-wallet"
coin = "USDT"
network = "TRX"
address = "{COLD_ADDRESS}"
max_per_transfer = "900"

[[destination]]
label = "hot-wallet"
coin = "USDT"
network = "TRX"
address = "{HOT_ADDRESS}"
clients = ["other"]
"""

TRX_RULE = NetworkRule(coin="USDT", network="TRX", withdraw_enable=True, withdraw_min=Decimal("10"),
                       withdraw_max=Decimal("100000"), withdraw_multiple=Decimal("0.000001"),
                       address_regex=r"^T[1-9A-HJ-NP-Za-km-z]{33}$", memo_regex="")
COIN_RULES = {("USDT", "TRX"): TRX_RULE}


@dataclass(frozen=True)
class CurveFiles:
    folder: Path
    treasury_secret: Path
    treasury_public: Path
    clients_dir: Path
    client_secrets: dict[str, Path]

    def keys(self, name: str) -> KeyPair:
        return load_key_pair(self.client_secrets[name], name)

    @property
    def server_public(self) -> bytes:
        return load_public_key(self.treasury_public, "treasury")


def make_curve(folder: Path, authorized=("signal", "other"), unlisted=("intruder",)) -> CurveFiles:
    """A treasury key pair, client pairs in `authorized` (allow-listed) and `unlisted`."""
    keys_dir = folder / "keys"
    clients_dir = folder / "authorized_clients"
    clients_dir.mkdir(parents=True, exist_ok=True)
    public, secret = generate(keys_dir, "treasury")
    secrets = {}
    for name in (*authorized, *unlisted):
        client_public, client_secret = generate(keys_dir, name)
        secrets[name] = client_secret
        if name in authorized:
            (clients_dir / client_public.name).write_bytes(client_public.read_bytes())
    return CurveFiles(folder, secret, public, clients_dir, secrets)


def policy(text: str = POLICY_TOML) -> Policy:
    return parse_policy(text)


def open_ledger(path: Path) -> Ledger:
    return Ledger(path)


class InProcessServer:
    """The real IntentServer on real CURVE sockets, in a thread, with a real ledger file."""

    def __init__(self, tmp: Path, curve: CurveFiles, the_policy: Policy, *,
                 coin_rules=None, usable_from=None, clock: Clock | None = None) -> None:
        self.curve = curve
        self.ledger_path = tmp / "ledger.sqlite"
        self.intent_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.event_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.policy = the_policy
        self.coin_rules = COIN_RULES if coin_rules is None else coin_rules
        self.usable_from = usable_from if usable_from is not None else {
            d.label: 0 for d in the_policy.destinations}
        self.clock = clock or SystemClock()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        context = zmq.Context()
        auth = None
        server = None
        ledger = None
        try:
            ledger = open_ledger(self.ledger_path)
            auth = Authenticator(context, str(self.curve.clients_dir)).start()
            server = IntentServer(
                context=context, keys=load_key_pair(self.curve.treasury_secret, "treasury"),
                clients=load_authorized_clients(self.curve.clients_dir),
                intent_endpoint=self.intent_endpoint, event_endpoint=self.event_endpoint,
                ledger=ledger, context_for_decisions=lambda: DecisionContext(
                    self.policy, self.coin_rules, self.usable_from, self.clock.now_ms()),
                clock=self.clock).open()
            self.ready.set()
            server.serve(self.stop)
        except BaseException as exc:  # surfaced to the test by `start`
            self.error = exc
            self.ready.set()
        finally:
            if server is not None:
                server.close()
            if auth is not None:
                auth.stop()
            context.destroy(linger=0)
            if ledger is not None:
                ledger.close()

    def start(self) -> "InProcessServer":
        self.thread.start()
        wait_until(self.ready.is_set, timeout=10, what="in-process treasury server")
        if self.error is not None:
            raise self.error
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)

    def client(self, name: str, *, timeout: float = 2.0, retries: int = 2) -> IntentClient:
        return IntentClient(self.intent_endpoint, self.curve.keys(name), self.curve.server_public,
                            timeout=timeout, retries=retries)
